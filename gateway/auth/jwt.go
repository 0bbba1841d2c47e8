package auth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Defaults of JWTConfig.
const (
	DefaultTenantClaim = "tenant"
	DefaultAgentClaim  = "sub"
	DefaultScopesClaim = "xunjian_scopes"
	DefaultRoleClaim   = "xunjian_role"
	DefaultTeamsClaim  = "xunjian_teams"
	// DefaultPermissionsClaim names the claim of the console permissions
	// (JWTConfig.PermissionsClaim).
	DefaultPermissionsClaim = "xunjian_permissions"
	DefaultLeeway           = 30 * time.Second
)

// Minimum key sizes. RFC 7518 §3.2 requires an HS256 key of at least 256
// bits; RSA below 2048 bits is considered breakable (NIST SP 800-131A).
const (
	minHS256Secret = 32
	minRSABits     = 2048
)

// JWTConfig configures bearer JWTs, as the `auth.jwt` section of the
// gateway's configuration file gives it. Only HS256 and RS256 are
// accepted, each only when its key is configured: an "alg: none" token, a
// token with any other alg, and an HS256 token when only RS256 is
// configured are all rejected (no algorithm confusion: the alg in the
// token header chooses among our keys, it never turns a public key into an
// HMAC secret).
type JWTConfig struct {
	// HS256SecretEnv names the environment variable holding the HS256
	// secret; empty disables HS256. The gateway reads the variable at
	// start into HS256Secret: the secret itself is never in the file.
	HS256SecretEnv string `yaml:"hs256_secret_env"`
	// HS256Secret is the shared HMAC secret, at least 32 bytes. Nil or
	// empty disables HS256. Keep it out of config files: have the loader
	// read it from the environment (HS256SecretEnv) or a secret file. New
	// copies it.
	HS256Secret []byte `yaml:"-"`
	// JWKSFile is the path of a JWKS (RFC 7517) JSON file holding the RSA
	// public keys that verify RS256 tokens. Empty disables RS256. Keys
	// whose "alg" is set to something other than RS256, whose "use" is not
	// "sig", or which are not RSA are ignored; at least one must remain,
	// each of at least 2048 bits. The file is read once, by New: to rotate
	// keys, build a new Authenticator.
	JWKSFile string `yaml:"jwks_file"`
	// Issuer, when non-empty, must equal the token's "iss" claim.
	Issuer string `yaml:"issuer"`
	// Audience, when non-empty, must be among the token's "aud" values.
	Audience string `yaml:"audience"`
	// TenantClaim names the claim holding the tenant, a non-empty string
	// that every token must carry. Empty means DefaultTenantClaim
	// ("tenant").
	TenantClaim string `yaml:"tenant_claim"`
	// AgentClaim names the claim holding the agent id (Principal.Agent),
	// optional in the token. Empty means DefaultAgentClaim ("sub").
	AgentClaim string `yaml:"agent_claim"`
	// ScopesClaim names the claim holding the token's scopes
	// (Principal.Scopes: agent, customer, lifecycle): an array of names or
	// one space-separated string, as OAuth's "scope" is. Other names are
	// ignored (they belong to other services); a token without the claim
	// holds DefaultScopes (agent drafts only). Empty means
	// DefaultScopesClaim ("xunjian_scopes").
	ScopesClaim string `yaml:"scopes_claim"`
	// RoleClaim names the claim holding the token's role in the
	// supervisors' console (Principal.Role), a string, optional in the
	// token; the gateway ignores the role. Empty means DefaultRoleClaim
	// ("xunjian_role").
	RoleClaim string `yaml:"role_claim"`
	// TeamsClaim names the claim holding the token's teams in the console
	// (Principal.Teams): an array of names or one space-separated string,
	// optional in the token; the gateway ignores the teams. Empty means
	// DefaultTeamsClaim ("xunjian_teams").
	TeamsClaim string `yaml:"teams_claim"`
	// PermissionsClaim names the claim holding the token's permissions in
	// the console beyond its role (Principal.Permissions, e.g. decrypt):
	// an array of names or one space-separated string, optional in the
	// token; the gateway ignores them. Empty means
	// DefaultPermissionsClaim ("xunjian_permissions").
	PermissionsClaim string `yaml:"permissions_claim"`
	// Leeway is the clock skew allowed when checking "exp", "nbf" and
	// "iat". Zero means DefaultLeeway (30s); a negative value means none.
	// Not settable from the configuration file.
	Leeway time.Duration `yaml:"-"`
}

// Defaults fills the zero fields of c that have a default: the claim names
// and Leeway.
func (c *JWTConfig) Defaults() {
	if c.TenantClaim == "" {
		c.TenantClaim = DefaultTenantClaim
	}
	if c.AgentClaim == "" {
		c.AgentClaim = DefaultAgentClaim
	}
	if c.ScopesClaim == "" {
		c.ScopesClaim = DefaultScopesClaim
	}
	if c.RoleClaim == "" {
		c.RoleClaim = DefaultRoleClaim
	}
	if c.TeamsClaim == "" {
		c.TeamsClaim = DefaultTeamsClaim
	}
	if c.PermissionsClaim == "" {
		c.PermissionsClaim = DefaultPermissionsClaim
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
}

// jwtVerifier is the validated, immutable form of a JWTConfig.
type jwtVerifier struct {
	hs          []byte   // nil: HS256 disabled
	rsa         *rsaKeys // nil: RS256 disabled
	tenantClaim string
	agentClaim  string
	scopesClaim string
	roleClaim   string
	teamsClaim  string
	permsClaim  string
	static      []jwt.ParseOption // options shared by every Parse; never appended to in place
	leeway      time.Duration
	// verified remembers tokens that passed verification, with their
	// validity window, so a client re-sending its token skips the
	// signature check and JSON decoding (~50-80 µs) until it expires.
	verified *ristretto.Cache[string, verifiedToken]
}

// verifiedToken is a token that verified, and when it is valid.
type verifiedToken struct {
	p        Principal
	nbf, exp time.Time // nbf zero: no "nbf" claim
}

// verifiedCacheBytes bounds the cache of verified tokens.
const verifiedCacheBytes = 8 << 20

// cached returns the Principal of a token verified before that is still
// valid at now.
func (v *jwtVerifier) cached(tok []byte, now time.Time) (Principal, bool) {
	if v.verified == nil {
		return Principal{}, false
	}
	vt, ok := v.verified.Get(string(tok))
	if !ok || !now.Before(vt.exp.Add(v.leeway)) || (!vt.nbf.IsZero() && now.Before(vt.nbf.Add(-v.leeway))) {
		return Principal{}, false
	}
	return vt.p, true
}

func (v *jwtVerifier) close() {
	if v.verified != nil {
		v.verified.Close()
	}
}

// rsaKeys is the RS256 key material from a JWKS file.
type rsaKeys struct {
	byKID map[string]*rsa.PublicKey
	only  *rsa.PublicKey // the key when the JWKS holds exactly one, else nil
}

func newJWTVerifier(c JWTConfig) (*jwtVerifier, error) {
	c.Defaults()
	v := &jwtVerifier{tenantClaim: c.TenantClaim, agentClaim: c.AgentClaim, scopesClaim: c.ScopesClaim,
		roleClaim: c.RoleClaim, teamsClaim: c.TeamsClaim, permsClaim: c.PermissionsClaim}
	leeway := max(c.Leeway, 0) // negative: none

	var errs []error
	if len(c.HS256Secret) > 0 {
		if len(c.HS256Secret) < minHS256Secret {
			errs = append(errs, fmt.Errorf("auth.jwt.hs256_secret: want at least %d bytes, got %d", minHS256Secret, len(c.HS256Secret)))
		}
		v.hs = append([]byte(nil), c.HS256Secret...)
	}
	if c.JWKSFile != "" {
		keys, err := loadJWKS(c.JWKSFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("auth.jwt.jwks_file: %w", err))
		}
		v.rsa = keys
	}
	if len(c.HS256Secret) == 0 && c.JWKSFile == "" {
		errs = append(errs, errors.New("auth.jwt: set hs256_secret or jwks_file (or remove the jwt section)"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	v.static = []jwt.ParseOption{
		jwt.WithAcceptableSkew(leeway),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	}
	if c.Issuer != "" {
		v.static = append(v.static, jwt.WithIssuer(c.Issuer))
	}
	if c.Audience != "" {
		v.static = append(v.static, jwt.WithAudience(c.Audience))
	}
	v.leeway = leeway
	cache, err := ristretto.NewCache(&ristretto.Config[string, verifiedToken]{
		NumCounters: verifiedCacheBytes / 40, MaxCost: verifiedCacheBytes, BufferItems: 64,
	})
	if err != nil {
		return nil, fmt.Errorf("auth.jwt: token cache: %w", err)
	}
	v.verified = cache
	return v, nil
}

// loadJWKS reads the RS256 public keys of a JWKS file.
func loadJWKS(path string) (*rsaKeys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *PathError names the path
	}
	set, err := jwk.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	keys := &rsaKeys{byKID: make(map[string]*rsa.PublicKey)}
	var noKID []*rsa.PublicKey
	for i := range set.Len() {
		k, _ := set.Key(i)
		if k.KeyType().String() != "RSA" {
			continue
		}
		if alg, ok := k.Algorithm(); ok && alg.String() != jwa.RS256().String() {
			continue
		}
		if use, ok := k.KeyUsage(); ok && use != "sig" {
			continue
		}
		kid, _ := k.KeyID()
		if _, ok := k.(jwk.RSAPrivateKey); ok {
			return nil, fmt.Errorf("%s: key %d (kid %q) is a private key; publish only public keys", path, i, kid)
		}
		var raw any
		if err := jwk.Export(k, &raw); err != nil {
			return nil, fmt.Errorf("%s: key %d (kid %q): %w", path, i, kid, err)
		}
		pub, ok := raw.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s: key %d (kid %q): not an RSA public key (%T)", path, i, kid, raw)
		}
		if bits := pub.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("%s: key %d (kid %q): %d-bit RSA key, want at least %d bits", path, i, kid, bits, minRSABits)
		}
		if kid == "" {
			noKID = append(noKID, pub)
			continue
		}
		if _, dup := keys.byKID[kid]; dup {
			return nil, fmt.Errorf("%s: key %d: kid %q appears twice", path, i, kid)
		}
		keys.byKID[kid] = pub
	}
	n := len(keys.byKID) + len(noKID)
	switch {
	case n == 0:
		return nil, fmt.Errorf("%s: no RS256 signing key (want an RSA key with no alg or alg RS256, no use or use sig)", path)
	case len(noKID) > 0 && n > 1:
		return nil, fmt.Errorf("%s: %d keys, %d without kid; with several keys every key needs a kid", path, n, len(noKID))
	case n == 1:
		if len(noKID) == 1 {
			keys.only = noKID[0]
		} else {
			for _, pub := range keys.byKID {
				keys.only = pub
			}
		}
	}
	return keys, nil
}

// Reasons a JWT is rejected; the text goes into the error, so it must never
// hold any part of the token.
const (
	reasonMalformed   = "malformed token"
	reasonTooLong     = "token too long"
	reasonSignature   = "bad signature"
	reasonNoAlg       = "no alg header"
	reasonAlg         = "alg not accepted"
	reasonCrit        = "crit or b64 header not accepted"
	reasonHSDisabled  = "HS256 not accepted (not configured)"
	reasonRSDisabled  = "RS256 not accepted (not configured)"
	reasonNoKID       = "no kid and several keys"
	reasonUnknownKID  = "unknown kid"
	reasonExpired     = "token expired"
	reasonNotYet      = "token not yet valid"
	reasonIssuedAt    = "token issued in the future"
	reasonIssuer      = "issuer mismatch"
	reasonAudience    = "audience mismatch"
	reasonMissing     = "required claim missing"
	reasonInvalid     = "claims invalid"
	reasonNoTenant    = "tenant claim missing or empty"
	reasonAgentClaim  = "agent claim not a string"
	reasonTenantClaim = "tenant claim not a string"
	reasonScopesClaim = "scopes claim not a string or an array of strings"
	reasonRoleClaim   = "role claim not a string"
	reasonTeamsClaim  = "teams claim not a string or an array of valid team names"
	reasonPermsClaim  = "permissions claim not a string or an array of valid permission names"
)

func badJWT(reason string) error {
	return fmt.Errorf("%w: jwt: %s", ErrBadCredential, reason)
}

// verify checks the signature and claims of a compact JWS token and returns
// its Principal. tok aliases a request buffer; nothing returned refers to it.
func (v *jwtVerifier) verify(tok []byte, now time.Time) (Principal, error) {
	if len(tok) > maxTokenLen {
		return Principal{}, badJWT(reasonTooLong)
	}
	if p, ok := v.cached(tok, now); ok {
		return p, nil
	}
	// A compact JWS is three base64url parts (RFC 7515 §7.1). Checking the
	// alphabet here keeps jwx's JSON serialization and anything odd out.
	for _, c := range tok {
		if !isB64URL(c) && c != '.' {
			return Principal{}, badJWT(reasonMalformed)
		}
	}

	// The key provider picks the key from the header's alg (and kid):
	// HS256 gets the HMAC secret, RS256 an RSA public key, anything else
	// nothing, so verification fails. reason records why it gave no key.
	var reason string
	kp := jws.KeyProviderFunc(func(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		h := sig.ProtectedHeaders()
		// RFC 7515 §4.1.11: a recipient must reject a "crit" extension it
		// does not understand, and we understand none; jwt.Parse does not
		// check crit itself. "b64" (RFC 7797) has no place in a JWT.
		if h.Has("crit") || h.Has("b64") {
			reason = reasonCrit
			return errors.New(reason)
		}
		alg, ok := h.Algorithm()
		if !ok {
			reason = reasonNoAlg
			return errors.New(reason)
		}
		switch alg.String() {
		case "HS256":
			if v.hs == nil {
				reason = reasonHSDisabled
				return errors.New(reason)
			}
			sink.Key(jwa.HS256(), v.hs)
		case "RS256":
			if v.rsa == nil {
				reason = reasonRSDisabled
				return errors.New(reason)
			}
			kid, _ := h.KeyID()
			var pub *rsa.PublicKey
			if kid == "" {
				if pub = v.rsa.only; pub == nil {
					reason = reasonNoKID
					return errors.New(reason)
				}
			} else if pub = v.rsa.byKID[kid]; pub == nil {
				reason = reasonUnknownKID
				return errors.New(reason)
			}
			sink.Key(jwa.RS256(), pub)
		default:
			reason = reasonAlg
			return errors.New(reason)
		}
		return nil
	})

	opts := make([]jwt.ParseOption, 0, len(v.static)+2)
	opts = append(opts, v.static...)
	opts = append(opts,
		jwt.WithKeyProvider(kp),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
	)
	t, err := jwt.Parse(tok, opts...)
	if err != nil {
		if reason == "" {
			reason = classify(err)
		}
		return Principal{}, badJWT(reason)
	}

	var p Principal
	p.Method = MethodJWT
	if err := t.Get(v.tenantClaim, &p.Tenant); err != nil {
		if errors.Is(err, jwt.ClaimNotFoundError()) {
			return Principal{}, badJWT(reasonNoTenant)
		}
		return Principal{}, badJWT(reasonTenantClaim)
	}
	if p.Tenant == "" {
		return Principal{}, badJWT(reasonNoTenant)
	}
	if err := t.Get(v.agentClaim, &p.Agent); err != nil && !errors.Is(err, jwt.ClaimNotFoundError()) {
		return Principal{}, badJWT(reasonAgentClaim)
	}
	p.Subject, _ = t.Subject()
	p.Credential = "jwt:" + p.Subject
	var ok bool
	if p.Scopes, ok = tokenScopes(t, v.scopesClaim); !ok {
		return Principal{}, badJWT(reasonScopesClaim)
	}
	if err := t.Get(v.roleClaim, &p.Role); err != nil && !errors.Is(err, jwt.ClaimNotFoundError()) {
		return Principal{}, badJWT(reasonRoleClaim)
	}
	if p.Teams, ok = tokenTeams(t, v.teamsClaim); !ok {
		return Principal{}, badJWT(reasonTeamsClaim)
	}
	if p.Permissions, ok = tokenPermissions(t, v.permsClaim); !ok {
		return Principal{}, badJWT(reasonPermsClaim)
	}
	if v.verified != nil {
		vt := verifiedToken{p: p}
		vt.exp, _ = t.Expiration() // required by the parse options
		vt.nbf, _ = t.NotBefore()
		v.verified.SetWithTTL(string(tok), vt, int64(len(tok)+len(p.Tenant)+len(p.Agent)+2*len(p.Subject)+len(p.Role)+len(p.Teams.joined)+len(p.Permissions.joined)+100), vt.exp.Add(v.leeway).Sub(now))
	}
	return p, nil
}

// tokenScopes reads the scopes claim of t: absent means DefaultScopes; an
// array of strings or a space-separated string names them. A claim of
// another type is not ok.
func tokenScopes(t jwt.Token, claim string) (Scopes, bool) {
	names, found, ok := claimNames(t, claim)
	switch {
	case !ok:
		return 0, false
	case !found:
		return DefaultScopes, true
	}
	var s Scopes
	for _, n := range names {
		if one, ok := scopeByName(n); ok {
			s |= one
		}
	}
	return s, true
}

// claimNames reads a claim of t holding names: an array of strings or one
// space-separated string. found is false when t has no such claim; a claim
// of another type is not ok.
func claimNames(t jwt.Token, claim string) (names []string, found, ok bool) {
	var raw any
	if err := t.Get(claim, &raw); err != nil {
		return nil, false, errors.Is(err, jwt.ClaimNotFoundError())
	}
	switch v := raw.(type) {
	case string:
		return strings.Fields(v), true, true
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, true, false
			}
			names = append(names, s)
		}
		return names, true, true
	case []string:
		return v, true, true
	}
	return nil, true, false
}

// tokenTeams reads the teams claim of t (see claimNames): absent means
// none; a claim of another type, or naming a team ParseTeams refuses, is
// not ok.
func tokenTeams(t jwt.Token, claim string) (Teams, bool) {
	names, _, ok := claimNames(t, claim)
	if !ok {
		return Teams{}, false
	}
	teams, err := ParseTeams(names)
	return teams, err == nil
}

// tokenPermissions reads the permissions claim of t (see claimNames):
// absent means none; a claim of another type, or naming a permission
// ParsePermissions refuses, is not ok.
func tokenPermissions(t jwt.Token, claim string) (Permissions, bool) {
	names, _, ok := claimNames(t, claim)
	if !ok {
		return Permissions{}, false
	}
	perms, err := ParsePermissions(names)
	return perms, err == nil
}

// classify maps a jwx error to a fixed reason. jwx's own messages may quote
// claim values, so they are never passed on.
func classify(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return reasonExpired
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return reasonNotYet
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		return reasonIssuedAt
	case errors.Is(err, jwt.InvalidIssuerError()):
		return reasonIssuer
	case errors.Is(err, jwt.InvalidAudienceError()):
		return reasonAudience
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return reasonMissing
	case errors.Is(err, jwt.ValidateError()):
		return reasonInvalid
	case errors.Is(err, jws.VerifyError()):
		return reasonSignature
	default:
		return reasonMalformed
	}
}

func isB64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
