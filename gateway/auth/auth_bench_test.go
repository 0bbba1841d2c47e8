package auth

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// fasthttpGet returns a get func over a fasthttp request header, as the
// server will call Authenticate.
func fasthttpGet(h map[string]string) func(string) []byte {
	var req fasthttp.Request
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return req.Header.Peek
}

// API key authentication is on the hot path of every request: it must not
// allocate, on success or on a bad key.
func TestAPIKeyZeroAlloc(t *testing.T) {
	a := mustNew(t, keyConfig())
	cases := map[string]func(string) []byte{
		"x-api-key":   fasthttpGet(map[string]string{"X-API-Key": testKeyA}),
		"bearer":      fasthttpGet(map[string]string{"Authorization": "Bearer " + testKeyB}),
		"unknown key": fasthttpGet(map[string]string{"X-API-Key": "xj_nope"}),
		"no header":   fasthttpGet(nil),
		"basic":       fasthttpGet(map[string]string{"Authorization": "Basic abc"}),
	}
	for name, get := range cases {
		if n := testing.AllocsPerRun(100, func() { _, _ = a.Authenticate(get, testNow) }); n != 0 {
			t.Errorf("%s: %v allocs per Authenticate, want 0", name, n)
		}
	}
	admin := fasthttpGet(map[string]string{"X-API-Key": testAdmin})
	if n := testing.AllocsPerRun(100, func() { _, _ = a.AuthenticateAdmin(admin, testNow) }); n != 0 {
		t.Errorf("admin: %v allocs per AuthenticateAdmin, want 0", n)
	}
}

func BenchmarkAPIKey(b *testing.B) {
	a := mustNew(b, keyConfig())
	for _, bc := range []struct {
		name string
		h    map[string]string
	}{
		{"XAPIKey", map[string]string{"X-API-Key": testKeyA}},
		{"Bearer", map[string]string{"Authorization": "Bearer " + testKeyA}},
		{"Unknown", map[string]string{"X-API-Key": "xj_unknownunknownunknownunknownunknownunknownu"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			get := fasthttpGet(bc.h)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = a.Authenticate(get, testNow)
			}
		})
	}
}

func BenchmarkJWT(b *testing.B) {
	k1 := rsaKey1()
	a := mustNew(b, Config{JWT: &JWTConfig{
		HS256Secret: []byte(testSecret),
		JWKSFile:    writeJWKS(b, jwkOf(k1, "k1"), jwkOf(rsaKey2(), "k2")),
		Issuer:      "https://idp.example",
		Audience:    "xunjian",
	}})
	for _, bc := range []struct {
		name, tok string
	}{
		{"HS256", signHS(b, hsHdr, claims(), []byte(testSecret))},
		{"RS256", signRS(b, map[string]any{"alg": "RS256", "kid": "k1"}, claims(), k1)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			get := fasthttpGet(map[string]string{"Authorization": "Bearer " + bc.tok})
			if _, err := a.Authenticate(get, testNow); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = a.Authenticate(get, testNow)
			}
		})
	}
}
