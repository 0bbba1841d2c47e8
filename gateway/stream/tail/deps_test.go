package tail

import (
	"strings"
	"testing"

	"github.com/xunjian/xunjian/internal/depcheck"
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
	imps, err := depcheck.Walk(module + "gateway/stream/tail")
	if err != nil {
		t.Fatal(err)
	}
	reached := false
	for _, imp := range imps {
		if forbidden(imp.To) {
			t.Errorf("%s imports %s", imp.From, imp.To)
		}
		reached = reached || imp.To == module+"gateway/stream/event"
	}
	if !reached {
		t.Error("the walk did not reach gateway/stream/event")
	}
}
