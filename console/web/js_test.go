package web

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Node.js is a test tool only: nothing of it is needed to build or serve
// the console, and these tests skip without it.

// nodeWorkspace finds node (18 or later, for node:test) and lays out a
// temporary directory holding the assets and testdata's JS files, marked
// as ES modules, so that the tests import the assets as the browser does.
// It returns node, the directory and the asset modules.
func nodeWorkspace(t *testing.T) (node, dir string, modules []string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the JS tests are skipped")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Skipf("node --version: %v", err)
	}
	m := regexp.MustCompile(`^v(\d+)\.`).FindStringSubmatch(strings.TrimSpace(string(out)))
	if m == nil {
		t.Skipf("node --version: %q", out)
	}
	if major, _ := strconv.Atoi(m[1]); major < 18 {
		t.Skipf("node %s is older than 18 (node:test)", strings.TrimSpace(string(out)))
	}

	dir = t.TempDir()
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", []byte(`{"type": "module", "private": true}`+"\n"))
	entries, err := fs.ReadDir(staticFiles, "static")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(staticFiles, "static/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		write(e.Name(), b)
		if strings.HasSuffix(e.Name(), ".js") {
			modules = append(modules, e.Name())
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		write(filepath.Base(p), b)
	}
	return node, dir, modules
}

// runNode runs node with args in dir, failing the test with its output.
func runNode(t *testing.T, node, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_OPTIONS=", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if testing.Verbose() {
		t.Logf("node %s:\n%s", strings.Join(args, " "), out)
	}
}

// TestJS parses every asset module (node --check) and runs the JS unit
// tests, testdata/*.test.js: the pure functions of static/lib.js, and the
// XSS-safety of the rendering (dom.js, views.js) on a fake DOM.
func TestJS(t *testing.T) {
	node, dir, modules := nodeWorkspace(t)
	for _, m := range modules {
		runNode(t, node, dir, "--check", m)
	}
	tests, err := filepath.Glob(filepath.Join(dir, "*.test.js"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no JS tests (%v)", err)
	}
	args := []string{"--test"}
	for _, p := range tests {
		args = append(args, filepath.Base(p))
	}
	runNode(t, node, dir, args...)
}

// TestAppSmoke runs testdata/*.smoke.js, the whole application in jsdom
// against a mock API (app.smoke.js: the alert wall; qa.smoke.js: the
// quality audits), when XUNJIAN_WEB_NODE_MODULES names a node_modules
// directory holding jsdom (the repository ships none; CI skips this).
func TestAppSmoke(t *testing.T) {
	mods := os.Getenv("XUNJIAN_WEB_NODE_MODULES")
	if mods == "" {
		t.Skip("XUNJIAN_WEB_NODE_MODULES is not set: the jsdom smoke test is skipped")
	}
	if _, err := os.Stat(filepath.Join(mods, "jsdom")); err != nil {
		t.Fatalf("XUNJIAN_WEB_NODE_MODULES=%s: no jsdom there: %v", mods, err)
	}
	node, dir, _ := nodeWorkspace(t)
	abs, err := filepath.Abs(mods)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.smoke.js", "qa.smoke.js"} {
		t.Run(name, func(t *testing.T) { runNode(t, node, dir, name) })
	}
}
