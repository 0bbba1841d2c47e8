package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Session cookie settings.
const (
	// SessionTTL is how long a session lasts at most.
	SessionTTL = 12 * time.Hour
	// cookieName names the session cookie over plain HTTP;
	// secureCookieName over HTTPS (the __Host- prefix makes browsers
	// refuse it unless Secure, Path=/ and without Domain, so a sibling
	// subdomain cannot plant one).
	cookieName       = "xunjian_session"
	secureCookieName = "__Host-xunjian_session"
	// maxCookieLen bounds a session cookie's value, under the 4 KiB
	// browsers keep.
	maxCookieLen = 3500
	// sessionVersion prefixes every token and its MAC input, so a token
	// of another format (or purpose) never verifies.
	sessionVersion = "xs1"
)

// Methods of a session (sessionClaims.Method).
const (
	sessionKey = "key"
	sessionJWT = "jwt"
)

// sessionClaims is what a session token holds: the principal (or, for an
// API key, the key's fingerprint, the rest being read from the
// configuration) and the expiry. No secret.
type sessionClaims struct {
	Method  string   `json:"m"`
	KeyID   string   `json:"k,omitempty"`
	Subject string   `json:"s,omitempty"`
	Tenant  string   `json:"t,omitempty"`
	Role    Role     `json:"r,omitempty"`
	Teams   []string `json:"g,omitempty"`
	// Agent and Perms are a JWT's agent (role agent) and permissions.
	Agent string   `json:"a,omitempty"`
	Perms []string `json:"p,omitempty"`
	// Expires is the expiry, in Unix seconds.
	Expires int64 `json:"e"`
}

// sessions signs and verifies session tokens.
type sessions struct {
	key    []byte
	name   string
	secure bool
}

// errSession is every reason a session token is refused: which one is of
// no use to the client, and none is worth logging.
var errSession = errors.New("session invalid or expired: sign in again")

// sign returns the token of c: "xs1.", the claims as base64url JSON, ".",
// and the base64url HMAC-SHA256 of what precedes it.
func (s *sessions) sign(c sessionClaims) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	body := sessionVersion + "." + base64.RawURLEncoding.EncodeToString(b)
	tok := body + "." + base64.RawURLEncoding.EncodeToString(s.mac(body))
	if len(tok) > maxCookieLen {
		return "", errBadRequest("too many teams to keep in a session cookie: send the credential with every request instead")
	}
	return tok, nil
}

func (s *sessions) mac(body string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// verify returns the claims of tok if its MAC is right and it has not
// expired at now.
func (s *sessions) verify(tok string, now time.Time) (sessionClaims, error) {
	if len(tok) > maxCookieLen {
		return sessionClaims{}, errSession
	}
	i := bytes.LastIndexByte([]byte(tok), '.')
	if i < 0 {
		return sessionClaims{}, errSession
	}
	body, sig := tok[:i], tok[i+1:]
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.mac(body)) {
		return sessionClaims{}, errSession
	}
	payload, ok := bytes.CutPrefix([]byte(body), []byte(sessionVersion+"."))
	if !ok {
		return sessionClaims{}, errSession
	}
	b, err := base64.RawURLEncoding.DecodeString(string(payload))
	if err != nil {
		return sessionClaims{}, errSession
	}
	var c sessionClaims
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || !now.Before(time.Unix(c.Expires, 0)) {
		return sessionClaims{}, errSession
	}
	return c, nil
}

// cookie returns the session cookie holding tok, expiring at exp.
func (s *sessions) cookie(tok string, exp, now time.Time) *http.Cookie {
	return &http.Cookie{
		Name: s.name, Value: tok, Path: "/", Expires: exp, MaxAge: max(int(exp.Sub(now).Seconds()), 1),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	}
}

// clear returns the cookie that deletes the session cookie.
func (s *sessions) clear() *http.Cookie {
	return &http.Cookie{Name: s.name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode}
}
