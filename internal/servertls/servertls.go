// Package servertls is TLS on the listeners of the gateway (agent and
// admin ports) and the console: the `tls` section a listener is configured
// with (a certificate and key file, optionally a client CA that makes the
// listener require client certificates, a minimum version of TLS 1.2 or
// 1.3), and a Reloader that serves them and picks up new files without a
// restart.
//
// Rotation is internal/certfiles's: before each handshake the Reloader
// looks at the files' size, modification time and identity (one stat
// each, no read) and, when any changed, loads them again, so the handshake
// that follows presents the new certificate; a pair that does not load
// (the key not matching the certificate, a half-written file, an expired
// certificate) or a client CA file without a certificate leaves the
// previous ones in use, logged once per change of the files and tried
// again at most once a second. Connections already established keep the
// certificate they were made with.
//
// Nothing here reads a private key's content into logs or errors: errors
// name the file and the reason.
package servertls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/xunjian/xunjian/internal/certfiles"
)

// Minimum versions (Config.MinVersion).
const (
	// Version12 is TLS 1.2, the default and the lowest accepted.
	Version12 = "1.2"
	// Version13 is TLS 1.3.
	Version13 = "1.3"
)

// Config is the `tls` section of one listener. The zero Config is plain
// TCP, no TLS.
type Config struct {
	// CertFile and KeyFile are the PEM files of the server's certificate
	// (its chain after it, if any) and private key; both or neither. They
	// are read at start and again whenever they change.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, is a PEM file of the CA certificates client
	// certificates must chain to: the listener then refuses a client
	// without a valid certificate in the handshake (mutual TLS). It is
	// reloaded like the pair.
	ClientCAFile string `yaml:"client_ca_file"`
	// MinVersion is the lowest TLS version accepted: "1.2" (the default)
	// or "1.3". Lower versions are never accepted.
	MinVersion string `yaml:"min_version"`
}

// Enabled reports whether c turns TLS on (a certificate is configured).
func (c Config) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// Defaults fills MinVersion when TLS is on.
func (c *Config) Defaults() {
	if c.Enabled() && c.MinVersion == "" {
		c.MinVersion = Version12
	}
}

// Validate checks c as a configuration file gives it, naming each fault
// by its YAML path under path (e.g. "tls.agent.key_file: ..."), all of them
// joined. It reads no file: New does.
func (c Config) Validate(path string) error {
	var errs []error
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		errs = append(errs, fmt.Errorf("%s.key_file: missing: cert_file needs the key it was issued for", path))
	case c.KeyFile != "" && c.CertFile == "":
		errs = append(errs, fmt.Errorf("%s.cert_file: missing: key_file needs its certificate", path))
	}
	if c.ClientCAFile != "" && !c.Enabled() {
		errs = append(errs, fmt.Errorf("%s.client_ca_file: client certificates need TLS: set cert_file and key_file", path))
	}
	if _, err := minVersion(c.MinVersion); err != nil {
		errs = append(errs, fmt.Errorf("%s.min_version: %w", path, err))
	}
	return errors.Join(errs...)
}

// minVersion maps MinVersion to the crypto/tls constant; empty is TLS 1.2.
func minVersion(v string) (uint16, error) {
	switch v {
	case "", Version12:
		return tls.VersionTLS12, nil
	case Version13:
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q: want %q or %q (nothing below TLS 1.2 is accepted)", v, Version12, Version13)
}

// Options carry what New needs beyond the configuration.
type Options struct {
	// Name says which listener this is in logs ("agent", "admin",
	// "console").
	Name string
	// Logger receives reloads and failed reloads; nil means
	// slog.Default().
	Logger *slog.Logger
	// NextProtos are the ALPN protocols offered, in order of preference
	// (e.g. h2 and http/1.1 for net/http); nil offers none.
	NextProtos []string
	// Now is the clock certificates are checked against; nil means
	// time.Now.
	Now func() time.Time
}

// Reloader serves the certificate of a Config, reloaded when its files
// change. Its methods are safe for concurrent use.
type Reloader struct {
	cfg   Config
	opts  Options
	min   uint16
	files *certfiles.Reloader
	// conf is the server configuration built from the last load the
	// files gave, rebuilt when they give another.
	conf atomic.Pointer[built]
}

// built is the server configuration of one load of the files.
type built struct {
	from *certfiles.Loaded
	conf *tls.Config
}

// New loads the files of cfg (defaults applied, TLS enabled) and returns a
// Reloader serving them. A file that does not load is an error naming it.
func New(cfg Config, opts Options) (*Reloader, error) {
	if !cfg.Enabled() {
		return nil, errors.New("servertls: no cert_file and key_file")
	}
	if err := cfg.Validate("tls"); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Reloader{cfg: cfg, opts: opts}
	r.min, _ = minVersion(cfg.MinVersion)
	var err error
	r.files, err = certfiles.New(certfiles.Files{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, CAFile: cfg.ClientCAFile},
		certfiles.Options{Logger: log.With(slog.String("listener", opts.Name)), CAKey: "client_ca_file", Now: opts.Now})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Certificate returns the leaf certificate the next handshake presents
// (the files checked first).
func (r *Reloader) Certificate() *x509.Certificate { return r.files.Leaf() }

// TLSConfig returns the server configuration to listen with: each
// handshake checks the files first, then uses the current certificate
// and client CAs.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: r.min,
		NextProtos: r.opts.NextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.current(), nil
		},
	}
}

// Listener wraps ln: its connections speak TLS with TLSConfig.
func (r *Reloader) Listener(ln net.Listener) net.Listener { return tls.NewListener(ln, r.TLSConfig()) }

// current returns the configuration of the files' current load, building
// it the first time that load is seen.
func (r *Reloader) current() *tls.Config {
	l := r.files.Current()
	if b := r.conf.Load(); b != nil && b.from == l {
		return b.conf
	}
	conf := &tls.Config{
		MinVersion:   r.min,
		NextProtos:   r.opts.NextProtos,
		Certificates: []tls.Certificate{*l.Certificate},
	}
	if l.CAs != nil {
		conf.ClientCAs = l.CAs
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	r.conf.Store(&built{from: l, conf: conf})
	return conf
}
