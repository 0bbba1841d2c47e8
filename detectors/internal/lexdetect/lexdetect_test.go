package lexdetect

import (
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// pairs is a family for the tests: an entry hit claims its entry's finding
// and a "pair" set hit claims a finding of kind pair over itself and the
// next hit; claims of one kind that overlap merge.
type pairs struct {
	Base
	pair lexicon.Entry // the rule entry of a pair claim
}

func (d *pairs) claim(_ string, hits []lexicon.Hit, i int) (Claim, bool) {
	h := &hits[i]
	switch {
	case h.Entry != nil:
		return EntryClaim(h.Entry, h.Start, h.End), true
	case h.Set == "pair" && i+1 < len(hits):
		return EntryClaim(&d.pair, h.Start, hits[i+1].End), true
	}
	return Claim{}, false
}

func mergeOverlap(t *normalize.Text, dst []detectors.Finding, first int, c Claim) []detectors.Finding {
	f := c.At(t, "pairs")
	if o := Overlap(dst[first:], f.Kind, f.Start, f.End); o != nil {
		o.Start, o.End = min(o.Start, f.Start), max(o.End, f.End)
		o.Evidence = t.OrigText(o.Start, o.End)
		return dst
	}
	return append(dst, f)
}

func (d *pairs) Detect(t *normalize.Text, dst []detectors.Finding) []detectors.Finding {
	var buf [8]lexicon.Hit
	return Scan(d, t, d.Lexicon().Match(t.Norm, buf[:0]), dst, (*pairs).claim, mergeOverlap)
}

func newPairs(t *testing.T) *pairs {
	t.Helper()
	b, err := Compile("pairs", lexicon.File{
		Entries: []lexicon.Entry{{ID: "word.bad", Kind: "bad", Severity: detectors.High, Score: 0.9, Terms: []string{"bad", "worse"}}},
		Sets:    map[string][]string{"pair": {"left"}, "other": {"right"}},
	}, []string{"bad", "pair"})
	if err != nil {
		t.Fatal(err)
	}
	return &pairs{Base: b, pair: lexicon.Entry{ID: "pair.rule", Kind: "pair", Severity: detectors.Low, Score: 0.5}}
}

func TestCompile(t *testing.T) {
	d := newPairs(t)
	if d.Name() != "pairs" || d.Version() == "" || d.Version() != d.Lexicon().Version() {
		t.Errorf("Name %q Version %q, want pairs and the lexicon's hash %q", d.Name(), d.Version(), d.Lexicon().Version())
	}
	_, err := Compile("pairs", lexicon.File{Entries: []lexicon.Entry{{ID: "x", Kind: "nope", Terms: []string{"x"}}}}, []string{"bad"})
	if err == nil || !strings.HasPrefix(err.Error(), "pairs: ") || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("Compile with an unknown kind: err = %v, want one starting with the family", err)
	}
}

func TestScan(t *testing.T) {
	d := newPairs(t)
	n := normalize.Default()
	prior := detectors.Finding{Detector: "other", Kind: "bad", Start: 0, End: 3}
	got := d.Detect(n.Normalize("ＢＡＤ then left and right, worse"), []detectors.Finding{prior})
	want := []detectors.Finding{
		prior, // before first: never merged into
		{Detector: "pairs", Kind: "bad", Severity: detectors.High, Score: 0.9, Start: 0, End: 3, Evidence: "ＢＡＤ", Lexicon: "word.bad"},
		{Detector: "pairs", Kind: "pair", Severity: detectors.Low, Score: 0.5, Start: 9, End: 23, Evidence: "left and right", Lexicon: "pair.rule"},
		{Detector: "pairs", Kind: "bad", Severity: detectors.High, Score: 0.9, Start: 25, End: 30, Evidence: "worse", Lexicon: "word.bad"},
	}
	if len(got) != len(want) {
		t.Fatalf("Detect = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("finding %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := d.Detect(n.Normalize(""), nil); len(got) != 0 {
		t.Errorf("Detect of empty text = %+v", got)
	}
}

func TestClaimFinding(t *testing.T) {
	e := &lexicon.Entry{ID: "a.b", Kind: "a", Severity: detectors.Medium, Score: 0.7}
	c := EntryClaim(e, 2, 5)
	if c.Entry != e || c.Score != 0.7 || c.Start != 2 || c.End != 5 {
		t.Errorf("EntryClaim = %+v, want entry a.b, score 0.7 over [2,5)", c)
	}
	c.Score = 0.9 // a rule raised it
	want := detectors.Finding{Detector: "fam", Kind: "a", Severity: detectors.Medium, Score: 0.9, Lexicon: "a.b"}
	if got := c.Finding("fam"); got != want {
		t.Errorf("Finding = %+v, want %+v", got, want)
	}
	txt := normalize.Default().Normalize("ab ＣＤＥ") // normalized "ab cde"
	c.Start, c.End = 3, 6
	want.Start, want.End, want.Evidence = 3, 6, "ＣＤＥ"
	if got := c.At(txt, "fam"); got != want {
		t.Errorf("At = %+v, want %+v", got, want)
	}
}

// TestScanDoesNotAllocate: Scan inlines into Detect, so the hit buffer on
// Detect's stack stays there. A Scan grown past the inlining budget, or
// called through an interface, would move it to the heap on every call.
func TestScanDoesNotAllocate(t *testing.T) {
	d := newPairs(t)
	txt := normalize.Default().Normalize("bad left right worse")
	dst := make([]detectors.Finding, 0, 8)
	if a := testing.AllocsPerRun(100, func() { dst = d.Detect(txt, dst[:0]) }); a != 0 || len(dst) != 3 {
		t.Errorf("Detect allocates %.0f times per call (findings %+v), want 0", a, dst)
	}
}

func TestOverlap(t *testing.T) {
	fs := []detectors.Finding{
		{Kind: "a", Start: 0, End: 3},
		{Kind: "b", Start: 5, End: 9},
		{Kind: "a", Start: 8, End: 12},
	}
	for _, tc := range []struct {
		kind       string
		start, end int
		want       int // index in fs; -1: none
	}{
		{"", 2, 4, 0},
		{"", 3, 5, -1}, // touching is not overlapping
		{"", 6, 10, 1}, // the first that overlaps
		{"a", 6, 10, 2},
		{"b", 0, 3, -1},
		{"c", 0, 20, -1},
		{"", 11, 11, 2},  // an empty span strictly inside overlaps
		{"", 12, 12, -1}, // at the end it does not
	} {
		got := Overlap(fs, tc.kind, tc.start, tc.end)
		if tc.want < 0 && got != nil || tc.want >= 0 && got != &fs[tc.want] {
			t.Errorf("Overlap(%q, %d, %d) = %+v, want index %d", tc.kind, tc.start, tc.end, got, tc.want)
		}
	}
}
