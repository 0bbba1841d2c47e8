// Package depcheck walks the imports of a package of this module, for
// tests that keep a package off heavy dependencies (the event schema off
// the pipeline, tail off OPA). It reads the source with go/build, so it
// needs no go command and no network.
package depcheck

import (
	"fmt"
	"go/build"
	"path/filepath"
	"strings"

	"github.com/xunjian/xunjian/internal/corpora"
)

// Import is one import found by Walk: From imports To.
type Import struct {
	From, To string
}

// Walk returns every import of the package pkg of this module (its import
// path, e.g. github.com/xunjian/xunjian/gateway/stream/tail) and,
// transitively, of the module's packages it imports; test files are left
// out. The standard library and other modules' packages are listed as
// imported but not walked into.
func Walk(pkg string) ([]Import, error) {
	root, err := corpora.Root()
	if err != nil {
		return nil, err
	}
	prefix := corpora.Module + "/"
	var out []Import
	seen := map[string]bool{}
	var walk func(path string) error
	walk = func(path string) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(path, prefix)))
		p, err := build.ImportDir(dir, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, imp := range p.Imports {
			out = append(out, Import{From: path, To: imp})
			if strings.HasPrefix(imp, prefix) {
				if err := walk(imp); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(pkg); err != nil {
		return nil, err
	}
	return out, nil
}

// IsStd reports whether imp is a standard library package: its first path
// element has no dot.
func IsStd(imp string) bool { return !strings.Contains(strings.Split(imp, "/")[0], ".") }
