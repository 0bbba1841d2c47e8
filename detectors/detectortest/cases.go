package detectortest

import (
	"slices"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// KindCase is a message and the kinds, in order, a detector must find in it
// (nil: none).
type KindCase struct {
	Name string
	In   string
	Want []string
}

// RunKinds runs d over each case's message, normalized as the pipeline
// does, as a subtest named for the case, and fails those whose findings'
// kinds differ from Want.
func RunKinds(t *testing.T, d detectors.Detector, cases []KindCase) {
	t.Helper()
	n := normalize.Default()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got := d.Detect(n.Normalize(c.In), nil)
			var ks []string
			for _, f := range got {
				ks = append(ks, f.Kind)
			}
			if !slices.Equal(ks, c.Want) {
				t.Errorf("Detect(%q) = %v, want kinds %v", c.In, got, c.Want)
			}
		})
	}
}

// SpanCase is a message in which a detector must find exactly one finding,
// over [Start, End) code points of the original with that Evidence and
// Severity.
type SpanCase struct {
	In         string
	Start, End int
	Evidence   string
	Severity   detectors.Severity
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
