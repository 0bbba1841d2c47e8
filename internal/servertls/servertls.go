// Package servertls is TLS on the listeners of the gateway (agent and
// admin ports) and the console: the `tls` section a listener is configured
// with (a certificate and key file, optionally a client CA that makes the
// listener require client certificates, a minimum version of TLS 1.2 or
// 1.3), and a Reloader that serves them and picks up new files without a
// restart.
//
// Rotation. Certificate managers (cert-manager, certbot, a Vault agent)
// replace the files in place or rename new ones over them. Before each
// handshake the Reloader looks at the files' size, modification time and
// identity (one stat each, no read) and, when any changed, loads them again:
// the handshake that follows presents the new certificate. A pair that
// does not load (the key not matching the certificate, a half-written
// file, an expired certificate) or a client CA file without a certificate
// leaves the previous ones in use; the failure is logged once per change of
// the files, and the load is tried again at most once a second until it
// succeeds, so a certificate and key written one after the other within
// one tick of a coarse file-system clock are still picked up. Connections
// already established keep the certificate they were made with.
//
// Nothing here reads a private key's content into logs or errors: errors
// name the file and the reason.
package servertls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Minimum versions (Config.MinVersion).
const (
	// Version12 is TLS 1.2, the default and the lowest accepted.
	Version12 = "1.2"
	// Version13 is TLS 1.3.
	Version13 = "1.3"
)

// retryFailed is how often a load that failed is tried again while the
// files look unchanged.
const retryFailed = time.Second

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
	cfg  Config
	opts Options
	log  *slog.Logger
	min  uint16
	// cur is what handshakes use: the last pair and client CAs that
	// loaded, as a server tls.Config.
	cur atomic.Pointer[loaded]
	// mu is held by the goroutine checking the files; the others go on
	// with cur rather than wait.
	mu sync.Mutex
	// seen are the files' stamps at the last load attempt; failed is
	// that attempt's error (nil after a success), and retryAt when a
	// failed load is tried again though the stamps did not change. Held
	// under mu.
	seen    stamps
	failed  error
	retryAt time.Time
}

// loaded is one successful load.
type loaded struct {
	conf *tls.Config
	leaf *x509.Certificate
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
	r := &Reloader{cfg: cfg, opts: opts, log: opts.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.opts.Now == nil {
		r.opts.Now = time.Now
	}
	r.min, _ = minVersion(cfg.MinVersion)
	st := r.stamp()
	l, err := r.load()
	if err != nil {
		return nil, err
	}
	r.seen = st
	r.cur.Store(l)
	return r, nil
}

// Certificate returns the leaf certificate handshakes present now.
func (r *Reloader) Certificate() *x509.Certificate { return r.cur.Load().leaf }

// TLSConfig returns the server configuration to listen with: each
// handshake checks the files first, then uses the current certificate
// and client CAs.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: r.min,
		NextProtos: r.opts.NextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			r.check()
			return r.cur.Load().conf, nil
		},
	}
}

// Listener wraps ln: its connections speak TLS with TLSConfig.
func (r *Reloader) Listener(ln net.Listener) net.Listener { return tls.NewListener(ln, r.TLSConfig()) }

// check reloads the files if their stamps changed since the last attempt
// (or the last attempt failed over a second ago). A goroutine finding
// another one checking does not wait for it.
func (r *Reloader) check() {
	if !r.mu.TryLock() {
		return
	}
	defer r.mu.Unlock()
	st := r.stamp()
	now := r.opts.Now()
	if st == r.seen && (r.failed == nil || now.Before(r.retryAt)) {
		return
	}
	changed := st != r.seen
	r.seen = st
	l, err := r.load()
	if err != nil {
		if changed || r.failed == nil || err.Error() != r.failed.Error() {
			r.log.LogAttrs(context.Background(), slog.LevelError, "TLS files changed but do not load; still serving the previous certificate",
				slog.String("listener", r.opts.Name), slog.String("error", err.Error()),
				slog.Time("serving_not_after", r.cur.Load().leaf.NotAfter))
		}
		r.failed, r.retryAt = err, now.Add(retryFailed)
		return
	}
	r.failed = nil
	prev := r.cur.Swap(l)
	if !l.leaf.Equal(prev.leaf) || changed {
		r.log.LogAttrs(context.Background(), slog.LevelInfo, "TLS certificate reloaded",
			slog.String("listener", r.opts.Name), slog.String("subject", l.leaf.Subject.String()),
			slog.String("serial", l.leaf.SerialNumber.Text(16)), slog.Time("not_after", l.leaf.NotAfter))
	}
}

// load reads the pair and the client CAs and builds the configuration a
// handshake uses. A certificate outside its validity period is refused:
// serving it would fail every client.
func (r *Reloader) load() (*loaded, error) {
	pair, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load cert_file %s and key_file %s: %w", r.cfg.CertFile, r.cfg.KeyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil { // LoadX509KeyPair fills Leaf since Go 1.23
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("cert_file %s: %w", r.cfg.CertFile, err)
		}
	}
	now := r.opts.Now()
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("cert_file %s: the certificate expired at %s", r.cfg.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("cert_file %s: the certificate is not valid before %s", r.cfg.CertFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	conf := &tls.Config{
		MinVersion:   r.min,
		NextProtos:   r.opts.NextProtos,
		Certificates: []tls.Certificate{pair},
	}
	if r.cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(r.cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client_ca_file %s: no PEM certificate in it", r.cfg.ClientCAFile)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return &loaded{conf: conf, leaf: leaf}, nil
}

// stamp is what tells a file changed without reading it.
type stamp struct {
	size  int64
	mtime int64
	id    uint64 // the file's identity (inode), where the system has one
	err   string // the stat's error: a missing file is a state too
}

// stamps are those of the certificate, key and client CA files.
type stamps [3]stamp

func (r *Reloader) stamp() stamps {
	var s stamps
	for i, path := range []string{r.cfg.CertFile, r.cfg.KeyFile, r.cfg.ClientCAFile} {
		if path == "" {
			continue
		}
		fi, err := os.Stat(path)
		if err != nil {
			s[i].err = err.Error()
			continue
		}
		s[i] = stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano(), id: fileID(fi)}
	}
	return s
}
