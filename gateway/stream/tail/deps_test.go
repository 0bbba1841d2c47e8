package tail

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

// TestTailLinksNoPipeline: tail is a plain Kafka consumer. Nothing it
// imports, directly or through the module's packages, reaches the
// detectors, the policy (rules, OPA) or the inspector, which a consumer
// has no use for and which would make the binary's tail path link them.
func TestTailLinksNoPipeline(t *testing.T) {
	const module = "github.com/xunjian/xunjian/"
	forbidden := func(imp string) bool {
		return imp == module+"rules" || strings.HasPrefix(imp, module+"rules/") ||
			imp == module+"detectors" || strings.HasPrefix(imp, module+"detectors/") ||
			imp == module+"gateway/inspect" || strings.HasPrefix(imp, module+"gateway/inspect/") ||
			strings.Contains(imp, "open-policy-agent")
	}
	root, err := filepath.Abs("../../..") // gateway/stream/tail → module root
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
			case forbidden(imp):
				t.Errorf("%s imports %s", path, imp)
			case strings.HasPrefix(imp, module):
				walk(filepath.Join(root, strings.TrimPrefix(imp, module)), imp)
			}
		}
	}
	walk(".", module+"gateway/stream/tail")
	if !seen[module+"gateway/stream/event"] {
		t.Error("the walk did not reach gateway/stream/event")
	}
}
