// Package certfiles keeps the PEM files of one end of a TLS connection
// loaded: its own certificate and key (both or neither) and the CA
// certificates its peers must chain to, reloaded when the files change,
// without a restart. internal/servertls serves them on the listeners
// (the CA file there is the client CA); internal/kafkasec presents the
// certificate to the brokers and verifies them with the CA file. Expiry
// exports their not-after times to Prometheus.
//
// Rotation. Certificate managers (cert-manager, certbot, a Vault agent)
// replace the files in place or rename new ones over them. Before each
// handshake the user of a Reloader calls Current, which looks at the
// files' size, modification time and identity (one stat each, no read)
// and, when any changed, loads them again: the handshake that follows uses
// the new files. A pair that does not load (the key not matching the
// certificate, a half-written file, an expired certificate) or a CA file
// without a certificate leaves the previous ones in use; the failure is
// logged once per change of the files, and the load is tried again at most
// once a second until it succeeds, so a certificate and key written one
// after the other within one tick of a coarse file-system clock are still
// picked up. Connections already established keep what they were made
// with.
//
// Nothing here reads a private key's content into logs or errors: errors
// name the file and the reason.
package certfiles

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// retryFailed is how often a load that failed is tried again while the
// files look unchanged.
const retryFailed = time.Second

// Files names the PEM files of one end of a TLS connection.
type Files struct {
	// CertFile and KeyFile are the certificate (its chain after it, if
	// any) and its private key; both or neither.
	CertFile, KeyFile string
	// CAFile holds the CA certificates the peer's certificate must chain
	// to; empty loads none.
	CAFile string
}

// Options carry what New needs beyond the files.
type Options struct {
	// Logger receives reloads and failed reloads; give it the attributes
	// saying whose files these are (e.g. listener=agent). Nil means
	// slog.Default().
	Logger *slog.Logger
	// Client says the certificate is presented to servers rather than
	// served: it words the logs.
	Client bool
	// Prefix goes before the files' configuration keys in errors: with
	// "kafka.tls." a missing CA file is "kafka.tls.ca_file: …".
	Prefix string
	// CAKey is the CA file's configuration key in errors; empty means
	// "ca_file".
	CAKey string
	// Now is the clock certificates are checked against; nil means
	// time.Now.
	Now func() time.Time
}

// Loaded is one successful load of the files. It is shared by every
// handshake that uses it: do not modify it.
type Loaded struct {
	// Certificate is the pair, Leaf its parsed first certificate; both
	// nil without CertFile.
	Certificate *tls.Certificate
	Leaf        *x509.Certificate
	// CAs are the certificates of CAFile; nil without one.
	CAs *x509.CertPool
}

// Reloader keeps Files loaded. Its methods are safe for concurrent use.
type Reloader struct {
	files Files
	opts  Options
	log   *slog.Logger
	// cur is the last successful load.
	cur atomic.Pointer[Loaded]
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

// New loads files and returns a Reloader keeping them loaded. A file that
// does not load is an error naming it.
func New(files Files, opts Options) (*Reloader, error) {
	switch {
	case (files.CertFile == "") != (files.KeyFile == ""):
		return nil, fmt.Errorf("%scert_file and %skey_file go together", opts.Prefix, opts.Prefix)
	case files.CertFile == "" && files.CAFile == "":
		return nil, errors.New("certfiles: no file to load")
	}
	r := &Reloader{files: files, opts: opts, log: opts.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.opts.Now == nil {
		r.opts.Now = time.Now
	}
	if r.opts.CAKey == "" {
		r.opts.CAKey = "ca_file"
	}
	st := r.stamp()
	l, err := r.load()
	if err != nil {
		return nil, err
	}
	r.seen = st
	r.cur.Store(l)
	return r, nil
}

// Current checks the files (reloading them if they changed) and returns
// what is loaded: what the next handshake should use.
func (r *Reloader) Current() *Loaded {
	r.check()
	return r.cur.Load()
}

// Leaf returns the certificate the next handshake presents (the files
// checked first); nil without a certificate file.
func (r *Reloader) Leaf() *x509.Certificate { return r.Current().Leaf }

// GetClientCertificate is a tls.Config.GetClientCertificate: the current
// certificate, the files checked first. Without a certificate file it
// answers an empty one, which sends the server none.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if c := r.Current().Certificate; c != nil {
		return c, nil
	}
	return &tls.Certificate{}, nil
}

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
			r.logFailure(err)
		}
		r.failed, r.retryAt = err, now.Add(retryFailed)
		return
	}
	r.failed = nil
	r.cur.Store(l)
	if l.Leaf == nil {
		r.log.LogAttrs(context.Background(), slog.LevelInfo, "TLS CA certificates reloaded", slog.String("file", r.files.CAFile))
		return
	}
	r.log.LogAttrs(context.Background(), slog.LevelInfo, "TLS certificate reloaded",
		slog.String("subject", l.Leaf.Subject.String()), slog.String("serial", l.Leaf.SerialNumber.Text(16)),
		slog.Time("not_after", l.Leaf.NotAfter))
}

// logFailure logs a load that failed and what stays in use.
func (r *Reloader) logFailure(err error) {
	verb := "serving"
	if r.opts.Client {
		verb = "presenting"
	}
	attrs := []slog.Attr{slog.String("error", err.Error())}
	msg := "TLS files changed but do not load; still using the previous CA certificates"
	if leaf := r.cur.Load().Leaf; leaf != nil {
		msg = "TLS files changed but do not load; still " + verb + " the previous certificate"
		attrs = append(attrs, slog.Time(verb+"_not_after", leaf.NotAfter))
	}
	r.log.LogAttrs(context.Background(), slog.LevelError, msg, attrs...)
}

// load reads the pair and the CA file. A certificate outside its validity
// period is refused: presenting it would fail every peer.
func (r *Reloader) load() (*Loaded, error) {
	var l Loaded
	p := r.opts.Prefix
	if f := r.files; f.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load %scert_file %s and key_file %s: %w", p, f.CertFile, f.KeyFile, err)
		}
		leaf := pair.Leaf
		if leaf == nil { // LoadX509KeyPair fills Leaf since Go 1.23
			if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
				return nil, fmt.Errorf("%scert_file %s: %w", p, f.CertFile, err)
			}
		}
		now := r.opts.Now()
		switch {
		case now.After(leaf.NotAfter):
			return nil, fmt.Errorf("%scert_file %s: the certificate expired at %s", p, f.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))
		case now.Before(leaf.NotBefore):
			return nil, fmt.Errorf("%scert_file %s: the certificate is not valid before %s", p, f.CertFile, leaf.NotBefore.UTC().Format(time.RFC3339))
		}
		l.Certificate, l.Leaf = &pair, leaf
	}
	if f := r.files.CAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", p, r.opts.CAKey, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s%s %s: no PEM certificate in it", p, r.opts.CAKey, f)
		}
		l.CAs = pool
	}
	return &l, nil
}

// stamp is what tells a file changed without reading it.
type stamp struct {
	size  int64
	mtime int64
	id    uint64 // the file's identity (inode), where the system has one
	err   string // the stat's error: a missing file is a state too
}

// stamps are those of the certificate, key and CA files.
type stamps [3]stamp

func (r *Reloader) stamp() stamps {
	var s stamps
	for i, path := range []string{r.files.CertFile, r.files.KeyFile, r.files.CAFile} {
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
