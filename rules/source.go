package rules

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// Bundle sources
//
// A Source tells a Reloader where the versions of a bundle come from and
// whether a new one is there. Polling must be cheap, so each source keeps
// what it saw last: a directory the size, mode and modification time of
// every entry, a tarball its size and modification time (then the hash of
// its bytes to confirm), an HTTP source the ETag of the last body (sent as
// If-None-Match, so an unchanged bundle costs a 304) and the hash of that
// body. Only when that cheap check says "changed" is the bundle read and
// parsed. The Reloader then compares the content digest with the version
// it serves, so touching a file or re-packing the same tarball is no
// reload.

// DefaultMaxBundleBytes bounds a bundle fetched by a [Source] unless
// [SourceOptions.MaxBytes] says otherwise.
const DefaultMaxBundleBytes = 64 << 20

// DefaultFetchTimeout bounds one HTTP fetch unless [SourceOptions.Timeout]
// says otherwise.
const DefaultFetchTimeout = 30 * time.Second

// Source is where a [Reloader] gets the versions of a policy bundle: a
// directory, a .tar.gz file, an HTTP(S) URL serving a .tar.gz, or the
// default bundle embedded in the binary. Create one with [NewSource].
//
// The interface is sealed: the four kinds above are all there is, and their
// change detection is internal. A Source is used by one Reloader; its
// methods are safe for concurrent use.
type Source interface {
	// String names the source for logs and status: the path, or the URL
	// without its password.
	String() string

	// fetch returns the bundle's content, or nil when the cheap check says
	// nothing changed since the last fetch that returned content (force
	// skips that check). An error means the source could not be read (I/O,
	// network, status, size): the caller tries again at the next poll. A
	// bundle that was read but is invalid comes back as a snapshot with
	// err set: it stays refused until the source changes again.
	fetch(ctx context.Context, force bool) (*snapshot, error)
}

// snapshot is one version of a bundle as fetched: parsed, or the reason it
// could not be.
type snapshot struct {
	src      *source
	err      error         // the bundle is invalid (parse error, bad data file, …)
	readTime time.Duration // reading and parsing
}

// SourceOptions configure [NewSource]. The zero value is ready to use.
type SourceOptions struct {
	// Client makes the requests of an HTTP(S) source. Nil means a client
	// of its own on http.DefaultTransport's settings; requests are bounded
	// by Timeout either way.
	Client *http.Client
	// Header is added to every request of an HTTP(S) source, e.g.
	// Authorization for a bundle server that wants a bearer token.
	Header http.Header
	// Timeout bounds one HTTP fetch, body included; zero means
	// DefaultFetchTimeout.
	Timeout time.Duration
	// MaxBytes bounds a fetched bundle: an HTTP body or a .tar.gz file, and
	// the total size of the files in a tarball once unpacked. Zero means
	// DefaultMaxBundleBytes. (Each single file is also bounded by 64 MiB,
	// as for Load.)
	MaxBytes int64
}

// NewSource returns the Source for spec, as `xunjian serve --policy` takes
// it: an http:// or https:// URL of a bundle (.tar.gz, as OPA's bundle
// service serves it), a directory, a .tar.gz file, or "" for the default
// bundle embedded in the binary. A path must exist.
func NewSource(spec string, opts SourceOptions) (Source, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBundleBytes
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultFetchTimeout
	}
	switch {
	case spec == "":
		return &embeddedSource{}, nil
	case strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://"):
		u, err := url.Parse(spec)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("policy source %q: not a valid URL", spec)
		}
		client := opts.Client
		if client == nil {
			client = &http.Client{}
		}
		return &httpSource{url: u.String(), name: u.Redacted(), client: client, header: opts.Header.Clone(), timeout: opts.Timeout, max: opts.MaxBytes}, nil
	}
	st, err := os.Stat(spec)
	if err != nil {
		return nil, fmt.Errorf("policy source: %w", err)
	}
	if st.IsDir() {
		return &dirSource{dir: spec}, nil
	}
	return &tarSource{file: spec, max: opts.MaxBytes}, nil
}

// embeddedSource is the default bundle in the binary: it never changes.
type embeddedSource struct {
	mu      sync.Mutex // guards fetched
	fetched bool
}

func (s *embeddedSource) String() string { return "(built-in)" }

func (s *embeddedSource) fetch(_ context.Context, force bool) (*snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fetched && !force {
		return nil, nil
	}
	start := time.Now()
	src, err := readFS(defaultBundle, defaultBundleDir)
	s.fetched = true
	return &snapshot{src: src, err: err, readTime: time.Since(start)}, nil
}

// dirSource is a bundle directory on disk.
type dirSource struct {
	dir string
	mu  sync.Mutex // guards seen
	// seen is the stat fingerprint of the last content returned.
	seen string
}

func (s *dirSource) String() string { return s.dir }

func (s *dirSource) fetch(ctx context.Context, force bool) (*snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before, err := statTree(ctx, s.dir)
	if err != nil {
		return nil, err
	}
	if before == s.seen && !force {
		return nil, nil
	}
	start := time.Now()
	src, rerr := readPath(s.dir)
	snap := &snapshot{src: src, err: rerr, readTime: time.Since(start)}
	// A directory being written while we read it may give a mix of old
	// and new files: remember it as seen only when nothing moved, so the
	// next poll reads it again otherwise.
	after, err := statTree(ctx, s.dir)
	if err == nil && after == before {
		s.seen = before
	} else {
		s.seen = ""
	}
	return snap, nil
}

// statTree fingerprints the names, sizes, modes and modification times of
// everything under dir, without reading any file.
func statTree(ctx context.Context, dir string) (string, error) {
	h := sha256.New()
	var buf [8]byte
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		io.WriteString(h, rel)
		h.Write([]byte{0})
		binary.LittleEndian.PutUint64(buf[:], uint64(info.Size()))
		h.Write(buf[:])
		binary.LittleEndian.PutUint64(buf[:], uint64(info.ModTime().UnixNano()))
		h.Write(buf[:])
		binary.LittleEndian.PutUint64(buf[:], uint64(info.Mode()))
		h.Write(buf[:])
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("policy source %s: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// tarSource is a .tar.gz bundle file on disk.
type tarSource struct {
	file string
	max  int64
	mu   sync.Mutex // guards stat and sum
	stat string     // size and modification time last seen
	sum  string     // sha256 of the bytes last returned
}

func (s *tarSource) String() string { return s.file }

func (s *tarSource) fetch(ctx context.Context, force bool) (*snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(s.file)
	if err != nil {
		return nil, fmt.Errorf("policy source: %w", err)
	}
	stat := fmt.Sprintf("%d/%d/%v", st.Size(), st.ModTime().UnixNano(), st.Mode())
	if stat == s.stat && !force {
		return nil, nil
	}
	if st.Size() > s.max {
		return nil, fmt.Errorf("policy source %s: %d bytes, more than the limit of %d", s.file, st.Size(), s.max)
	}
	b, err := os.ReadFile(s.file)
	if err != nil {
		return nil, fmt.Errorf("policy source: %w", err)
	}
	s.stat = stat
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) == s.sum && !force {
		return nil, nil
	}
	s.sum = hex.EncodeToString(sum[:])
	return readTarball(s.file, b, s.max), nil
}

// httpSource is a bundle served over HTTP(S), polled with If-None-Match.
type httpSource struct {
	url     string
	name    string // url without the password
	client  *http.Client
	header  http.Header
	timeout time.Duration
	max     int64

	mu   sync.Mutex // guards etag and sum
	etag string     // of the last body returned
	sum  string     // sha256 of the last body returned
}

func (s *httpSource) String() string { return s.name }

func (s *httpSource) fetch(ctx context.Context, force bool) (*snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("policy source %s: %w", s.name, err)
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	conditional := s.etag != "" && !force
	if conditional {
		req.Header.Set("If-None-Match", s.etag)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// The URL may carry a password: say which source, not the request.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("policy source %s: GET: %w", s.name, err)
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // let the connection be reused
		resp.Body.Close()
	}()
	switch {
	case resp.StatusCode == http.StatusNotModified && conditional:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("policy source %s: GET: %s", s.name, resp.Status)
	case resp.ContentLength > s.max:
		return nil, fmt.Errorf("policy source %s: %d bytes, more than the limit of %d", s.name, resp.ContentLength, s.max)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, s.max+1))
	if err != nil {
		return nil, fmt.Errorf("policy source %s: read body: %w", s.name, err)
	}
	if int64(len(b)) > s.max {
		return nil, fmt.Errorf("policy source %s: more than the limit of %d bytes", s.name, s.max)
	}
	s.etag = resp.Header.Get("ETag")
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) == s.sum && !force {
		return nil, nil // a server without ETags sent the same bundle
	}
	s.sum = hex.EncodeToString(sum[:])
	return readTarball(s.name, b, s.max), nil
}

// readTarball parses a .tar.gz bundle held in memory. Before OPA's reader
// sees it, the archive's headers are checked so that its files add up to
// at most max bytes unpacked: a small download cannot unpack into a huge
// one.
func readTarball(name string, b []byte, max int64) *snapshot {
	start := time.Now()
	if err := checkTarball(b, max); err != nil {
		return &snapshot{err: fmt.Errorf("bundle %s: %w", name, err), readTime: time.Since(start)}
	}
	src, err := readLoader(bundle.NewTarballLoaderWithBaseURL(bytes.NewReader(b), name).WithSizeLimitBytes(maxFileBytes))
	if err != nil {
		err = fmt.Errorf("bundle %s: %w", name, err)
	}
	return &snapshot{src: src, err: err, readTime: time.Since(start)}
}

// checkTarball walks a .tar.gz's headers and fails if its regular files
// total more than max bytes.
func checkTarball(b []byte, max int64) error {
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not a .tar.gz: %w", err)
	}
	tr := tar.NewReader(gz)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if total += h.Size; total > max {
			return fmt.Errorf("files unpack to more than the limit of %d bytes", max)
		}
	}
}
