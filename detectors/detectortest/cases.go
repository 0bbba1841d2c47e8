package detectortest

import (
	"slices"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// Case is a message and what a detector must find in it, reduced to a
// list: the kinds of its findings in order, say, or their severities or
// evidence (nil: no finding).
type Case[E comparable] struct {
	Name string `yaml:"name"`
	In   string `yaml:"in"`
	Want []E    `yaml:"want"`
}

// Run runs d over each case's message, normalized as the pipeline does, as
// a subtest named for the case, and fails those whose findings, reduced by
// project, differ from Want. project may also fail the subtest on a
// finding it finds wrong in itself.
func Run[E comparable](t *testing.T, d detectors.Detector, project func(testing.TB, []detectors.Finding) []E, cases []Case[E]) {
	t.Helper()
	n := normalize.Default()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got := d.Detect(n.Normalize(c.In), nil)
			if p := project(t, got); !slices.Equal(p, c.Want) {
				t.Errorf("Detect(%q) = %v: %v, want %v", c.In, got, p, c.Want)
			}
		})
	}
}

// KindCase is a message and the kinds, in order, a detector must find in it
// (nil: none).
type KindCase = Case[string]

// Kinds reduces findings to their kinds, in order, for Run.
func Kinds(_ testing.TB, fs []detectors.Finding) []string {
	var ks []string
	for _, f := range fs {
		ks = append(ks, f.Kind)
	}
	return ks
}

// RunKinds runs d over each case's message, normalized as the pipeline
// does, as a subtest named for the case, and fails those whose findings'
// kinds differ from Want.
func RunKinds(t *testing.T, d detectors.Detector, cases []KindCase) {
	t.Helper()
	Run(t, d, Kinds, cases)
}

// SpanCase is a message in which a detector must find exactly one finding,
// over [Start, End) code points of the original with that Evidence and
// Severity.
type SpanCase struct {
	In       string             `yaml:"in"`
	Start    int                `yaml:"start"`
	End      int                `yaml:"end"`
	Evidence string             `yaml:"evidence"`
	Severity detectors.Severity `yaml:"severity"`
}

// RunSpans runs d over each case's message and fails those without exactly
// the one finding the case describes, from d's family.
func RunSpans(t *testing.T, d detectors.Detector, cases []SpanCase) {
	t.Helper()
	n := normalize.Default()
	for _, c := range cases {
		got := d.Detect(n.Normalize(c.In), nil)
		if len(got) != 1 {
			t.Errorf("Detect(%q) = %v, want one finding", c.In, got)
			continue
		}
		f := got[0]
		if f.Start != c.Start || f.End != c.End || f.Evidence != c.Evidence || f.Severity != c.Severity || f.Detector != d.Name() {
			t.Errorf("Detect(%q) = %s [%d,%d) %q %v, want %s [%d,%d) %q %v", c.In, f.Detector, f.Start, f.End, f.Evidence, f.Severity,
				d.Name(), c.Start, c.End, c.Evidence, c.Severity)
		}
	}
}
