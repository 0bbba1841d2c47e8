package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/auth"
)

// consoleHeader is the header a state-changing request authenticated by
// the cookie (or made in dev mode) must carry, with the value "1".
const consoleHeader = "X-Xunjian-Console"

// authenticator establishes the principal of a request.
type authenticator struct {
	dev      bool
	verifier *auth.Authenticator // nil in dev mode
	// keys are the configured API keys' principals by keyID.
	keys     map[string]principal
	sessions *sessions
	now      func() time.Time
}

// keyID returns the fingerprint of an API key by its SHA-256: the first
// 128 bits in hex. It names the key in a session without being a secret
// (the configuration holds the whole hash).
func keyID(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:16]) }

// keyPrincipals returns the principals of the configured keys by keyID.
// The keys were validated (hash, role, teams) before.
func keyPrincipals(keys []auth.APIKey) (map[string]principal, error) {
	out := make(map[string]principal, len(keys))
	for i, k := range keys {
		raw, err := hex.DecodeString(strings.TrimPrefix(k.Hash, "sha256:"))
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("auth.api_keys[%d].hash: malformed", i)
		}
		role, err := ParseRole(k.Role)
		if err != nil {
			return nil, fmt.Errorf("auth.api_keys[%d].role: %w", i, err)
		}
		teams, err := auth.ParseTeams(k.Teams)
		if err != nil {
			return nil, fmt.Errorf("auth.api_keys[%d].teams: %w", i, err)
		}
		sum := [sha256.Size]byte(raw)
		subject := k.Name
		if subject == "" {
			subject = "key:" + hex.EncodeToString(sum[:6]) // as the gateway names it
		}
		if role == RoleAgent && k.Agent == "" {
			return nil, fmt.Errorf("auth.api_keys[%d].agent: a key of role agent names its agent", i)
		}
		agent := ""
		if role == RoleAgent {
			agent = k.Agent
		}
		out[keyID(sum)] = principal{subject: subject, tenant: k.Tenant, role: role, teams: teams.Names(), agent: agent,
			perms: knownPermissions(k.Permissions), keyID: keyID(sum)}
	}
	return out, nil
}

// authenticate returns the principal of r: from its credential header if
// it has one, else from its session cookie.
func (a *authenticator) authenticate(r *http.Request) (principal, error) {
	if a.dev {
		return devPrincipal(), nil
	}
	if hasHeader(r, auth.HeaderAPIKey) || hasHeader(r, auth.HeaderAuthorization) {
		return a.fromHeaders(r)
	}
	c, err := r.Cookie(a.sessions.name)
	if err != nil {
		return principal{}, errUnauthenticated("no credential: send an API key or a token, or sign in")
	}
	return a.fromSession(c.Value)
}

func hasHeader(r *http.Request, name string) bool {
	_, ok := r.Header[textproto.CanonicalMIMEHeaderKey(name)]
	return ok
}

// fromHeaders returns the principal of the credential in r's headers,
// verified by the gateway's authenticator.
func (a *authenticator) fromHeaders(r *http.Request) (principal, error) {
	get := func(name string) []byte {
		v := r.Header[textproto.CanonicalMIMEHeaderKey(name)]
		if len(v) == 0 {
			return nil
		}
		return append([]byte{}, v[0]...) // not nil when present but empty
	}
	now := a.now()
	gp, err := a.verifier.Authenticate(get, now)
	if err != nil {
		// The gateway's errors carry a reason, never the credential.
		return principal{}, errUnauthenticated(err.Error())
	}
	switch gp.Method {
	case auth.MethodAPIKey:
		key := presentedKey(r)
		p, ok := a.keys[keyID(sha256.Sum256([]byte(key)))]
		if !ok { // cannot happen: the verifier found it
			return principal{}, errUnauthenticated("unknown api key")
		}
		return p, nil
	case auth.MethodJWT:
		return a.fromJWT(gp, bearer(r), now)
	}
	return principal{}, fmt.Errorf("credential of method %q", gp.Method)
}

// presentedKey returns the API key of r's headers as the gateway reads
// it: X-API-Key, else the bearer token.
func presentedKey(r *http.Request) string {
	if v := r.Header[textproto.CanonicalMIMEHeaderKey(auth.HeaderAPIKey)]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return bearer(r)
}

// bearer returns the token of r's Authorization: Bearer header, "" when
// there is none.
func bearer(r *http.Request) string {
	h := r.Header.Get(auth.HeaderAuthorization)
	if len(h) < len("bearer") || !strings.EqualFold(h[:len("bearer")], "bearer") {
		return ""
	}
	return strings.TrimSpace(h[len("bearer"):])
}

// fromJWT returns the principal of a verified JWT: a console role and a
// subject are required (403 otherwise), and the principal expires with
// the token.
func (a *authenticator) fromJWT(gp auth.Principal, tok string, now time.Time) (principal, error) {
	if gp.Role == "" {
		return principal{}, errForbidden("the token grants no console role (its role claim is missing)")
	}
	role, err := ParseRole(gp.Role)
	if err != nil {
		return principal{}, errForbidden("the token grants no console role: " + err.Error())
	}
	if gp.Subject == "" {
		return principal{}, errForbidden("the token has no sub claim: the console records who acts")
	}
	agent := ""
	if role == RoleAgent {
		if agent = gp.Agent; agent == "" {
			return principal{}, errForbidden("the token of role agent names no agent (its agent claim is missing)")
		}
	}
	exp, err := tokenExpiry(tok)
	if err != nil {
		return principal{}, errUnauthenticated("jwt: " + err.Error())
	}
	if !now.Before(exp) {
		return principal{}, errUnauthenticated("jwt: token expired")
	}
	return principal{subject: gp.Subject, tenant: gp.Tenant, role: role, teams: gp.Teams.Names(), agent: agent,
		perms: knownPermissions(gp.Permissions.Names()), expires: exp}, nil
}

// tokenExpiry reads the exp claim of a JWT that was verified already (the
// verifier requires exp but does not return it).
func tokenExpiry(tok string) (time.Time, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("malformed token")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, errors.New("malformed token")
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return time.Time{}, errors.New("malformed token")
	}
	f, err := c.Exp.Float64()
	if err != nil || math.IsNaN(f) || f <= 0 || f > math.MaxInt32*4 {
		return time.Time{}, errors.New("no usable exp claim")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// fromSession returns the principal of a session token: for an API key,
// the key's as configured now (a key removed ends its sessions); for a
// JWT, the token's as it was at sign-in.
func (a *authenticator) fromSession(tok string) (principal, error) {
	c, err := a.sessions.verify(tok, a.now())
	if err != nil {
		return principal{}, errUnauthenticated(err.Error())
	}
	var p principal
	switch c.Method {
	case sessionKey:
		var ok bool
		if p, ok = a.keys[c.KeyID]; !ok {
			return principal{}, errUnauthenticated("the session's API key is no longer configured: sign in again")
		}
	case sessionJWT:
		role, err := ParseRole(string(c.Role))
		if err != nil || c.Subject == "" || c.Tenant == "" || (role == RoleAgent) != (c.Agent != "") {
			return principal{}, errUnauthenticated(errSession.Error())
		}
		teams := c.Teams
		if teams == nil {
			teams = []string{}
		}
		p = principal{subject: c.Subject, tenant: c.Tenant, role: role, teams: teams, agent: c.Agent, perms: knownPermissions(c.Perms)}
	default:
		return principal{}, errUnauthenticated(errSession.Error())
	}
	p.expires, p.cookie = time.Unix(c.Expires, 0), true
	return p, nil
}

// signIn returns the session claims of a principal authenticated by a
// header, and the session's expiry: SessionTTL from now, or the JWT's
// expiry when sooner.
func (a *authenticator) signIn(p principal, now time.Time) (sessionClaims, time.Time) {
	exp := now.Add(SessionTTL).Truncate(time.Second)
	if !p.expires.IsZero() && p.expires.Before(exp) {
		exp = p.expires.Truncate(time.Second) // never past the token's exp
	}
	if p.keyID != "" {
		return sessionClaims{Method: sessionKey, KeyID: p.keyID, Expires: exp.Unix()}, exp
	}
	return sessionClaims{Method: sessionJWT, Subject: p.subject, Tenant: p.tenant, Role: p.role, Teams: p.teams, Agent: p.agent,
		Perms: p.perms, Expires: exp.Unix()}, exp
}
