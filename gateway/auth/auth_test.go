package auth

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// headers returns a get func over h, case-insensitive as fasthttp's Peek is.
func headers(h map[string]string) func(string) []byte {
	c := make(map[string][]byte, len(h))
	for k, v := range h {
		c[http.CanonicalHeaderKey(k)] = []byte(v)
	}
	return func(name string) []byte { return c[http.CanonicalHeaderKey(name)] }
}

const (
	testKeyA   = "xj_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	testKeyB   = "xj_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	testAdmin  = "xj_adminadminadminadminadminadminadminadminad"
	testSecret = "0123456789abcdef0123456789abcdef-hs256-test-secret"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func keyConfig() Config {
	return Config{
		APIKeys: []APIKey{
			{Name: "shop-a", Tenant: "tenant-a", Hash: HashKey(testKeyA)},
			{Name: "shop-b-agent7", Tenant: "tenant-b", Agent: "agent-7", Hash: HashKey(testKeyB)},
		},
		AdminKeys: []APIKey{{Name: "ops", Hash: HashKey(testAdmin)}},
	}
}

func mustNew(t testing.TB, cfg Config) *Authenticator {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// assertNoSecret fails if err's text contains any of secrets (or, for a
// JWT, any of its three parts).
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		parts := []string{s}
		if strings.Count(s, ".") == 2 {
			parts = append(parts, strings.Split(s, ".")...)
		}
		for _, p := range parts {
			if len(p) >= 8 && strings.Contains(msg, p) {
				t.Errorf("error %q contains presented secret %q", msg, p)
			}
		}
	}
}

func TestAPIKey(t *testing.T) {
	a := mustNew(t, keyConfig())
	tests := []struct {
		name    string
		h       map[string]string
		want    Principal
		wantErr error
	}{
		{"x-api-key", map[string]string{"X-API-Key": testKeyA}, Principal{Tenant: "tenant-a", Subject: "shop-a", Method: MethodAPIKey, Scopes: ScopeAgent, Credential: "key:shop-a"}, nil},
		{"x-api-key lowercase header, padded", map[string]string{"x-api-key": "  " + testKeyB + " "}, Principal{Tenant: "tenant-b", Agent: "agent-7", Subject: "shop-b-agent7", Method: MethodAPIKey, Scopes: ScopeAgent, Credential: "key:shop-b-agent7"}, nil},
		{"bearer", map[string]string{"Authorization": "Bearer " + testKeyA}, Principal{Tenant: "tenant-a", Subject: "shop-a", Method: MethodAPIKey, Scopes: ScopeAgent, Credential: "key:shop-a"}, nil},
		{"bearer scheme case-insensitive", map[string]string{"Authorization": "bEaReR \t" + testKeyB}, Principal{Tenant: "tenant-b", Agent: "agent-7", Subject: "shop-b-agent7", Method: MethodAPIKey, Scopes: ScopeAgent, Credential: "key:shop-b-agent7"}, nil},
		{"x-api-key wins, authorization left for upstream", map[string]string{"X-API-Key": testKeyA, "Authorization": "Basic dXNlcjpwYXNz"}, Principal{Tenant: "tenant-a", Subject: "shop-a", Method: MethodAPIKey, Scopes: ScopeAgent, Credential: "key:shop-a"}, nil},
		{"no headers", nil, Principal{}, ErrNoCredential},
		{"empty authorization", map[string]string{"Authorization": ""}, Principal{}, ErrNoCredential},
		{"unknown key", map[string]string{"X-API-Key": "xj_unknownunknownunknownunknownunknownunknownu"}, Principal{}, ErrBadCredential},
		{"unknown bearer key", map[string]string{"Authorization": "Bearer xj_unknownunknownunknownunknownunknownunknownu"}, Principal{}, ErrBadCredential},
		{"admin key is not an agent key", map[string]string{"X-API-Key": testAdmin}, Principal{}, ErrBadCredential},
		{"key with a suffix", map[string]string{"X-API-Key": testKeyA + "x"}, Principal{}, ErrBadCredential},
		{"empty x-api-key", map[string]string{"X-API-Key": "  "}, Principal{}, ErrBadCredential},
		{"basic scheme", map[string]string{"Authorization": "Basic " + testKeyA}, Principal{}, ErrBadCredential},
		{"raw key without scheme", map[string]string{"Authorization": testKeyA}, Principal{}, ErrBadCredential},
		{"bearer glued to key", map[string]string{"Authorization": "Bearer" + testKeyA}, Principal{}, ErrBadCredential},
		{"bearer without token", map[string]string{"Authorization": "Bearer "}, Principal{}, ErrBadCredential},
		{"bearer alone", map[string]string{"Authorization": "Bearer"}, Principal{}, ErrBadCredential},
		{"too long key", map[string]string{"X-API-Key": strings.Repeat("k", maxKeyLen+1)}, Principal{}, ErrBadCredential},
		{"jwt-shaped but no jwt configured", map[string]string{"Authorization": "Bearer aaaaaaaaa.bbbbbbbbb.ccccccccc"}, Principal{}, ErrBadCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Authenticate(headers(tt.h), testNow)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("principal = %+v, want %+v", got, tt.want)
			}
			var presented []string
			for _, v := range tt.h {
				presented = append(presented, strings.TrimSpace(strings.TrimPrefix(v, "Bearer ")))
			}
			assertNoSecret(t, err, presented...)
		})
	}
}

func TestAuthenticateAdmin(t *testing.T) {
	a := mustNew(t, keyConfig())
	tests := []struct {
		name    string
		h       map[string]string
		want    Principal
		wantErr error
	}{
		{"admin key", map[string]string{"X-API-Key": testAdmin}, Principal{Subject: "ops", Method: MethodAdminKey, Scopes: ScopeAgent, Credential: "key:ops"}, nil},
		{"admin key as bearer", map[string]string{"Authorization": "Bearer " + testAdmin}, Principal{Subject: "ops", Method: MethodAdminKey, Scopes: ScopeAgent, Credential: "key:ops"}, nil},
		{"agent key refused", map[string]string{"X-API-Key": testKeyA}, Principal{}, ErrBadCredential},
		{"jwt refused", map[string]string{"Authorization": "Bearer aaaa.bbbb.cccc"}, Principal{}, ErrBadCredential},
		{"nothing", nil, Principal{}, ErrNoCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.AuthenticateAdmin(headers(tt.h), testNow)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("principal = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDevMode(t *testing.T) {
	a := mustNew(t, Config{})
	if a.Enabled() || a.AdminEnabled() {
		t.Fatalf("Enabled() = %v, AdminEnabled() = %v on zero Config, want false", a.Enabled(), a.AdminEnabled())
	}
	p, err := a.Authenticate(headers(map[string]string{"X-API-Key": "anything"}), testNow)
	if err != nil || p != (Principal{Tenant: DevTenant, Method: MethodNone, Scopes: AllScopes}) {
		t.Errorf("Authenticate in dev mode = %+v, %v", p, err)
	}
	p, err = a.AuthenticateAdmin(headers(nil), testNow)
	if err != nil || p.Method != MethodNone {
		t.Errorf("AuthenticateAdmin without admin keys = %+v, %v", p, err)
	}

	// Admin keys alone do not take the agent port out of dev mode, and
	// agent keys alone leave the admin port open.
	if a := mustNew(t, Config{AdminKeys: keyConfig().AdminKeys}); a.Enabled() || !a.AdminEnabled() {
		t.Errorf("admin keys only: Enabled() = %v, AdminEnabled() = %v", a.Enabled(), a.AdminEnabled())
	}
	if a := mustNew(t, Config{APIKeys: keyConfig().APIKeys}); !a.Enabled() || a.AdminEnabled() {
		t.Errorf("agent keys only: Enabled() = %v, AdminEnabled() = %v", a.Enabled(), a.AdminEnabled())
	}
}

func TestHashAndGenerateKey(t *testing.T) {
	// Known vector: SHA-256("abc").
	if got, want := HashKey("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashKey(abc) = %s, want %s", got, want)
	}
	seen := map[string]bool{}
	for range 100 {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k, KeyPrefix) || len(k) != len(KeyPrefix)+43 {
			t.Fatalf("GenerateKey() = %q: want %q + 43 base64url chars", k, KeyPrefix)
		}
		if _, err := base64.RawURLEncoding.DecodeString(k[len(KeyPrefix):]); err != nil {
			t.Fatalf("GenerateKey() = %q: not base64url: %v", k, err)
		}
		if seen[k] {
			t.Fatalf("GenerateKey() repeated %q", k)
		}
		seen[k] = true
		if _, err := parseHash(HashKey(k)); err != nil {
			t.Fatalf("parseHash(HashKey(k)): %v", err)
		}
	}
	// A generated key round-trips through the config form.
	k, _ := GenerateKey()
	a := mustNew(t, Config{APIKeys: []APIKey{{Tenant: "t", Hash: HashKey(k)}}})
	if p, err := a.Authenticate(headers(map[string]string{"X-API-Key": k}), testNow); err != nil || p.Tenant != "t" {
		t.Errorf("generated key: %+v, %v", p, err)
	}
}

// --- JWT helpers: tokens are built with the standard library, not with
// jwx, so the tests do not share the code under test.

var (
	rsaKey1 = sync.OnceValue(func() *rsa.PrivateKey { return genRSA(2048) })
	rsaKey2 = sync.OnceValue(func() *rsa.PrivateKey { return genRSA(2048) })
)

func genRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

// signHS builds an HMAC-SHA256-signed token with header hdr and claims.
func signHS(t testing.TB, hdr, claims map[string]any, secret []byte) string {
	t.Helper()
	in := b64JSON(t, hdr) + "." + b64JSON(t, claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + b64(m.Sum(nil))
}

// signRS builds an RSASSA-PKCS1-v1_5 SHA-256 (RS256) token.
func signRS(t testing.TB, hdr, claims map[string]any, k *rsa.PrivateKey) string {
	t.Helper()
	in := b64JSON(t, hdr) + "." + b64JSON(t, claims)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(sig)
}

// jwk returns the public JWK of k.
func jwkOf(k *rsa.PrivateKey, kid string) map[string]any {
	m := map[string]any{
		"kty": "RSA", "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()),
		"e": b64(big.NewInt(int64(k.E)).Bytes()),
	}
	if kid != "" {
		m["kid"] = kid
	}
	return m
}

// writeJWKS writes a JWKS with keys to a temp file and returns its path.
func writeJWKS(t testing.TB, keys ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func claims(mods ...func(map[string]any)) map[string]any {
	c := map[string]any{
		"sub":    "agent-42",
		"tenant": "tenant-j",
		"iss":    "https://idp.example",
		"aud":    "xunjian",
		"iat":    testNow.Add(-time.Minute).Unix(),
		"exp":    testNow.Add(time.Hour).Unix(),
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func set(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
func del(k string) func(map[string]any)        { return func(c map[string]any) { delete(c, k) } }

var hsHdr = map[string]any{"alg": "HS256", "typ": "JWT"}

func TestJWTHS256(t *testing.T) {
	a := mustNew(t, Config{JWT: &JWTConfig{
		HS256Secret: []byte(testSecret),
		Issuer:      "https://idp.example",
		Audience:    "xunjian",
	}})
	sec := []byte(testSecret)
	okP := Principal{Tenant: "tenant-j", Agent: "agent-42", Subject: "agent-42", Method: MethodJWT, Scopes: ScopeAgent, Credential: "jwt:agent-42"}
	tests := []struct {
		name    string
		tok     string
		want    Principal
		wantErr string // substring of the reason; "" means success
	}{
		{"valid", signHS(t, hsHdr, claims(), sec), okP, ""},
		{"aud as array", signHS(t, hsHdr, claims(set("aud", []string{"other", "xunjian"})), sec), okP, ""},
		{"no sub: agent and subject empty", signHS(t, hsHdr, claims(del("sub")), sec), Principal{Tenant: "tenant-j", Method: MethodJWT, Scopes: ScopeAgent, Credential: "jwt:"}, ""},
		{"expired within leeway", signHS(t, hsHdr, claims(set("exp", testNow.Add(-10*time.Second).Unix())), sec), okP, ""},
		{"expired", signHS(t, hsHdr, claims(set("exp", testNow.Add(-time.Minute).Unix())), sec), Principal{}, reasonExpired},
		{"no exp", signHS(t, hsHdr, claims(del("exp")), sec), Principal{}, reasonMissing},
		{"not yet valid", signHS(t, hsHdr, claims(set("nbf", testNow.Add(time.Minute).Unix())), sec), Principal{}, reasonNotYet},
		{"nbf within leeway", signHS(t, hsHdr, claims(set("nbf", testNow.Add(10*time.Second).Unix())), sec), okP, ""},
		{"wrong secret", signHS(t, hsHdr, claims(), []byte(strings.Repeat("x", 40))), Principal{}, reasonSignature},
		{"wrong issuer", signHS(t, hsHdr, claims(set("iss", "https://evil.example")), sec), Principal{}, reasonIssuer},
		{"no issuer", signHS(t, hsHdr, claims(del("iss")), sec), Principal{}, "jwt:"},
		{"wrong audience", signHS(t, hsHdr, claims(set("aud", "someone-else")), sec), Principal{}, reasonAudience},
		{"missing tenant claim", signHS(t, hsHdr, claims(del("tenant")), sec), Principal{}, reasonNoTenant},
		{"empty tenant claim", signHS(t, hsHdr, claims(set("tenant", "")), sec), Principal{}, reasonNoTenant},
		{"numeric tenant claim", signHS(t, hsHdr, claims(set("tenant", 7)), sec), Principal{}, reasonTenantClaim},
		{"HS512 with the same secret", signHS(t, map[string]any{"alg": "HS512"}, claims(), sec), Principal{}, reasonAlg},
		{"alg none", b64JSON(t, map[string]any{"alg": "none"}) + "." + b64JSON(t, claims()) + ".", Principal{}, "jwt:"},
		{"alg none with signature", b64JSON(t, map[string]any{"alg": "none"}) + "." + b64JSON(t, claims()) + ".c2lnbmF0dXJl", Principal{}, reasonAlg},
		{"crit header", signHS(t, map[string]any{"alg": "HS256", "crit": []string{"exp"}, "exp": 1}, claims(), sec), Principal{}, reasonCrit},
		{"b64 header", signHS(t, map[string]any{"alg": "HS256", "b64": true}, claims(), sec), Principal{}, reasonCrit},
		{"no alg", signHS(t, map[string]any{"typ": "JWT"}, claims(), sec), Principal{}, "jwt:"},
		{"RS256 header but RS256 not configured", signRS(t, map[string]any{"alg": "RS256"}, claims(), rsaKey1()), Principal{}, reasonRSDisabled},
		{"tampered payload", func() string {
			tok := signHS(t, hsHdr, claims(), sec)
			p := strings.Split(tok, ".")
			return p[0] + "." + b64JSON(t, claims(set("tenant", "tenant-other"))) + "." + p[2]
		}(), Principal{}, reasonSignature},
		{"not base64url", "abc$def.ghi.jkl", Principal{}, reasonMalformed},
		{"garbage parts", "aaaa.bbbb.cccc", Principal{}, "jwt:"},
		{"too long", strings.Repeat("a", maxTokenLen) + ".b.c", Principal{}, reasonTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Authenticate(headers(map[string]string{"Authorization": "Bearer " + tt.tok}), testNow)
			checkJWT(t, got, err, tt.want, tt.wantErr, tt.tok)
		})
	}
}

func checkJWT(t *testing.T, got Principal, err error, want Principal, wantErr, tok string) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("err = %v, want success", err)
		}
	} else {
		if !errors.Is(err, ErrBadCredential) {
			t.Fatalf("err = %v, want ErrBadCredential", err)
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Errorf("err = %q, want it to contain %q", err, wantErr)
		}
	}
	if got != want {
		t.Errorf("principal = %+v, want %+v", got, want)
	}
	assertNoSecret(t, err, tok, testSecret)
}

func TestJWTCustomClaimsAndLeeway(t *testing.T) {
	a := mustNew(t, Config{JWT: &JWTConfig{
		HS256Secret: []byte(testSecret),
		TenantClaim: "org",
		AgentClaim:  "agent_id",
		Leeway:      -1, // none
	}})
	sec := []byte(testSecret)
	c := claims(del("tenant"), set("org", "org-9"), set("agent_id", "a-1"))
	got, err := a.Authenticate(headers(map[string]string{"Authorization": "Bearer " + signHS(t, hsHdr, c, sec)}), testNow)
	checkJWT(t, got, err, Principal{Tenant: "org-9", Agent: "a-1", Subject: "agent-42", Method: MethodJWT, Scopes: ScopeAgent, Credential: "jwt:agent-42"}, "", "")

	// No issuer/audience configured: any iss/aud passes.
	c2 := claims(del("tenant"), set("org", "org-9"), set("iss", "x"), set("aud", "y"), set("agent_id", 5))
	_, err = a.Authenticate(headers(map[string]string{"Authorization": "Bearer " + signHS(t, hsHdr, c2, sec)}), testNow)
	checkJWT(t, Principal{}, err, Principal{}, reasonAgentClaim, "")

	// Leeway disabled: one second past exp fails.
	c3 := claims(del("tenant"), set("org", "org-9"), set("exp", testNow.Add(-time.Second).Unix()))
	_, err = a.Authenticate(headers(map[string]string{"Authorization": "Bearer " + signHS(t, hsHdr, c3, sec)}), testNow)
	checkJWT(t, Principal{}, err, Principal{}, reasonExpired, "")
}

func TestJWTRS256(t *testing.T) {
	k1, k2 := rsaKey1(), rsaKey2()
	multi := mustNew(t, Config{JWT: &JWTConfig{JWKSFile: writeJWKS(t, jwkOf(k1, "k1"), jwkOf(k2, "k2"))}})
	single := mustNew(t, Config{JWT: &JWTConfig{JWKSFile: writeJWKS(t, jwkOf(k1, ""))}})
	both := mustNew(t, Config{JWT: &JWTConfig{HS256Secret: []byte(testSecret), JWKSFile: writeJWKS(t, jwkOf(k1, "k1"))}})

	pubDER, err := x509.MarshalPKIXPublicKey(&k1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	okP := Principal{Tenant: "tenant-j", Agent: "agent-42", Subject: "agent-42", Method: MethodJWT, Scopes: ScopeAgent, Credential: "jwt:agent-42"}
	rs := func(kid string) map[string]any {
		h := map[string]any{"alg": "RS256", "typ": "JWT"}
		if kid != "" {
			h["kid"] = kid
		}
		return h
	}
	tests := []struct {
		name    string
		a       *Authenticator
		tok     string
		want    Principal
		wantErr string
	}{
		{"kid k1", multi, signRS(t, rs("k1"), claims(), k1), okP, ""},
		{"kid k2", multi, signRS(t, rs("k2"), claims(), k2), okP, ""},
		{"kid k1 signed by k2", multi, signRS(t, rs("k1"), claims(), k2), Principal{}, reasonSignature},
		{"unknown kid", multi, signRS(t, rs("k3"), claims(), k1), Principal{}, reasonUnknownKID},
		{"no kid, several keys", multi, signRS(t, rs(""), claims(), k1), Principal{}, reasonNoKID},
		{"no kid, one key", single, signRS(t, rs(""), claims(), k1), okP, ""},
		{"kid given, single key without kid", single, signRS(t, rs("k1"), claims(), k1), Principal{}, reasonUnknownKID},
		{"expired", multi, signRS(t, rs("k1"), claims(set("exp", testNow.Add(-time.Hour).Unix())), k1), Principal{}, reasonExpired},
		{"missing tenant", multi, signRS(t, rs("k1"), claims(del("tenant")), k1), Principal{}, reasonNoTenant},
		// Algorithm confusion: an attacker signs HS256 with the RSA public
		// key (PEM, DER or JWK modulus) as the HMAC secret.
		{"alg confusion PEM, RS256 only", multi, signHS(t, map[string]any{"alg": "HS256", "kid": "k1"}, claims(), pubPEM), Principal{}, reasonHSDisabled},
		{"alg confusion DER, RS256 only", single, signHS(t, map[string]any{"alg": "HS256"}, claims(), pubDER), Principal{}, reasonHSDisabled},
		{"alg confusion PEM, both configured", both, signHS(t, map[string]any{"alg": "HS256", "kid": "k1"}, claims(), pubPEM), Principal{}, reasonSignature},
		{"alg confusion modulus, both configured", both, signHS(t, map[string]any{"alg": "HS256", "kid": "k1"}, claims(), k1.N.Bytes()), Principal{}, reasonSignature},
		{"RS384 header", multi, signRS(t, map[string]any{"alg": "RS384", "kid": "k1"}, claims(), k1), Principal{}, reasonAlg},
		{"PS256 header", multi, signRS(t, map[string]any{"alg": "PS256", "kid": "k1"}, claims(), k1), Principal{}, reasonAlg},
		{"both configured: HS256 ok", both, signHS(t, hsHdr, claims(), []byte(testSecret)), okP, ""},
		{"both configured: RS256 ok", both, signRS(t, rs("k1"), claims(), k1), okP, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.Authenticate(headers(map[string]string{"Authorization": "Bearer " + tt.tok}), testNow)
			checkJWT(t, got, err, tt.want, tt.wantErr, tt.tok)
		})
	}
}

func TestJWTAndKeysTogether(t *testing.T) {
	cfg := keyConfig()
	cfg.JWT = &JWTConfig{HS256Secret: []byte(testSecret)}
	a := mustNew(t, cfg)
	p, err := a.Authenticate(headers(map[string]string{"X-API-Key": testKeyA}), testNow)
	if err != nil || p.Method != MethodAPIKey {
		t.Errorf("api key: %+v, %v", p, err)
	}
	p, err = a.Authenticate(headers(map[string]string{"Authorization": "Bearer " + signHS(t, hsHdr, claims(), []byte(testSecret))}), testNow)
	if err != nil || p.Method != MethodJWT || p.Tenant != "tenant-j" {
		t.Errorf("jwt: %+v, %v", p, err)
	}
}

func TestNewValidation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k1 := rsaKey1()
	small := genRSA(1024)
	jwksJSON := func(keys ...map[string]any) string {
		b, _ := json.Marshal(map[string]any{"keys": keys})
		return string(b)
	}
	private := jwkOf(k1, "p")
	private["d"] = b64(k1.D.Bytes())
	private["p"] = b64(k1.Primes[0].Bytes())
	private["q"] = b64(k1.Primes[1].Bytes())
	ecKey := map[string]any{"kty": "EC", "crv": "P-256", "kid": "ec",
		"x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
	rs512 := jwkOf(k1, "r")
	rs512["alg"] = "RS512"
	enc := jwkOf(k1, "e")
	enc["use"] = "enc"

	good := HashKey(testKeyA)
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" means valid
	}{
		{"zero config", Config{}, ""},
		{"good keys", keyConfig(), ""},
		{"hash without prefix", Config{APIKeys: []APIKey{{Tenant: "t", Hash: good}, {Tenant: "t", Hash: strings.TrimPrefix(HashKey(testKeyB), "sha256:")}}}, "auth.api_keys[1].hash:"},
		{"hash too short", Config{APIKeys: []APIKey{{Tenant: "t", Hash: "sha256:abcd"}}}, "auth.api_keys[0].hash:"},
		{"hash not hex", Config{APIKeys: []APIKey{{Tenant: "t", Hash: "sha256:" + strings.Repeat("zz", 32)}}}, "auth.api_keys[0].hash: not hexadecimal"},
		{"plain key in hash field", Config{APIKeys: []APIKey{{Tenant: "t", Hash: testKeyA}}}, "auth.api_keys[0].hash:"},
		{"missing tenant", Config{APIKeys: []APIKey{{Tenant: "t", Hash: good}, {Name: "x", Hash: HashKey(testKeyB)}}}, "auth.api_keys[1].tenant: required"},
		{"duplicate key", Config{APIKeys: []APIKey{{Tenant: "t", Hash: good}, {Tenant: "u", Hash: good}}}, "auth.api_keys[1].hash: same key"},
		{"admin hash bad", Config{AdminKeys: []APIKey{{Hash: "md5:x"}}}, "auth.admin_keys[0].hash:"},
		{"admin key equals agent key", Config{APIKeys: []APIKey{{Tenant: "t", Hash: good}}, AdminKeys: []APIKey{{Hash: good}}}, "auth.admin_keys[0].hash: same key as an agent"},
		{"admin key without tenant is fine", Config{AdminKeys: []APIKey{{Hash: good}}}, ""},
		{"empty jwt section", Config{JWT: &JWTConfig{}}, "auth.jwt: set hs256_secret or jwks_file"},
		{"short secret", Config{JWT: &JWTConfig{HS256Secret: []byte("short")}}, "auth.jwt.hs256_secret: want at least 32 bytes, got 5"},
		{"missing jwks file", Config{JWT: &JWTConfig{JWKSFile: filepath.Join(dir, "nope.json")}}, "auth.jwt.jwks_file:"},
		{"jwks not json", Config{JWT: &JWTConfig{JWKSFile: write("bad.json", "{not json")}}, "auth.jwt.jwks_file:"},
		{"jwks no keys", Config{JWT: &JWTConfig{JWKSFile: write("empty.json", `{"keys":[]}`)}}, "auth.jwt.jwks_file: "},
		{"jwks only unusable keys", Config{JWT: &JWTConfig{JWKSFile: write("ec.json", jwksJSON(ecKey, rs512, enc))}}, "no RS256 signing key"},
		{"jwks unusable keys skipped", Config{JWT: &JWTConfig{JWKSFile: write("mixed.json", jwksJSON(ecKey, rs512, jwkOf(k1, "k1")))}}, ""},
		{"jwks private key", Config{JWT: &JWTConfig{JWKSFile: write("priv.json", jwksJSON(private))}}, "is a private key"},
		{"jwks small key", Config{JWT: &JWTConfig{JWKSFile: write("small.json", jwksJSON(jwkOf(small, "s")))}}, "1024"},
		{"jwks several keys, one without kid", Config{JWT: &JWTConfig{JWKSFile: write("nokid.json", jwksJSON(jwkOf(k1, "a"), jwkOf(rsaKey2(), "")))}}, "every key needs a kid"},
		{"several errors reported together", Config{
			APIKeys: []APIKey{{Hash: good}},
			JWT:     &JWTConfig{HS256Secret: []byte("short")},
		}, "auth.api_keys[0].tenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil || a == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %q, want it to contain %q", err, tt.want)
			}
			assertNoSecret(t, err, testKeyA, "short", string(k1.D.Bytes()))
		})
	}

	// All faults are reported, not just the first.
	_, err := New(Config{APIKeys: []APIKey{{Hash: good}}, JWT: &JWTConfig{HS256Secret: []byte("short")}})
	if err == nil || !strings.Contains(err.Error(), "auth.jwt.hs256_secret") {
		t.Errorf("New: %v, want both the tenant and the secret errors", err)
	}
}

// The Config's secret slice is copied: changing it after New changes nothing.
func TestSecretCopied(t *testing.T) {
	sec := []byte(testSecret)
	a := mustNew(t, Config{JWT: &JWTConfig{HS256Secret: sec}})
	tok := signHS(t, hsHdr, claims(), []byte(testSecret))
	for i := range sec {
		sec[i] = 'x'
	}
	if _, err := a.Authenticate(headers(map[string]string{"Authorization": "Bearer " + tok}), testNow); err != nil {
		t.Errorf("after mutating the config secret: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	cfg := keyConfig()
	cfg.JWT = &JWTConfig{HS256Secret: []byte(testSecret)}
	a := mustNew(t, cfg)
	tok := signHS(t, hsHdr, claims(), []byte(testSecret))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				h := map[string]string{"X-API-Key": testKeyA}
				if i%2 == 1 {
					h = map[string]string{"Authorization": "Bearer " + tok}
				}
				if _, err := a.Authenticate(headers(h), testNow); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestVerifiedTokenCache: a token that verified once is served from the
// cache while it is valid, and refused once it has expired even though it
// is still remembered; a tampered copy is never served from the cache.
func TestVerifiedTokenCache(t *testing.T) {
	a := mustNew(t, Config{JWT: &JWTConfig{HS256Secret: []byte(testSecret)}})
	defer a.Close()
	tok := signHS(t, hsHdr, claims(), []byte(testSecret))
	get := headers(map[string]string{"Authorization": "Bearer " + tok})
	first, err := a.Authenticate(get, testNow)
	if err != nil {
		t.Fatal(err)
	}
	a.jwt.verified.Wait()
	if _, ok := a.jwt.cached([]byte(tok), testNow); !ok {
		t.Fatal("a verified token was not remembered")
	}
	if again, err := a.Authenticate(get, testNow.Add(time.Minute)); err != nil || again != first {
		t.Errorf("cached: %+v %v, want %+v", again, err, first)
	}
	if _, err := a.Authenticate(get, testNow.Add(time.Hour+DefaultLeeway+time.Second)); err == nil {
		t.Error("a remembered token was accepted after it expired")
	}
	tampered := tok[:len(tok)-2] + "AA"
	if _, err := a.Authenticate(headers(map[string]string{"Authorization": "Bearer " + tampered}), testNow); err == nil {
		t.Error("a tampered token was accepted")
	}
}

func TestKeyScopes(t *testing.T) {
	keyC, keyD := "xj_backendbackendbackendbackendbackendbackend01", "xj_customercustomercustomercustomercustomercus"
	a := mustNew(t, Config{APIKeys: []APIKey{
		{Name: "agent-desk", Tenant: "t", Hash: HashKey(testKeyA)},
		{Name: "backend", Tenant: "t", Scopes: []string{"agent", "customer", "lifecycle"}, Hash: HashKey(keyC)},
		{Tenant: "t", Scopes: []string{"customer"}, Hash: HashKey(keyD)},
	}})
	for _, tc := range []struct {
		key                        string
		agent, customer, lifecycle bool
		credential                 string
	}{
		{testKeyA, true, false, false, "key:agent-desk"},
		{keyC, true, true, true, "key:backend"},
		{keyD, false, true, false, "key:" + HashKey(keyD)[len("sha256:"):len("sha256:")+12]},
	} {
		p, err := a.Authenticate(headers(map[string]string{"X-API-Key": tc.key}), testNow)
		if err != nil {
			t.Fatal(err)
		}
		if p.Scopes.Has(ScopeAgent) != tc.agent || p.Scopes.Has(ScopeCustomer) != tc.customer || p.Scopes.Has(ScopeLifecycle) != tc.lifecycle {
			t.Errorf("%s: scopes %q, want agent=%v customer=%v lifecycle=%v", p.Credential, p.Scopes, tc.agent, tc.customer, tc.lifecycle)
		}
		if p.Credential != tc.credential {
			t.Errorf("credential %q, want %q", p.Credential, tc.credential)
		}
	}
	if _, err := New(Config{APIKeys: []APIKey{{Tenant: "t", Scopes: []string{"custmer"}, Hash: HashKey(testKeyA)}}}); err == nil ||
		!strings.Contains(err.Error(), `auth.api_keys[0].scopes: scope "custmer"`) {
		t.Errorf("typo in a scope: err = %v, want it named", err)
	}
}

func TestJWTScopes(t *testing.T) {
	sec := []byte(testSecret)
	a := mustNew(t, Config{JWT: &JWTConfig{HS256Secret: sec}})
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   Scopes
		reason string
	}{
		{"absent: agent only", claims(), ScopeAgent, ""},
		{"array", claims(set("xunjian_scopes", []string{"customer", "lifecycle"})), ScopeCustomer | ScopeLifecycle, ""},
		{"space-separated, foreign names ignored", claims(set("xunjian_scopes", "openid agent customer profile")), ScopeAgent | ScopeCustomer, ""},
		{"only foreign names: nothing", claims(set("xunjian_scopes", "openid")), 0, ""},
		{"number", claims(set("xunjian_scopes", 7)), 0, reasonScopesClaim},
		{"array of numbers", claims(set("xunjian_scopes", []int{1})), 0, reasonScopesClaim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(headers(map[string]string{"Authorization": "Bearer " + signHS(t, hsHdr, tc.claims, sec)}), testNow)
			if tc.reason != "" {
				if err == nil || !strings.Contains(err.Error(), tc.reason) {
					t.Fatalf("err = %v, want %q", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Scopes != tc.want {
				t.Errorf("scopes %q, want %q", p.Scopes, tc.want)
			}
		})
	}
}
