package inspect

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xunjian/xunjian/internal/draftgen"
)

// BenchmarkInspectUnique is the pipeline (normalize, detect, decide) on
// drafts that are each a new text, over 64 conversations whose context
// evolves: what the findings cache cannot help, with the decision cache
// on as the gateway runs it.
func BenchmarkInspectUnique(b *testing.B) {
	in := defaultInspector(b)
	ctx := context.Background()
	now := time.Now()
	convs := make([]Conversation, 64)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		c := &convs[i%len(convs)]
		if _, err := inspectInto(in, ctx, Request{Text: draftgen.Unique(i), ConversationID: fmt.Sprint("c", i%len(convs))}, c, now.Add(time.Duration(i)*time.Second)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
