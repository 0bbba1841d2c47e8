package inspect

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/model/training"
	"github.com/xunjian/xunjian/internal/corpora"
	"github.com/xunjian/xunjian/rules"
)

// TestHeldOutPipeline runs the held-out part of the hand-labelled data
// (families the model never saw; testdata/training/DATASHEET.md) through
// the whole pipeline with the default policy, as the gateway judges
// drafts: lexicons, the model, the policy's actions. It reports, per
// language and category, how many harmful agent drafts are stopped
// (confirm or block) and found with their own kind, how many fine drafts
// are released (allow, warn or redact), how many customer escalations are
// found and how many harmless customer messages raise none; and it holds each figure above a floor, so that a lexicon,
// model or policy change that makes the product worse fails here. The
// floors sit a little under today's figures (see the README for them);
// raise them when the product gets better.
func TestHeldOutPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 1,600 messages through the pipeline")
	}
	root, err := corpora.Root()
	if err != nil {
		t.Fatal(err)
	}
	items, err := training.LoadRecords(filepath.Join(root, "testdata", "training"))
	if err != nil {
		t.Fatal(err)
	}
	in := defaultInspector(t)
	type rate struct{ hit, n int }
	rates := map[string]*rate{}
	add := func(key string, hit bool) {
		r := rates[key]
		if r == nil {
			r = &rate{}
			rates[key] = r
		}
		r.n++
		if hit {
			r.hit++
		}
	}
	for _, it := range items {
		if it.Part != training.HeldOut {
			continue
		}
		v, err := inspectInto(in, context.Background(), Request{Text: it.Text, Role: it.Role, TenantID: "t"}, nil, time.Now())
		if err != nil {
			t.Fatalf("%s %q: %v", it.Family, it.Text, err)
		}
		own := false
		for _, l := range it.Labels {
			own = own || slices.ContainsFunc(v.Findings, func(f detectors.Finding) bool { return f.Kind == l })
		}
		harmful := len(it.Labels) > 0
		for _, key := range []string{it.Role + " " + it.Category, it.Role + " " + it.Lang + " " + kindOf(harmful)} {
			switch {
			case it.Role == RoleCustomer && harmful:
				add(key+" found", own)
			case it.Role == RoleCustomer:
				add(key+" quiet", !hasFinding(v, "complaint.escalation"))
			case harmful:
				add(key+" stopped", v.Action >= rules.Confirm)
				add(key+" found", own)
			default:
				add(key+" released", v.Action <= rules.Redact)
			}
		}
	}
	var b strings.Builder
	b.WriteString("| messages | share |\n|---|---|\n")
	for _, k := range slices.Sorted(maps.Keys(rates)) {
		r := rates[k]
		fmt.Fprintf(&b, "| %s | %.1f%% (%d/%d) |\n", k, 100*float64(r.hit)/float64(r.n), r.hit, r.n)
	}
	t.Logf("held-out part through the pipeline:\n%s", b.String())
	for key, floor := range map[string]float64{
		"agent explicit stopped": 0.78, "agent explicit found": 0.90,
		"agent implicit stopped": 0.58, "agent implicit found": 0.72,
		"agent hard_negative released": 0.94, "agent benign released": 0.96,
		"customer explicit found": 0.93, "customer implicit found": 0.74,
		"customer hard_negative quiet": 0.84,
	} {
		r := rates[key]
		if r == nil || float64(r.hit)/float64(r.n) < floor {
			t.Errorf("%s: %v, below the floor %.0f%%", key, r, 100*floor)
		}
	}
}

func kindOf(harmful bool) string {
	if harmful {
		return "harmful"
	}
	return "fine"
}
