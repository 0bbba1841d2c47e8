package api

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/internal/loopback"
)

// Role is what a principal may do in the console; see the package
// comment.
type Role string

// The roles.
const (
	// RoleSupervisor reads the alerts of its teams and handles them.
	RoleSupervisor Role = "supervisor"
	// RoleAuditor reads what a supervisor reads and changes nothing.
	RoleAuditor Role = "auditor"
	// RoleAdmin does what a supervisor does over every team of its
	// tenant, and reads the dead letters when its tenant is the
	// operator's.
	RoleAdmin Role = "admin"
	// RoleAgent is a customer-service agent: it reads the QA reviews of
	// its own conversations and disputes them (docs/qa.md), and nothing
	// else. Its credential names the agent (an API key's agent, a JWT's
	// agent claim).
	RoleAgent Role = "agent"
)

// ParseRole returns the role named s (supervisor, auditor, admin or
// agent).
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleSupervisor, RoleAuditor, RoleAdmin, RoleAgent:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want supervisor, auditor, admin or agent", s)
}

// PermDecrypt is the permission to read the raw text of sampled
// conversations (docs/qa.md): every such read is written to the audit
// log.
const PermDecrypt = "decrypt"

// permissions are the permissions the console knows.
var permissions = []string{PermDecrypt}

// knownPermissions returns those of names the console knows, sorted; a
// JWT may carry others, meant for other services.
func knownPermissions(names []string) []string {
	out := []string{}
	for _, n := range names {
		if slices.Contains(permissions, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// MinSessionKey is the shortest session signing key accepted, in bytes
// (the HMAC-SHA256 key size).
const MinSessionKey = 32

// Config is the `auth` section of the console's configuration file: who
// may sign in, and how sessions are kept. It holds no secret: the JWT's
// HS256 secret and the session signing key are named by environment
// variable. With no API key and no JWT the console runs in dev mode (see
// DevMode).
type Config struct {
	// APIKeys are the console's API keys, each with its tenant, role
	// (supervisor, auditor, admin or agent: required), teams and
	// permissions (decrypt), and the SHA-256 of the key (`xunjian
	// hash-key` prints it). A key of role agent names its agent (agent);
	// the gateway's scopes are ignored.
	APIKeys []auth.APIKey `yaml:"api_keys"`
	// JWT, when set, accepts bearer JWTs verified as the gateway verifies
	// them, the tenant, role and teams read from the claims its
	// TenantClaim, RoleClaim and TeamsClaim name. New reads the HS256
	// secret from the variable HS256SecretEnv names when HS256Secret is
	// empty.
	JWT *auth.JWTConfig `yaml:"jwt"`
	// SessionKeyEnv names the environment variable holding the key that
	// signs session cookies, at least MinSessionKey bytes; set it to the
	// same value on every console behind one address. Empty (and no
	// SessionKey) means a random key per process: sessions end when the
	// process does.
	SessionKeyEnv string `yaml:"session_key_env"`
	// SessionKey is the session signing key itself, when the caller has
	// it (tests); it takes precedence over SessionKeyEnv. New copies it.
	SessionKey []byte `yaml:"-"`
	// SecureCookie marks the session cookie Secure (and names it with the
	// __Host- prefix): set it whenever browsers reach the console over
	// HTTPS, whether TLS ends here or at a proxy in front.
	SecureCookie bool `yaml:"secure_cookie"`
	// OperatorTenant is the tenant whose admins may read the dead
	// letters of the chat channels, which span every tenant. Empty means
	// no one may, except in dev mode.
	OperatorTenant string `yaml:"operator_tenant"`
}

// DevMode reports whether c configures no credential at all: then every
// request is the admin of tenant "default", and the console must listen
// on loopback only (CheckListen).
func (c Config) DevMode() bool { return len(c.APIKeys) == 0 && c.JWT == nil }

// Validate checks c as the configuration file gives it, naming each fault
// by its YAML path under path (e.g. "auth.api_keys[0].role: ..."), all of
// them joined. It reads no environment variable and no file: New does,
// and checks more.
func (c Config) Validate(path string) error {
	errs := []error{auth.Config{APIKeys: c.APIKeys, JWT: c.JWT}.Validate(path)}
	for i, k := range c.APIKeys {
		role, err := ParseRole(k.Role)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.api_keys[%d].role: %w", path, i, err))
		}
		if role == RoleAgent && k.Agent == "" {
			errs = append(errs, fmt.Errorf("%s.api_keys[%d].agent: a key of role agent names its agent", path, i))
		}
		for _, p := range k.Permissions {
			if !slices.Contains(permissions, p) {
				errs = append(errs, fmt.Errorf("%s.api_keys[%d].permissions: unknown permission %q (want %s)", path, i, p, strings.Join(permissions, ", ")))
			}
		}
	}
	if len(c.SessionKey) > 0 && len(c.SessionKey) < MinSessionKey {
		errs = append(errs, fmt.Errorf("%s.session_key: %d bytes, want at least %d", path, len(c.SessionKey), MinSessionKey))
	}
	return errors.Join(errs...)
}

// CheckListen returns an error when the console would listen on addr
// (host:port, as http.Server.Addr) in dev mode on anything but a loopback
// address: in dev mode every request is an admin, so only the machine
// itself may reach it. ":8080" (every interface) is refused too. Outside
// dev mode any address is fine.
func CheckListen(addr string, devMode bool) error {
	if !devMode {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("console listen address %q: %w", addr, err)
	}
	if !loopback.Host(host) {
		return fmt.Errorf("console listen address %q: no credential is configured (dev mode, every request an admin), so the console listens on loopback only: listen on 127.0.0.1 or [::1], or configure auth.api_keys or auth.jwt", addr)
	}
	return nil
}
