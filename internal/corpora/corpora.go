// Package corpora locates the test corpora vendored in the repository, in
// testdata/corpora at the repository root (see testdata/corpora/README.md
// for what each folder holds, its source and its licence).
//
// The repository root is the folder holding the go.mod of module
// github.com/xunjian/xunjian, found by walking up from the working
// directory; go test runs each package's tests in the package's folder, so
// every test of the module finds it. Nothing outside the repository is
// consulted: a checkout, or a fresh clone of it, has all the data its tests
// read.
//
// A corpus that cannot be found is an error, and in tests (File) a failure,
// never a skip: the corpora are part of the repository, and a missing one
// means the checkout is incomplete.
package corpora

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Module is the module path whose go.mod marks the repository root.
const Module = "github.com/xunjian/xunjian"

// RelDir is where the corpora are, relative to the repository root, in
// slash-separated form.
const RelDir = "testdata/corpora"

// NotFoundError reports a corpus file or folder missing from the vendored
// corpora.
type NotFoundError struct {
	// Rel is the corpus path asked for, relative to the corpora folder.
	Rel string
	// Path is the absolute path where it was looked for.
	Path string
	// Err is the underlying error, usually wrapping fs.ErrNotExist.
	Err error
}

// Error says which corpus is missing and where it was expected.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("corpus %s not found at %s: the repository's %s is incomplete", e.Rel, e.Path, RelDir)
}

// Unwrap returns the underlying error, so that errors.Is(err,
// fs.ErrNotExist) holds for a missing file.
func (e *NotFoundError) Unwrap() error { return e.Err }

// Root returns the repository root: the nearest folder at or above the
// working directory whose go.mod declares module Module.
func Root() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("repository root: %w", err)
	}
	return findRoot(wd)
}

// Dir returns the absolute path of the vendored corpora folder,
// <root>/testdata/corpora, and an error when the root or the folder is not
// found.
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("corpora folder: %w", err)
	}
	return dirFrom(wd)
}

// Path returns the absolute path of rel, a slash-separated path inside the
// corpora folder such as "crosswoz_zh/utterances.jsonl", after checking
// that it exists. A missing corpus gives a *NotFoundError; rel must be a
// valid io/fs path (no "..", no leading slash).
func Path(rel string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("corpus %s: %w", rel, err)
	}
	return pathFrom(wd, rel)
}

// File is Path for tests: it returns the absolute path of rel and fails
// the test with t.Fatal when the corpus cannot be found. It never skips.
func File(t testing.TB, rel string) string {
	t.Helper()
	p, err := Path(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// findRoot walks up from start to the folder whose go.mod declares Module.
// A go.mod of another module (a nested test module, say) is passed over.
func findRoot(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("repository root: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		switch {
		case err == nil:
			if modulePath(data) == Module {
				return dir, nil
			}
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("repository root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repository root not found: no go.mod of module %s at or above %s", Module, start)
		}
		dir = parent
	}
}

// dirFrom returns the corpora folder of the repository found from start.
func dirFrom(start string) (string, error) {
	root, err := findRoot(start)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, filepath.FromSlash(RelDir))
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("corpora folder not found at %s: the repository's %s is missing: %w", dir, RelDir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("corpora folder %s: not a directory", dir)
	}
	return dir, nil
}

// pathFrom returns the absolute path of the corpus rel in the repository
// found from start, checking that it exists.
func pathFrom(start, rel string) (string, error) {
	if !fs.ValidPath(rel) || rel == "." {
		return "", fmt.Errorf("corpus %q: want a slash-separated path inside %s (no \"..\", no leading slash)", rel, RelDir)
	}
	dir, err := dirFrom(start)
	if err != nil {
		return "", fmt.Errorf("corpus %s: %w", rel, err)
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", &NotFoundError{Rel: rel, Path: p, Err: err}
		}
		return "", fmt.Errorf("corpus %s: %w", rel, err)
	}
	return p, nil
}

// modulePath returns the path of go.mod's module directive, or "" when it
// has none. It reads only what it needs: the first "module" line, with the
// path bare or quoted and an optional trailing // comment.
func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "module")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '"') {
			continue
		}
		if i := strings.Index(rest, "//"); i >= 0 {
			rest = rest[:i]
		}
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, `"`) || strings.HasPrefix(rest, "`") {
			if s, err := strconv.Unquote(rest); err == nil {
				return s
			}
			return ""
		}
		return rest
	}
	return ""
}
