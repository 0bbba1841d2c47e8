package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// get serves one request with Handler.
func get(t *testing.T, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	return w
}

// assetNames lists the embedded assets (every file but index.html).
func assetNames(t *testing.T) []string {
	t.Helper()
	entries, err := fs.ReadDir(staticFiles, "static")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "index.html" {
			names = append(names, e.Name())
		}
	}
	if len(names) < 6 {
		t.Fatalf("assets: %v", names)
	}
	return names
}

func readStatic(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(staticFiles, "static/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkSecurityHeaders(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	h := w.Header()
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
}

func TestIndex(t *testing.T) {
	for _, target := range []string{"/", "/?lang=en&state=resolved", "/conversations/c-1", "/agents/%E5%9D%90%E5%B8%AD", "/some/where/else.png", "/qa", "/qa/tasks/T-1", "/healthz-not-mine", "/assetsx", "/apix"} {
		w := get(t, http.MethodGet, target)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", target, w.Code)
		}
		checkSecurityHeaders(t, w, target)
		if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", target, ct)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q", target, cc)
		}
		body := w.Body.String()
		if strings.Contains(body, versionPlaceholder) || !strings.Contains(body, "/assets/"+Version()+"/app.js") {
			t.Errorf("GET %s: index without its assets' version:\n%s", target, body)
		}
		if !strings.HasPrefix(body, "<!doctype html>") {
			t.Errorf("GET %s: not the index", target)
		}
	}
}

// TestIndexReferences fetches every asset index.html and the modules name.
func TestIndexReferences(t *testing.T) {
	index := get(t, http.MethodGet, "/").Body.String()
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) < 3 {
		t.Fatalf("index refers to %d assets", len(refs))
	}
	seen := map[string]bool{}
	for _, m := range refs {
		seen[path.Base(m[1])] = true
		if w := get(t, http.MethodGet, m[1]); w.Code != http.StatusOK {
			t.Errorf("index refers to %s: %d", m[1], w.Code)
		}
	}
	// Relative imports and URLs of the modules resolve to assets.
	rel := regexp.MustCompile(`(?:from\s+|import\s*\(\s*|new URL\(\s*)'\./([^']+)'`)
	for _, name := range assetNames(t) {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range rel.FindAllStringSubmatch(readStatic(t, name), -1) {
			seen[m[1]] = true
			if w := get(t, http.MethodGet, "/assets/"+Version()+"/"+m[1]); w.Code != http.StatusOK {
				t.Errorf("%s imports %s: %d", name, m[1], w.Code)
			}
		}
	}
	for _, name := range assetNames(t) {
		if !seen[name] {
			t.Errorf("asset %s is used by nothing", name)
		}
	}
}

func TestAssets(t *testing.T) {
	types := map[string]string{
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".json": "application/json; charset=utf-8",
		".svg":  "image/svg+xml",
	}
	for _, name := range assetNames(t) {
		want := readStatic(t, name)
		for _, c := range []struct{ target, cache string }{
			{"/assets/" + Version() + "/" + name, "public, max-age=31536000, immutable"},
			{"/assets/" + name, "no-cache"},
			{"/assets/0123456789ab/" + name, "no-cache"}, // a page of another build
		} {
			w := get(t, http.MethodGet, c.target)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s: %d", c.target, w.Code)
			}
			checkSecurityHeaders(t, w, c.target)
			if got := w.Header().Get("Content-Type"); got != types[path.Ext(name)] {
				t.Errorf("GET %s: Content-Type %q, want %q", c.target, got, types[path.Ext(name)])
			}
			if got := w.Header().Get("Cache-Control"); got != c.cache {
				t.Errorf("GET %s: Cache-Control %q, want %q", c.target, got, c.cache)
			}
			if w.Body.String() != want {
				t.Errorf("GET %s: body differs from the embedded file", c.target)
			}
			if w.Header().Get("ETag") == "" {
				t.Errorf("GET %s: no ETag", c.target)
			}
		}
	}
}

func TestNotFound(t *testing.T) {
	v := Version()
	for _, target := range []string{
		"/assets/nope.js", "/assets/" + v + "/nope.js", "/assets/" + v + "/index.html", "/assets/index.html",
		"/assets/", "/assets", "/assets/" + v + "/", "/assets/" + v + "/sub/app.js", "/assets/../app.js",
		"/assets/NOTAVERSION1/app.js", "/assets/0123456789AB/app.js", "/assets/" + v + "x/app.js", "/assets/app.js/",
	} {
		w := get(t, http.MethodGet, target)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", target, w.Code)
			continue
		}
		checkSecurityHeaders(t, w, target)
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", target, cc)
		}
		if strings.Contains(w.Body.String(), "<html") {
			t.Errorf("GET %s: answered with the index", target)
		}
	}
	for _, target := range []string{"/api", "/api/", "/api/nope", "/api/alerts"} {
		w := get(t, http.MethodGet, target)
		if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/json" ||
			!strings.Contains(w.Body.String(), `"code":"not_found"`) {
			t.Errorf("GET %s: %d %q %s", target, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		checkSecurityHeaders(t, w, target)
	}
}

func TestHeadAndConditional(t *testing.T) {
	for _, target := range []string{"/", "/conversations/x", "/assets/" + Version() + "/app.js", "/assets/app.css"} {
		g := get(t, http.MethodGet, target)
		w := get(t, http.MethodHead, target)
		if w.Code != http.StatusOK {
			t.Fatalf("HEAD %s: %d", target, w.Code)
		}
		if w.Body.Len() != 0 {
			t.Errorf("HEAD %s: a body of %d bytes", target, w.Body.Len())
		}
		if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(g.Body.Len()) {
			t.Errorf("HEAD %s: Content-Length %q, want %d", target, cl, g.Body.Len())
		}
		checkSecurityHeaders(t, w, "HEAD "+target)
		if w.Header().Get("Content-Type") != g.Header().Get("Content-Type") {
			t.Errorf("HEAD %s: Content-Type %q", target, w.Header().Get("Content-Type"))
		}
		nm := get(t, http.MethodGet, target, "If-None-Match", g.Header().Get("ETag"))
		if nm.Code != http.StatusNotModified {
			t.Errorf("GET %s If-None-Match: %d, want 304", target, nm.Code)
		}
	}
}

func TestMethods(t *testing.T) {
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, target := range []string{"/", "/assets/app.js"} {
			w := get(t, m, target)
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q", m, target, w.Code, w.Header().Get("Allow"))
			}
			checkSecurityHeaders(t, w, m+" "+target)
		}
	}
}

func TestLoad(t *testing.T) {
	good := fstest.MapFS{
		"s/index.html": {Data: []byte(`<script type="module" src="/assets/{{version}}/a.js"></script>`)},
		"s/a.js":       {Data: []byte(`export {}`)},
	}
	s, err := load(good, "s")
	if err != nil {
		t.Fatal(err)
	}
	if !isVersion(s.version) || string(s.index.body) != `<script type="module" src="/assets/`+s.version+`/a.js"></script>` {
		t.Errorf("version %q, index %s", s.version, s.index.body)
	}
	// The version changes with any asset.
	good["s/a.js"] = &fstest.MapFile{Data: []byte(`export { x }`)}
	if s2, _ := load(good, "s"); s2.version == s.version {
		t.Error("the version did not change with an asset")
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no index":       {"s/a.js": {Data: []byte(`x`)}},
		"unknown type":   {"s/index.html": {Data: nil}, "s/a.exe": {Data: []byte(`x`)}},
		"sub-directory":  {"s/index.html": {Data: nil}, "s/d/a.js": {Data: []byte(`x`)}},
		"no such folder": {},
	} {
		if _, err := load(fsys, "s"); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
