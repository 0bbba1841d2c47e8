package detectortest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/lexicon"
)

// Cases are a family's test cases kept as data, in a YAML file of its
// testdata (by convention testdata/cases.yaml), next to the lexicon whose
// behaviour they pin: whoever adds a term can add the message it must
// flag, or must leave alone, without writing Go. Every section may be
// left out.
type Cases[E comparable] struct {
	// Detect are messages and what Detect must find in them, as the
	// family's test reduces findings (their kinds, severities, evidence).
	Detect []Case[E] `yaml:"detect"`
	// Spans are messages with exactly one finding (RunSpans).
	Spans []SpanCase `yaml:"spans"`
	// Conformance are messages the conformance check (Check) runs on, on
	// top of its built-in hostile inputs.
	Conformance []string `yaml:"conformance"`
	// ForeignKinds are kinds of other families that New must refuse
	// (RefusesKind).
	ForeignKinds []string `yaml:"foreign_kinds"`
	// Bench are the messages of the family's benchmark (Bench).
	Bench []BenchCase `yaml:"bench"`
}

// ReadCases reads the cases file at path, and fails tb when it cannot or
// when the file holds a field Cases does not know (a misspelt section or
// case field would otherwise be a case that checks nothing).
func ReadCases[E comparable](tb testing.TB, path string) Cases[E] {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var c Cases[E]
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		tb.Fatalf("%s: %v", path, err)
	}
	return c
}

// A Family is what RunCases needs of a detector family whose Detect cases
// are checked by the kinds of the findings: its constructors and its
// taxonomy kinds.
type Family[D detectors.Detector] struct {
	Default func() (D, error)
	New     func(lexicon.File) (D, error)
	Kinds   []string
}

// RunCases runs the cases file at path for fam as subtests: detect
// (RunKinds), spans (RunSpans), conformance (Check) and, for each foreign
// kind, foreign_kind (RefusesKind).
func RunCases[D detectors.Detector](t *testing.T, fam Family[D], path string) {
	t.Helper()
	c := ReadCases[string](t, path)
	d := Build(t, fam.Default)
	t.Run("detect", func(t *testing.T) { RunKinds(t, d, c.Detect) })
	t.Run("spans", func(t *testing.T) { RunSpans(t, d, c.Spans) })
	t.Run("conformance", func(t *testing.T) {
		if err := Check(d, fam.Kinds, c.Conformance...); err != nil {
			t.Error(err)
		}
	})
	for _, k := range c.ForeignKinds {
		t.Run("foreign_kind", func(t *testing.T) { RefusesKind(t, fam.New, k) })
	}
}

// BenchCases runs Bench on d with the bench messages of the cases file at
// path, which must have some.
func BenchCases(b *testing.B, d detectors.Detector, path string) {
	c := ReadCases[string](b, path)
	if len(c.Bench) == 0 {
		b.Fatalf("%s: no bench messages", path)
	}
	Bench(b, d, c.Bench...)
}
