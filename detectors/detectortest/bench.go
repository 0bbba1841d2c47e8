package detectortest

import (
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// A BenchCase is a message a detector's benchmark runs on, and the name of
// its sub-benchmark.
type BenchCase struct {
	Name string `yaml:"name"`
	In   string `yaml:"in"`
}

// Bench runs one sub-benchmark of d per case, in order: Detect on the
// case's message, normalized once as the pipeline does, into a findings
// buffer reused across iterations, with allocations reported.
func Bench(b *testing.B, d detectors.Detector, cases ...BenchCase) {
	n := normalize.Default()
	for _, c := range cases {
		t := n.Normalize(c.In)
		dst := make([]detectors.Finding, 0, 8)
		b.Run(c.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				dst = d.Detect(t, dst[:0])
			}
		})
	}
}

// A Matcher is the lexicon matcher a detector runs on each message (a
// *lexicon.Lexicon), whose allocations are not the detector's.
type Matcher interface {
	Match(norm string, dst []lexicon.Hit) []lexicon.Hit
}

// CheckAllocs fails t for each input on which Detect of d, into a reused
// findings buffer, allocates more than extra times per call beyond what m
// allocates matching the same normalized text into a buffer of 32 hits (m
// nil: beyond none).
func CheckAllocs(t testing.TB, d detectors.Detector, m Matcher, extra float64, inputs ...string) {
	t.Helper()
	n := normalize.Default()
	for _, in := range inputs {
		txt := n.Normalize(in)
		var base float64
		if m != nil {
			hits := make([]lexicon.Hit, 0, 32)
			base = testing.AllocsPerRun(100, func() { hits = m.Match(txt.Norm, hits[:0]) })
		}
		dst := make([]detectors.Finding, 0, 8)
		if a := testing.AllocsPerRun(100, func() { dst = d.Detect(txt, dst[:0]) }); a > base+extra {
			t.Errorf("Detect(%.40q) allocates %.0f times per call, the lexicon matcher %.0f; want at most %.0f more", in, a, base, extra)
		}
	}
}
