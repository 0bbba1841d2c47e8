package detectortest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/commitment"
	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// recorder is a testing.TB that records failures instead of failing the
// test; Fatal stops the goroutine, as it does for a test.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// record runs fn with a recorder in a goroutine of its own and returns the
// failures it recorded.
func record(t *testing.T, fn func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r.failures
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cases.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadCases(t *testing.T) {
	p := writeFile(t, `
detect:
  - {name: two, in: "a b", want: [high, low]}
  - {name: none, in: "c"}
spans:
  - {in: "x", start: 1, end: 2, evidence: "y", severity: critical}
conformance: ["p", "q"]
foreign_kinds: [contact]
bench:
  - {name: zh, in: "z"}
`)
	c := detectortest.ReadCases[detectors.Severity](t, p)
	want := detectortest.Cases[detectors.Severity]{
		Detect: []detectortest.Case[detectors.Severity]{
			{Name: "two", In: "a b", Want: []detectors.Severity{detectors.High, detectors.Low}},
			{Name: "none", In: "c"},
		},
		Spans:        []detectortest.SpanCase{{In: "x", Start: 1, End: 2, Evidence: "y", Severity: detectors.Critical}},
		Conformance:  []string{"p", "q"},
		ForeignKinds: []string{"contact"},
		Bench:        []detectortest.BenchCase{{Name: "zh", In: "z"}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ReadCases = %+v, want %+v", c, want)
	}
	if c := detectortest.ReadCases[string](t, writeFile(t, "")); len(c.Detect)+len(c.Spans) != 0 {
		t.Errorf("an empty file gave cases %+v", c)
	}
}

// TestReadCasesFails: a misspelt section or field, a bad severity and a
// missing file fail the test rather than check nothing.
func TestReadCasesFails(t *testing.T) {
	for name, path := range map[string]string{
		"unknown section": writeFile(t, "spanz: []\n"),
		"unknown field":   writeFile(t, "detect:\n  - {name: a, in: b, wants: [x]}\n"),
		"bad severity":    writeFile(t, "spans:\n  - {in: a, severity: huge}\n"),
		"missing":         filepath.Join(t.TempDir(), "none.yaml"),
	} {
		if got := record(t, func(tb testing.TB) { detectortest.ReadCases[string](tb, path) }); len(got) == 0 {
			t.Errorf("%s: ReadCases did not fail", name)
		}
	}
}

func TestRefusesKind(t *testing.T) {
	if got := record(t, func(tb testing.TB) { detectortest.RefusesKind(tb, commitment.New, "contact") }); len(got) != 0 {
		t.Errorf("commitment refusing contact: %v", got)
	}
	accepts := func(lexicon.File) (*commitment.Detector, error) { return nil, nil }
	if got := record(t, func(tb testing.TB) { detectortest.RefusesKind(tb, accepts, "contact") }); len(got) != 1 {
		t.Errorf("a New that takes any kind: failures %v, want one", got)
	}
}

// allocating is a detector that allocates on every call.
type allocating struct{}

func (allocating) Name() string { return "allocating" }
func (allocating) Detect(t *normalize.Text, dst []detectors.Finding) []detectors.Finding {
	return append(dst, detectors.Finding{Detector: "allocating", Evidence: strings.Clone(t.Norm)})
}

func TestCheckAllocs(t *testing.T) {
	d := detectortest.Build(t, commitment.Default)
	if got := record(t, func(tb testing.TB) { detectortest.CheckAllocs(tb, d, d.Lexicon(), 0, "保证明天到", "") }); len(got) != 0 {
		t.Errorf("commitment: %v", got)
	}
	got := record(t, func(tb testing.TB) { detectortest.CheckAllocs(tb, allocating{}, nil, 0, "abc", "def") })
	if len(got) != 2 {
		t.Errorf("an allocating detector: failures %v, want one per input", got)
	}
	if got := record(t, func(tb testing.TB) { detectortest.CheckAllocs(tb, allocating{}, nil, 1, "abc") }); len(got) != 0 {
		t.Errorf("an allocating detector allowed one: %v", got)
	}
}

func TestKinds(t *testing.T) {
	fs := []detectors.Finding{{Kind: "a"}, {Kind: "b"}, {Kind: "a"}}
	if got := detectortest.Kinds(t, fs); !slices.Equal(got, []string{"a", "b", "a"}) {
		t.Errorf("Kinds = %v", got)
	}
	if got := detectortest.Kinds(t, nil); got != nil {
		t.Errorf("Kinds(nil) = %v, want nil", got)
	}
}
