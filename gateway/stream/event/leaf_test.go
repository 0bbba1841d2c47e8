package event

import (
	"testing"

	"github.com/xunjian/xunjian/internal/depcheck"
)

// TestEventIsALeaf keeps the schema free of the inspection pipeline: the
// package (tests aside) imports only the standard library, uuid and the
// module's jsonstr, and jsonstr only the standard library, so a consumer
// of events links no detector, policy engine or inspector.
func TestEventIsALeaf(t *testing.T) {
	const self = "github.com/xunjian/xunjian/gateway/stream/event"
	allowed := map[string]bool{"github.com/google/uuid": true, "github.com/xunjian/xunjian/gateway/internal/jsonstr": true}
	imps, err := depcheck.Walk(self)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range imps {
		if !depcheck.IsStd(imp.To) && (imp.From != self || !allowed[imp.To]) {
			t.Errorf("%s imports %s", imp.From, imp.To)
		}
	}
}
