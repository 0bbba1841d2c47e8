// Package auth authenticates the clients of the gateway: agent clients on the
// agent port with an API key or a JWT, operators on the admin port with an
// admin API key.
//
// The tenant of a request always comes from its credential (the API key's
// configured tenant, or a claim of a verified JWT), never from the request
// body, so one tenant cannot inspect or read another tenant's traffic by
// writing a different name into its JSON.
//
// An Authenticator is built once from a Config by New, which parses,
// validates and precomputes everything (key hashes, the JWKS); Authenticate
// only reads. Nothing secret is kept in clear: API keys are stored as their
// SHA-256, and no error or log line carries a presented key or token.
package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors returned by Authenticate and AuthenticateAdmin. Both mean
// HTTP 401 with a JSON error body. The returned error wraps one of them with
// a short reason ("unknown api key", "jwt: token expired") that is safe to
// log; it never contains the presented key or token.
var (
	// ErrNoCredential means the request carried no credential at all.
	ErrNoCredential = errors.New("auth: no credential")
	// ErrBadCredential means the request carried a credential that is
	// malformed, unknown, expired or otherwise not accepted.
	ErrBadCredential = errors.New("auth: bad credential")
)

// Method values of Principal.Method.
const (
	MethodAPIKey   = "api_key"   // an agent API key (Config.APIKeys)
	MethodJWT      = "jwt"       // a verified JWT (Config.JWT)
	MethodAdminKey = "admin_key" // an admin API key (Config.AdminKeys)
	MethodNone     = "none"      // dev mode: nothing configured, nothing checked
)

// DevTenant is the tenant of every request in dev mode (no credential
// configured; see Authenticator.Enabled).
const DevTenant = "default"

// KeyPrefix starts every key made by GenerateKey, so that a leaked key is
// recognisable by secret scanners and by people.
const KeyPrefix = "xj_"

// Header names read by Authenticate.
const (
	HeaderAuthorization = "Authorization"
	HeaderAPIKey        = "X-API-Key"
)

// Bounds on a presented credential, checked before any hashing or parsing
// so that a hostile client cannot make the gateway hash or parse megabytes.
// fasthttp bounds the whole header block too; these are tighter.
const (
	maxKeyLen   = 512
	maxTokenLen = 8 << 10
)

// Principal is who made a request, as established by its credential. It is
// a plain value, safe to copy and to log (it holds no secret).
type Principal struct {
	// Tenant owns the request. Never empty on success.
	Tenant string
	// Agent is the agent the credential is bound to: the API key's Agent,
	// or the JWT's agent claim. Empty means the credential does not pin an
	// agent (a shared integration key, say), and the server may take the
	// agent id from the request.
	Agent string
	// Subject names the credential for audit logs: the API key's Name, or
	// the JWT's "sub" claim.
	Subject string
	// Method is how the request authenticated: MethodAPIKey, MethodJWT,
	// MethodAdminKey or MethodNone (dev mode).
	Method string
	// Scopes is what the credential may do: send agent drafts, customer
	// messages, lifecycle events. Dev mode holds AllScopes.
	Scopes Scopes
	// Credential identifies the credential itself, never its secret:
	// "key:" and the API key's name (or the first 12 hex digits of its
	// hash when unnamed), "jwt:" and the token's subject. Rate limits
	// apply per credential too, so a key that does not pin an agent cannot
	// multiply its allowance by naming new agents. Empty in dev mode.
	Credential string
	// Role is the role the credential holds in the supervisors' console
	// (supervisor, auditor, admin): the API key's Role, or the JWT's role
	// claim (JWTConfig.RoleClaim); empty when it names none. The gateway
	// ignores it; the console checks it.
	Role string
	// Teams are the teams the credential is restricted to in the console:
	// the API key's Teams, or the JWT's teams claim
	// (JWTConfig.TeamsClaim). The gateway ignores them.
	Teams Teams
	// Permissions are what the credential may do in the console beyond
	// its role (e.g. "decrypt"): the API key's Permissions, or the JWT's
	// permissions claim (JWTConfig.PermissionsClaim). The gateway ignores
	// them.
	Permissions Permissions
}

// APIKey is one configured API key, as an entry of `auth.api_keys` or
// `admin.api_keys` in the gateway's configuration file gives it. The key
// itself is never stored, only its hash: a config file or a heap dump does
// not give the key away.
//
// The hash is a plain SHA-256, not a slow password hash (bcrypt, argon2):
// API keys are high-entropy random strings (GenerateKey draws 256 bits), so
// a brute-force search over the hash is hopeless whatever its speed, and a
// fast hash lets the gateway check a key on every request in well under a
// microsecond. Do not use this for human-chosen passwords.
type APIKey struct {
	// Name identifies the key in logs, metrics and audit events
	// (Principal.Subject); never the key itself. Optional but recommended.
	Name string `yaml:"name"`
	// Tenant is the tenant every request made with this key belongs to.
	// Required for agent keys; admin keys do not use it (empty means the
	// key administers every tenant).
	Tenant string `yaml:"tenant"`
	// Agent optionally binds the key to one agent id (Principal.Agent).
	// Empty means the key does not pin an agent: the request names it.
	Agent string `yaml:"agent"`
	// Scopes names what the key may do: agent (send agent drafts),
	// customer (send customer-side messages), lifecycle (post assigned,
	// transferred and closed events); see Scopes. Empty means
	// DefaultScopes, agent drafts only: an agent client's key can neither
	// speak as the customer nor close a conversation. Admin keys ignore it.
	Scopes []string `yaml:"scopes"`
	// Hash is HashKey(key): "sha256:" followed by 64 lower-case hex
	// digits (`xunjian hash-key` prints it). Required.
	Hash string `yaml:"hash"`
	// Role is the key's role in the supervisors' console (supervisor,
	// auditor, admin; Principal.Role). The gateway ignores it, and the
	// console validates it.
	Role string `yaml:"role"`
	// Teams are the teams the key is restricted to in the console
	// (Principal.Teams; see ParseTeams). The gateway ignores them.
	Teams []string `yaml:"teams"`
	// Permissions are what the key may do in the console beyond its role
	// (Principal.Permissions; see ParsePermissions), e.g. [decrypt]. The
	// gateway ignores them, and the console validates them.
	Permissions []string `yaml:"permissions"`
}

// Validate checks the key's hash as a configuration file gives it, naming
// the fault by its YAML path under path, e.g. "auth.api_keys[0].hash: ...".
// New checks it again, and duplicates.
func (k APIKey) Validate(path string) error {
	if h, ok := strings.CutPrefix(k.Hash, hashPrefix); !ok || len(h) != 2*sha256.Size || strings.Trim(h, "0123456789abcdef") != "" {
		return fmt.Errorf("%s.hash: want sha256:<64 lower-case hex digits> (xunjian hash-key prints it)", path)
	}
	return nil
}

// Config configures an Authenticator; its API keys and JWT are the `auth`
// section of the gateway's configuration file. The zero value is valid and
// means dev mode: no credential is configured and every request is let
// through as DevTenant (see Authenticator.Enabled).
type Config struct {
	// APIKeys are the agent API keys accepted on the agent port; default
	// none.
	APIKeys []APIKey `yaml:"api_keys"`
	// JWT configures bearer JWTs on the agent port; nil (the default)
	// disables JWTs.
	JWT *JWTConfig `yaml:"jwt"`
	// AdminKeys are the API keys accepted on the admin port (and only
	// there: an admin key is not an agent key, and a key may not be both).
	// Empty means the admin port is not authenticated; bind it to loopback.
	// The configuration file gives them in their own section,
	// `admin.api_keys`.
	AdminKeys []APIKey `yaml:"-"`
}

// Defaults fills the zero fields of c that have a default (those of JWT,
// when set).
func (c *Config) Defaults() {
	if c.JWT != nil {
		c.JWT.Defaults()
	}
}

// Validate checks the agent keys and the JWT section as a configuration
// file gives them, naming each fault by its YAML path under path (e.g.
// "auth.api_keys[0].tenant: missing"), all of them joined. It reads no
// file and no secret: New does, and checks more.
func (c Config) Validate(path string) error {
	var errs []error
	for i, k := range c.APIKeys {
		f := fmt.Sprintf("%s.api_keys[%d]", path, i)
		if k.Tenant == "" {
			errs = append(errs, fmt.Errorf("%s.tenant: missing", f))
		}
		if err := k.Validate(f); err != nil {
			errs = append(errs, err)
		}
		if _, err := ParseTeams(k.Teams); err != nil {
			errs = append(errs, fmt.Errorf("%s.teams: %w", f, err))
		}
		if _, err := ParsePermissions(k.Permissions); err != nil {
			errs = append(errs, fmt.Errorf("%s.permissions: %w", f, err))
		}
	}
	if j := c.JWT; j != nil && j.HS256SecretEnv == "" && len(j.HS256Secret) == 0 && j.JWKSFile == "" {
		errs = append(errs, fmt.Errorf("%s.jwt: set hs256_secret_env or jwks_file", path))
	}
	return errors.Join(errs...)
}

// keyEntry is the precomputed result for one API key: what Authenticate
// returns when the key matches.
type keyEntry struct {
	p Principal
}

// Authenticator checks credentials. Build it with New. It is immutable after
// New and safe for concurrent use by any number of goroutines; to change the
// keys or rotate the JWKS, build a new one and swap it in (for example via
// atomic.Pointer).
type Authenticator struct {
	keys   map[[sha256.Size]byte]keyEntry // agent API keys by SHA-256 of the key
	admins map[[sha256.Size]byte]keyEntry // admin API keys by SHA-256 of the key
	jwt    *jwtVerifier                   // nil when JWTs are disabled
}

// New validates cfg and returns an Authenticator for it. It checks that
// every hash is well formed and unique, that every agent key has a tenant,
// that an HS256 secret has at least 32 bytes, and that the JWKS file is
// readable and holds at least one usable RS256 key. Errors name the config
// field at fault, e.g. "auth.api_keys[2].hash: ...", and never contain a
// secret.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{
		keys:   make(map[[sha256.Size]byte]keyEntry, len(cfg.APIKeys)),
		admins: make(map[[sha256.Size]byte]keyEntry, len(cfg.AdminKeys)),
	}
	var errs []error
	errs = addKeys(errs, a.keys, nil, "auth.api_keys", cfg.APIKeys, MethodAPIKey, true)
	errs = addKeys(errs, a.admins, a.keys, "auth.admin_keys", cfg.AdminKeys, MethodAdminKey, false)
	if cfg.JWT != nil {
		v, err := newJWTVerifier(*cfg.JWT)
		if err != nil {
			errs = append(errs, err)
		}
		a.jwt = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return a, nil
}

// addKeys validates keys and adds them to m, appending one error per fault
// to errs. A hash already in other (the other key list) is an error too.
func addKeys(errs []error, m, other map[[sha256.Size]byte]keyEntry, field string, keys []APIKey, method string, tenantRequired bool) []error {
	for i, k := range keys {
		f := fmt.Sprintf("%s[%d]", field, i)
		sum, err := parseHash(k.Hash)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.hash: %w", f, err))
			continue
		}
		if tenantRequired && k.Tenant == "" {
			errs = append(errs, fmt.Errorf("%s.tenant: required", f))
			continue
		}
		if _, dup := m[sum]; dup {
			errs = append(errs, fmt.Errorf("%s.hash: same key as an earlier entry", f))
			continue
		}
		if _, dup := other[sum]; dup {
			errs = append(errs, fmt.Errorf("%s.hash: same key as an agent API key; an admin key must be distinct", f))
			continue
		}
		scopes, err := ParseScopes(k.Scopes)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.scopes: %w", f, err))
			continue
		}
		teams, err := ParseTeams(k.Teams)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.teams: %w", f, err))
			continue
		}
		perms, err := ParsePermissions(k.Permissions)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.permissions: %w", f, err))
			continue
		}
		cred := "key:" + k.Name
		if k.Name == "" {
			cred = "key:" + hex.EncodeToString(sum[:6])
		}
		m[sum] = keyEntry{p: Principal{Tenant: k.Tenant, Agent: k.Agent, Subject: k.Name, Method: method, Scopes: scopes, Credential: cred,
			Role: k.Role, Teams: teams, Permissions: perms}}
	}
	return errs
}

const hashPrefix = "sha256:"

// parseHash decodes the Hash form made by HashKey.
func parseHash(h string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	hexPart, ok := strings.CutPrefix(h, hashPrefix)
	if !ok {
		return sum, fmt.Errorf("want %q followed by 64 hex digits (see `xunjian hash-key`)", hashPrefix)
	}
	if len(hexPart) != 2*sha256.Size {
		return sum, fmt.Errorf("want 64 hex digits after %q, got %d characters", hashPrefix, len(hexPart))
	}
	if _, err := hex.Decode(sum[:], []byte(hexPart)); err != nil {
		return sum, errors.New("not hexadecimal")
	}
	return sum, nil
}

// HashKey returns the form of key stored in the config (APIKey.Hash):
// "sha256:" and the lowercase hex SHA-256 of the key. It backs the
// `xunjian hash-key` command.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// GenerateKey returns a new random API key: KeyPrefix followed by 32 bytes
// from crypto/rand in unpadded base64url (46 characters in all). Show it to
// the operator once and store only HashKey of it.
func GenerateKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: generating key: %w", err)
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Close releases the cache of verified JWTs. The Authenticator must not be
// used afterwards.
func (a *Authenticator) Close() {
	if a.jwt != nil {
		a.jwt.close()
	}
}

// Enabled reports whether agent authentication is configured: false (dev
// mode) when there is neither an API key nor a JWT config, in which case
// Authenticate lets every request through as DevTenant with MethodNone. The
// server should log loudly when it starts in dev mode.
func (a *Authenticator) Enabled() bool {
	return len(a.keys) > 0 || a.jwt != nil
}

// AdminEnabled reports whether admin keys are configured. When false,
// AuthenticateAdmin lets every request through with MethodNone.
func (a *Authenticator) AdminEnabled() bool {
	return len(a.admins) > 0
}

// Authenticate establishes the Principal of an agent-port request from its
// headers. get returns the value of a header, or nil/empty when absent;
// fasthttp's ctx.Request.Header.Peek fits. The returned Principal does not
// refer to the bytes get returned, so it may outlive the request. now is
// the time JWT expiry is checked against.
//
// The credential is read from, in order:
//
//  1. "X-API-Key: <key>": an API key. When present it is the gateway's
//     credential, and an Authorization header is left alone, so that a
//     proxied client can still send its own Authorization to the chat
//     backend.
//  2. "Authorization: Bearer <token>" (scheme case-insensitive, RFC 7235
//     §2.1): a JWT if the token has exactly two dots, an API key otherwise.
//     Any other scheme is ErrBadCredential.
//
// No credential is ErrNoCredential; anything else that fails is
// ErrBadCredential. An admin key is not accepted here.
//
// An API key costs a SHA-256 of the key and one map lookup, with no
// allocation. The lookup is keyed by the hash, so its timing can at most
// reveal something about the SHA-256 of the presented key, which is of no
// help in finding a valid key; no constant-time compare is needed.
func (a *Authenticator) Authenticate(get func(name string) []byte, now time.Time) (Principal, error) {
	if !a.Enabled() {
		return Principal{Tenant: DevTenant, Method: MethodNone, Scopes: AllScopes}, nil
	}
	cred, err := credential(get)
	if err != nil {
		return Principal{}, err
	}
	if cred.jwt {
		if a.jwt == nil {
			return Principal{}, fmt.Errorf("%w: jwt not accepted (no jwt configured)", ErrBadCredential)
		}
		return a.jwt.verify(cred.value, now)
	}
	return lookupKey(a.keys, cred.value)
}

// AuthenticateAdmin establishes the Principal of an admin-port request. It
// reads the headers as Authenticate does, but accepts only admin keys
// (no JWT, no agent key). When no admin key is configured it lets every
// request through with MethodNone. Safe for concurrent use; no allocation
// on success.
func (a *Authenticator) AuthenticateAdmin(get func(name string) []byte, _ time.Time) (Principal, error) {
	if !a.AdminEnabled() {
		return Principal{Method: MethodNone}, nil
	}
	cred, err := credential(get)
	if err != nil {
		return Principal{}, err
	}
	if cred.jwt {
		return Principal{}, fmt.Errorf("%w: the admin port takes an admin key, not a jwt", ErrBadCredential)
	}
	return lookupKey(a.admins, cred.value)
}

// lookupKey finds the presented key in m by its SHA-256.
func lookupKey(m map[[sha256.Size]byte]keyEntry, key []byte) (Principal, error) {
	if len(key) > maxKeyLen {
		return Principal{}, fmt.Errorf("%w: api key too long", ErrBadCredential)
	}
	e, ok := m[sha256.Sum256(key)]
	if !ok {
		return Principal{}, errUnknownKey
	}
	return e.p, nil
}

// errUnknownKey is preallocated: a flood of bad keys costs no allocation.
var errUnknownKey = fmt.Errorf("%w: unknown api key", ErrBadCredential)

// presented is the credential found in the headers. value aliases the
// header buffer: it must not outlive the call.
type presented struct {
	value []byte
	jwt   bool
}

var (
	errEmptyKey    = fmt.Errorf("%w: empty %s header", ErrBadCredential, HeaderAPIKey)
	errEmptyBearer = fmt.Errorf("%w: empty bearer token", ErrBadCredential)
	errScheme      = fmt.Errorf("%w: authorization scheme is not Bearer", ErrBadCredential)
)

// credential extracts the credential from the headers (see Authenticate).
func credential(get func(name string) []byte) (presented, error) {
	if k := get(HeaderAPIKey); k != nil {
		k = bytes.TrimSpace(k)
		if len(k) == 0 {
			return presented{}, errEmptyKey
		}
		return presented{value: k}, nil
	}
	h := get(HeaderAuthorization)
	if len(h) == 0 {
		return presented{}, ErrNoCredential
	}
	// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is
	// case-insensitive (RFC 7235 §2.1).
	n := len(bearer)
	if len(h) < n || !bytes.EqualFold(h[:n], bearer) || (len(h) > n && h[n] != ' ' && h[n] != '\t') {
		return presented{}, errScheme
	}
	tok := bytes.TrimSpace(h[n:])
	if len(tok) == 0 {
		return presented{}, errEmptyBearer
	}
	return presented{value: tok, jwt: bytes.Count(tok, dot) == 2}, nil
}

var (
	bearer = []byte("bearer")
	dot    = []byte{'.'}
)
