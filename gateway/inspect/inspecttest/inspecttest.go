// Package inspecttest gives tests of the packages around the pipeline
// (check --jsonl, the event builder) a real Inspector, as httptest gives
// them a real server.
package inspecttest

import (
	"context"
	"testing"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/rules"
)

// Default returns an Inspector of the built-in policy, closed with its
// policy when the test ends.
func Default(t testing.TB) *inspect.Inspector {
	t.Helper()
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(p, inspect.Options{})
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); p.Close() })
	return in
}
