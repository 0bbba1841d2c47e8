// Package web is the supervisors' web console of `xunjian console`: the
// browser application that docs/console.md ("The web console") describes,
// built against the console's HTTP API (/api/...) and served from the
// binary.
//
// Every asset is embedded (package embed): plain HTML, CSS and ES2020
// modules with no build step, nothing loaded from another origin. Handler
// serves them:
//
//   - GET / and every other path outside /assets/ and /api/: index.html,
//     so that the application's own routes (/conversations/{id},
//     /agents/{id}, the quality audits' /qa/...) can be reloaded and
//     linked to;
//   - GET /assets/{version}/{name}: an asset, cached for a year
//     (immutable). The version is a hash of all the assets, so a new
//     binary changes every asset URL; index.html, which names them, is
//     revalidated on every load (ETag);
//   - GET /assets/{name}: the same asset, revalidated on every load;
//   - anything else under /assets/: 404; under /api/: a JSON 404 in the
//     API's error shape (the API server is expected to route /api/ itself
//     and mount Handler for the rest).
//
// Every response carries a strict Content-Security-Policy
// (ContentSecurityPolicy: scripts, styles and connections of the console's
// own origin only, no inline script or style, no framing),
// X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer.
//
// The application renders all text from the server as text nodes (never
// as HTML); the package's tests check that no asset uses the DOM's HTML
// parsing sinks, that no asset refers to another origin, that every
// interface string exists in both languages (zh-CN and en, in
// static/i18n.json) and, when Node.js is installed, run the unit tests of
// the application's pure functions (static/lib.js, static/qalib.js) and of
// its rendering (views.js, qaviews.js).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

// ContentSecurityPolicy is the Content-Security-Policy header of every
// response of Handler.
const ContentSecurityPolicy = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"

// versionPlaceholder is replaced in index.html by the assets' version.
const versionPlaceholder = "{{version}}"

//go:embed static
var staticFiles embed.FS

// contentTypes are the types of the assets by extension; an asset of
// another extension is a build error (see load), so no asset is ever
// served with a sniffed type.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".json": "application/json; charset=utf-8",
	".svg":  "image/svg+xml",
}

// file is one servable file, its body ready.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// site is the console's files: index.html (with the version filled in)
// and the assets by name.
type site struct {
	version string
	index   file
	assets  map[string]file
}

// defaultSite is built once from the embedded files.
var defaultSite = mustLoad(staticFiles, "static")

func mustLoad(fsys fs.FS, dir string) *site {
	s, err := load(fsys, dir)
	if err != nil {
		panic(err)
	}
	return s
}

// load reads the flat directory dir of fsys: index.html and the assets.
func load(fsys fs.FS, dir string) (*site, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("web: read assets: %w", err)
	}
	s := &site{assets: map[string]file{}}
	var index []byte
	names := make([]string, 0, len(entries))
	bodies := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			return nil, fmt.Errorf("web: assets: %s is a directory (the assets are one flat directory)", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("web: read asset: %w", err)
		}
		if e.Name() == "index.html" {
			index = b
			continue
		}
		if _, ok := contentTypes[path.Ext(e.Name())]; !ok {
			return nil, fmt.Errorf("web: asset %s: no content type for %q", e.Name(), path.Ext(e.Name()))
		}
		names = append(names, e.Name())
		bodies[e.Name()] = b
	}
	if index == nil {
		return nil, fmt.Errorf("web: assets: no index.html")
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(bodies[n]))
		h.Write(bodies[n])
	}
	h.Write(index)
	s.version = hex.EncodeToString(h.Sum(nil))[:12]
	for _, n := range names {
		s.assets[n] = newFile(bodies[n], contentTypes[path.Ext(n)])
	}
	s.index = newFile(bytes.ReplaceAll(index, []byte(versionPlaceholder), []byte(s.version)), contentTypes[".html"])
	return s, nil
}

func newFile(body []byte, ctype string) file {
	sum := sha256.Sum256(body)
	return file{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Handler returns the console's handler: index.html at / and at every
// path outside /assets/ and /api/ (the application routes on the client),
// the embedded assets under /assets/, each with its content type, cache
// policy and the security headers. It answers GET and HEAD only.
func Handler() http.Handler { return handler{defaultSite} }

// Version returns the version of the embedded assets: a hash of their
// contents, the {version} of their URLs /assets/{version}/{name}.
func Version() string { return defaultSite.version }

type handler struct{ s *site }

// Cache policies: a versioned asset never changes; index.html and
// unversioned asset URLs are revalidated (ETag) on every use.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		plainError(w, http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/api" || strings.HasPrefix(p, "/api/"):
		hd.Set("Content-Type", "application/json")
		hd.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such API endpoint"}}` + "\n"))
	case p == "/assets" || strings.HasPrefix(p, "/assets/"):
		h.serveAsset(w, r, strings.TrimPrefix(strings.TrimPrefix(p, "/assets"), "/"))
	default:
		serveFile(w, r, h.s.index, cacheRevalidate)
	}
}

// serveAsset serves rest, the path after /assets/: {version}/{name} or
// {name}. An asset asked for under another version (a page of a previous
// binary, e.g. during a rolling deploy) is served, but not for long.
func (h handler) serveAsset(w http.ResponseWriter, r *http.Request, rest string) {
	name, cache := rest, cacheRevalidate
	if v, n, ok := strings.Cut(rest, "/"); ok {
		if !isVersion(v) {
			plainError(w, http.StatusNotFound)
			return
		}
		name = n
		if v == h.s.version {
			cache = cacheImmutable
		}
	}
	f, ok := h.s.assets[name]
	if !ok {
		plainError(w, http.StatusNotFound)
		return
	}
	serveFile(w, r, f, cache)
}

// isVersion reports whether v looks like an assets' version: 12 lower-case
// hex digits.
func isVersion(v string) bool {
	if len(v) != 12 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func serveFile(w http.ResponseWriter, r *http.Request, f file, cache string) {
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", cache)
	hd.Set("ETag", f.etag)
	// ServeContent answers HEAD, If-None-Match and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// plainError writes status with its text, never cached.
func plainError(w http.ResponseWriter, status int) {
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, http.StatusText(status))
}
