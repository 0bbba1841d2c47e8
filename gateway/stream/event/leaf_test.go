package event

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

// TestEventIsALeaf keeps the schema free of the inspection pipeline: the
// package (tests aside) imports only the standard library, uuid and the
// module's jsonstr, and jsonstr only the standard library, so a consumer
// of events links no detector, policy engine or inspector.
func TestEventIsALeaf(t *testing.T) {
	const module = "github.com/xunjian/xunjian/"
	allowed := map[string]bool{
		"github.com/google/uuid":            true,
		module + "gateway/internal/jsonstr": true,
	}
	root, err := filepath.Abs("../../..") // gateway/stream/event → module root
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(dir, path string)
	walk = func(dir, path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		p, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range p.Imports {
			switch {
			case !strings.Contains(strings.Split(imp, "/")[0], "."):
				// The standard library.
			case !allowed[imp] || path != module+"gateway/stream/event":
				t.Errorf("%s imports %s", path, imp)
			case strings.HasPrefix(imp, module):
				walk(filepath.Join(root, strings.TrimPrefix(imp, module)), imp)
			}
		}
	}
	walk(".", module+"gateway/stream/event")
}
