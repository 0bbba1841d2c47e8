package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/console/api"
	"github.com/xunjian/xunjian/gateway/auth"
)

type me struct {
	Subject string   `json:"subject"`
	Tenant  string   `json:"tenant"`
	Role    string   `json:"role"`
	Teams   []string `json:"teams"`
	Dev     bool     `json:"dev"`
}

// TestCredentials tries what an attacker would present, and what a
// legitimate client does, on GET /api/me.
func TestCredentials(t *testing.T) {
	e := setup(t, testConfig(), nil)
	now := e.t0
	valid := token(t, hs256, claims(now), jwtSecret)
	parts := strings.Split(valid, ".")
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
		code   string
		want   me
	}{
		{"no credential", nil, 401, "unauthenticated", me{}},
		{"wrong key", key("xj_not-a-configured-key-000000000000000000000000"), 401, "unauthenticated", me{}},
		{"wrong bearer key", bearerHdr("xj_not-a-configured-key-000000000000000000000000"), 401, "unauthenticated", me{}},
		{"empty key", key(""), 401, "unauthenticated", me{}},
		{"basic scheme", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:admin"))}, 401, "unauthenticated", me{}},
		{"expired jwt", bearerHdr(token(t, hs256, claims(now, set("exp", now.Add(-time.Second).Unix())), jwtSecret)), 401, "unauthenticated", me{}},
		{"jwt of another secret", bearerHdr(token(t, hs256, claims(now), "another-secret-of-at-least-32-bytes-long")), 401, "unauthenticated", me{}},
		{"alg none jwt", bearerHdr(algNone), 401, "unauthenticated", me{}},
		{"unsigned jwt", bearerHdr(parts[0] + "." + parts[1] + "."), 401, "unauthenticated", me{}},
		{"tampered jwt", bearerHdr(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","tenant":"acme","xunjian_role":"admin","exp":9999999999}`)) + "." + parts[2]), 401, "unauthenticated", me{}},
		{"jwt of another issuer", bearerHdr(token(t, hs256, claims(now, set("iss", "https://evil.example")), jwtSecret)), 401, "unauthenticated", me{}},
		{"jwt of another audience", bearerHdr(token(t, hs256, claims(now, set("aud", "gateway")), jwtSecret)), 401, "unauthenticated", me{}},
		{"jwt as x-api-key", key(valid), 401, "unauthenticated", me{}},
		{"jwt without role", bearerHdr(token(t, hs256, claims(now, del("xunjian_role")), jwtSecret)), 403, "forbidden", me{}},
		{"jwt of unknown role", bearerHdr(token(t, hs256, claims(now, set("xunjian_role", "root")), jwtSecret)), 403, "forbidden", me{}},
		{"jwt without sub", bearerHdr(token(t, hs256, claims(now, del("sub")), jwtSecret)), 403, "forbidden", me{}},
		{"jwt with malformed teams", bearerHdr(token(t, hs256, claims(now, set("xunjian_teams", []any{"red", 7})), jwtSecret)), 401, "unauthenticated", me{}},
		{"valid jwt", bearerHdr(valid), 200, "", me{Subject: "li.wei", Tenant: "acme", Role: "supervisor", Teams: []string{"red"}}},
		{"jwt with teams as a string", bearerHdr(token(t, hs256, claims(now, set("xunjian_teams", "red blue")), jwtSecret)), 200, "",
			me{Subject: "li.wei", Tenant: "acme", Role: "supervisor", Teams: []string{"blue", "red"}}},
		{"jwt of another tenant", bearerHdr(token(t, hs256, claims(now, set("tenant", "globex"), set("xunjian_role", "admin")), jwtSecret)), 200, "",
			me{Subject: "li.wei", Tenant: "globex", Role: "admin", Teams: []string{"red"}}},
		{"key", key(keySupRed), 200, "", me{Subject: "sup-red", Tenant: "acme", Role: "supervisor", Teams: []string{"red"}}},
		{"bearer key", bearerHdr(keyAdminAcme), 200, "", me{Subject: "admin-acme", Tenant: "acme", Role: "admin", Teams: []string{}}},
		{"key without teams", key(keySupNone), 200, "", me{Subject: "sup-none", Tenant: "acme", Role: "supervisor", Teams: []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(req{path: "/api/me", hdr: tc.hdr})
			if tc.status != 200 {
				wantError(t, tc.name, r, tc.status, tc.code)
				if tc.status == 401 && r.hdr.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			var got me
			if r.status != 200 || json.Unmarshal(r.body, &got) != nil {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if got.Subject != tc.want.Subject || got.Tenant != tc.want.Tenant || got.Role != tc.want.Role || got.Dev ||
				!slices.Equal(got.Teams, tc.want.Teams) || got.Teams == nil {
				t.Errorf("me = %+v, want %+v", got, tc.want)
			}
		})
	}
	// A token of another tenant, even an admin's, reaches nothing of
	// acme's.
	globex := bearerHdr(token(t, hs256, claims(now, set("tenant", "globex"), set("xunjian_role", "admin")), jwtSecret))
	wantError(t, "globex token on acme's alert", e.do(req{path: "/api/alerts/" + itoa(e.alerts["ann critical"].ID), hdr: globex}), 404, "not_found")
	wantError(t, "globex token on acme's conversation", e.do(req{path: "/api/conversations/conv-ann", hdr: globex}), 404, "not_found")
	if r := e.do(req{path: "/api/alerts", hdr: globex}); r.status != 200 || strings.Contains(string(r.body), `"acme"`) || !strings.Contains(string(r.body), "globex ann") {
		t.Errorf("globex token's wall: %d %s", r.status, r.body)
	}

	// An error never echoes the credential.
	bad := "xj_secret-looking-key-that-must-not-be-echoed-00000"
	if r := e.do(req{path: "/api/me", hdr: key(bad)}); strings.Contains(string(r.body), bad) {
		t.Errorf("the error quotes the key: %s", r.body)
	}
}

// signIn posts a session with hdr and returns the session cookie.
func (e *env) signIn(hdr map[string]string) (*http.Cookie, resp) {
	e.t.Helper()
	r := e.do(req{method: http.MethodPost, path: "/api/session", hdr: hdr})
	if r.status != http.StatusOK {
		e.t.Fatalf("POST /api/session: %d %s", r.status, r.body)
	}
	res := http.Response{Header: r.hdr}
	for _, c := range res.Cookies() {
		return c, r
	}
	e.t.Fatal("POST /api/session set no cookie")
	return nil, r
}

// TestSession: signing in sets a cookie that authenticates, guarded
// against cross-site use, tampering and staleness.
func TestSession(t *testing.T) {
	e := setup(t, testConfig(), nil)
	c, r := e.signIn(key(keySupRed))
	if c.Name != "xunjian_session" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure", c)
	}
	if c.MaxAge < int((12*time.Hour-time.Minute).Seconds()) || c.MaxAge > int((12*time.Hour).Seconds()) {
		t.Errorf("cookie Max-Age %d, want 12 hours", c.MaxAge)
	}
	for _, secret := range []string{keySupRed, "sha256:", auth.HashKey(keySupRed)[7:]} {
		if strings.Contains(c.Value, secret) {
			t.Errorf("the cookie holds %q", secret)
		}
	}
	var body struct {
		me
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Subject != "sup-red" || !body.ExpiresAt.Equal(e.t0.Add(12*time.Hour)) {
		t.Errorf("session body %s: %v", r.body, err)
	}

	// The cookie authenticates reads...
	if r := e.do(req{path: "/api/me", cookie: c}); r.status != 200 || !strings.Contains(string(r.body), `"sup-red"`) {
		t.Errorf("GET /api/me with the cookie: %d %s", r.status, r.body)
	}
	// ...and state changes only with the console's header.
	id := e.alerts["ann critical"].ID
	path := "/api/alerts/" + itoa(id) + "/transition"
	body2 := `{"to":"acknowledged","version":1}`
	wantError(t, "transition by cookie without the header", e.do(req{method: "POST", path: path, body: body2, cookie: c}), 403, "forbidden")
	wantError(t, "transition by cookie with a wrong header", e.do(req{method: "POST", path: path, body: body2, cookie: c,
		hdr: map[string]string{"X-Xunjian-Console": "true"}}), 403, "forbidden")
	if r := e.do(req{method: "POST", path: path, body: body2, cookie: c, hdr: map[string]string{"X-Xunjian-Console": "1"}}); r.status != 200 {
		t.Errorf("transition by cookie with the header: %d %s", r.status, r.body)
	}

	// Tampered and forged cookies.
	payload := strings.Split(c.Value, ".")
	forge := func(claims string) string {
		return payload[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + "." + payload[2]
	}
	other := setup(t, api.Config{APIKeys: testKeys(), SessionKey: []byte("another-session-key-of-32-bytes-or-more!")}, nil)
	otherCookie, _ := other.signIn(key(keyAdminAcme))
	for name, v := range map[string]string{
		"tampered claims":         forge(`{"m":"jwt","s":"x","t":"acme","r":"admin","e":9999999999}`),
		"truncated":               c.Value[:len(c.Value)-3],
		"no signature":            payload[0] + "." + payload[1] + ".",
		"garbage":                 "not a session",
		"signed by another key":   otherCookie.Value,
		"signature of another":    payload[0] + "." + payload[1] + "." + strings.Split(otherCookie.Value, ".")[2],
		"empty":                   "",
		"jwt in the cookie":       token(t, hs256, claims(e.t0), jwtSecret),
		"api key in the cookie":   keyAdminAcme,
		"other version prefix":    "xs2" + strings.TrimPrefix(c.Value, "xs1"),
		"padded base64 signature": c.Value + "=",
	} {
		wantError(t, name, e.do(req{path: "/api/me", cookie: &http.Cookie{Name: c.Name, Value: v}}), 401, "unauthenticated")
	}

	// A header wins over the cookie; a bad header is not rescued by it.
	wantError(t, "bad key with a good cookie", e.do(req{path: "/api/me", cookie: c, hdr: key("xj_wrong")}), 401, "unauthenticated")

	// Signing in needs a credential in the headers.
	wantError(t, "sign in with the cookie only", e.do(req{method: "POST", path: "/api/session", cookie: c}), 401, "unauthenticated")
	wantError(t, "sign in with a wrong key", e.do(req{method: "POST", path: "/api/session", hdr: key("xj_wrong")}), 401, "unauthenticated")
	wantError(t, "sign in with a roleless jwt", e.do(req{method: "POST", path: "/api/session",
		hdr: bearerHdr(token(t, hs256, claims(e.t0, del("xunjian_role")), jwtSecret))}), 403, "forbidden")

	// Sign out: the header is needed with the cookie; the cookie is cleared.
	wantError(t, "sign out without the header", e.do(req{method: "DELETE", path: "/api/session", cookie: c}), 403, "forbidden")
	r = e.do(req{method: "DELETE", path: "/api/session", cookie: c, hdr: map[string]string{"X-Xunjian-Console": "1"}})
	cleared := (&http.Response{Header: r.hdr}).Cookies()
	if r.status != 204 || len(cleared) != 1 || cleared[0].Name != c.Name || cleared[0].MaxAge >= 0 || cleared[0].Value != "" {
		t.Errorf("sign out: %d, cookies %+v", r.status, cleared)
	}

	// The session expires after 12 hours.
	e.clock.Add(12*time.Hour - time.Second)
	if r := e.do(req{path: "/api/me", cookie: c}); r.status != 200 {
		t.Errorf("session before 12h: %d %s", r.status, r.body)
	}
	e.clock.Add(time.Second)
	wantError(t, "session after 12h", e.do(req{path: "/api/me", cookie: c}), 401, "unauthenticated")
}

// TestSessionOfJWT: a session never outlives its token, and holds the
// token's principal.
func TestSessionOfJWT(t *testing.T) {
	e := setup(t, testConfig(), nil)
	exp := e.t0.Add(90 * time.Minute)
	c, r := e.signIn(bearerHdr(token(t, hs256, claims(e.t0, set("exp", exp.Unix()), set("xunjian_teams", "red blue")), jwtSecret)))
	if c.MaxAge != 90*60 || !strings.Contains(string(r.body), exp.UTC().Format(time.RFC3339)) {
		t.Errorf("Max-Age %d, body %s: want the token's exp", c.MaxAge, r.body)
	}
	var got me
	if r := e.do(req{path: "/api/me", cookie: c}); r.status != 200 || json.Unmarshal(r.body, &got) != nil ||
		got.Subject != "li.wei" || got.Role != "supervisor" || !slices.Equal(got.Teams, []string{"blue", "red"}) {
		t.Errorf("GET /api/me by the jwt's session: %d %s", r.status, r.body)
	}
	e.clock.Add(90 * time.Minute)
	wantError(t, "session at the token's exp", e.do(req{path: "/api/me", cookie: c}), 401, "unauthenticated")
}

// TestSessionOfRemovedKey: once a key leaves the configuration, its
// sessions end; a changed role takes effect in the sessions at once.
func TestSessionOfRemovedKey(t *testing.T) {
	e := setup(t, testConfig(), nil)
	red, _ := e.signIn(key(keySupRed))
	admin, _ := e.signIn(key(keyAdminAcme))

	cfg := testConfig() // the same session key, sup-red removed, admin-acme made an auditor
	cfg.APIKeys = slices.DeleteFunc(cfg.APIKeys, func(k auth.APIKey) bool { return k.Name == "sup-red" })
	for i := range cfg.APIKeys {
		if cfg.APIKeys[i].Name == "admin-acme" {
			cfg.APIKeys[i].Role = "auditor"
		}
	}
	restarted := setup(t, cfg, nil)
	wantError(t, "session of a removed key", restarted.do(req{path: "/api/me", cookie: red}), 401, "unauthenticated")
	if r := restarted.do(req{path: "/api/me", cookie: admin}); r.status != 200 || !strings.Contains(string(r.body), `"auditor"`) {
		t.Errorf("session of a key made auditor: %d %s", r.status, r.body)
	}
}

// TestSecureCookie: behind TLS the cookie is Secure and __Host- prefixed.
func TestSecureCookie(t *testing.T) {
	cfg := testConfig()
	cfg.SecureCookie = true
	e := setup(t, cfg, nil)
	c, _ := e.signIn(key(keySupRed))
	if c.Name != "__Host-xunjian_session" || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie %+v", c)
	}
	if r := e.do(req{path: "/api/me", cookie: c}); r.status != 200 {
		t.Errorf("GET /api/me with the secure cookie: %d %s", r.status, r.body)
	}
	wantError(t, "the plain cookie name", e.do(req{path: "/api/me", cookie: &http.Cookie{Name: "xunjian_session", Value: c.Value}}), 401, "unauthenticated")
}

// TestDevMode: with no credential configured every request is the dev
// admin of tenant default, on loopback only.
func TestDevMode(t *testing.T) {
	e := setup(t, api.Config{}, nil)
	if !e.h.DevMode() {
		t.Fatal("DevMode() = false with no credential")
	}
	var got me
	e.get("", "/api/me", &got)
	if got.Subject != "dev" || got.Tenant != "default" || got.Role != "admin" || !got.Dev {
		t.Errorf("dev me = %+v", got)
	}
	// Any credential is ignored; the same principal.
	e.get("xj_whatever", "/api/me", &got)
	if got.Subject != "dev" {
		t.Errorf("dev me with a key = %+v", got)
	}
	// Signing in works and sets no cookie.
	if r := e.do(req{method: "POST", path: "/api/session"}); r.status != 200 || len((&http.Response{Header: r.hdr}).Cookies()) != 0 {
		t.Errorf("dev sign in: %d %v", r.status, r.hdr)
	}
	// A page in the browser cannot post to it, nor reach it by another name.
	wantError(t, "dev transition without the header", e.do(req{method: "POST", path: "/api/alerts/1/transition", body: `{"to":"resolved"}`}), 403, "forbidden")
	if r := e.do(req{method: "POST", path: "/api/alerts/1/transition", body: `{"to":"resolved"}`, hdr: map[string]string{"X-Xunjian-Console": "1"}}); r.status != 404 {
		t.Errorf("dev transition with the header: %d %s (tenant default has no alert 1)", r.status, r.body)
	}
	hr, _ := http.NewRequest("GET", e.srv.URL+"/api/me", nil)
	hr.Host = "rebound.example"
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Errorf("dev request to a non-loopback host: %d, want 403", res.StatusCode)
	}

	for _, tc := range []struct {
		addr string
		dev  bool
		ok   bool
	}{
		{"127.0.0.1:8080", true, true},
		{"[::1]:8080", true, true},
		{"localhost:8080", true, true},
		{"127.0.0.2:8080", true, true},
		{":8080", true, false},
		{"0.0.0.0:8080", true, false},
		{"[::]:8080", true, false},
		{"10.0.0.5:8080", true, false},
		{"console.example:8080", true, false},
		{"8080", true, false},
		{":8080", false, true},
		{"0.0.0.0:8080", false, true},
	} {
		if err := api.CheckListen(tc.addr, tc.dev); (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, dev %v) = %v, want ok %v", tc.addr, tc.dev, err, tc.ok)
		}
	}
}

// TestConfig: New refuses what a console must not start with.
func TestConfig(t *testing.T) {
	good := testConfig()
	for _, tc := range []struct {
		name   string
		change func(*api.Config)
		getenv map[string]string
		want   string
	}{
		{"unknown role", func(c *api.Config) { c.APIKeys[0].Role = "root" }, nil, "auth.api_keys[0].role"},
		{"no role", func(c *api.Config) { c.APIKeys[1].Role = "" }, nil, "auth.api_keys[1].role"},
		{"empty team", func(c *api.Config) { c.APIKeys[2].Teams = []string{""} }, nil, "auth.api_keys[2].teams"},
		{"no tenant", func(c *api.Config) { c.APIKeys[0].Tenant = "" }, nil, "auth.api_keys[0].tenant"},
		{"bad hash", func(c *api.Config) { c.APIKeys[0].Hash = "sha256:abc" }, nil, "auth.api_keys[0].hash"},
		{"short session key", func(c *api.Config) { c.SessionKey = []byte("short") }, nil, "session_key"},
		{"session key env unset", func(c *api.Config) { c.SessionKey = nil; c.SessionKeyEnv = "XJ_SESSION" }, nil, "XJ_SESSION"},
		{"session key env short", func(c *api.Config) { c.SessionKey = nil; c.SessionKeyEnv = "XJ_SESSION" }, map[string]string{"XJ_SESSION": "short"}, "XJ_SESSION"},
		{"hs256 env unset", func(c *api.Config) { c.JWT = &auth.JWTConfig{HS256SecretEnv: "XJ_JWT"} }, nil, "XJ_JWT"},
		{"hs256 secret short", func(c *api.Config) { c.JWT = &auth.JWTConfig{HS256SecretEnv: "XJ_JWT"} }, map[string]string{"XJ_JWT": "short"}, "hs256_secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			cfg.APIKeys = slices.Clone(good.APIKeys)
			tc.change(&cfg)
			_, err := api.New(cfg, api.Options{Store: openStore(t), Getenv: func(k string) string { return tc.getenv[k] }})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error naming %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "short") && strings.Contains(err.Error(), `"short"`) {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
	cfg := good
	cfg.SessionKey, cfg.SessionKeyEnv = nil, "XJ_SESSION"
	cfg.JWT = &auth.JWTConfig{HS256SecretEnv: "XJ_JWT"}
	env := map[string]string{"XJ_SESSION": string(sessionKey), "XJ_JWT": jwtSecret}
	h, err := api.New(cfg, api.Options{Store: openStore(t), Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatalf("New with secrets from the environment: %v", err)
	}
	h.Close()
	if _, err := api.New(cfg, api.Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
