package judge

import (
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/normalize"
)

func defaultModel(t testing.TB) *model.Model {
	t.Helper()
	m, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func from(p float64) func(string) float64 { return func(string) float64 { return p } }

func TestAppend(t *testing.T) {
	m := defaultModel(t)
	j, err := New(m, "tone", []string{"rude", "dismissive", "impatient", "profanity"}, from(0.5))
	if err != nil || j == nil {
		t.Fatalf("New: %v, %v", j, err)
	}
	n := normalize.Default()
	txt := n.Normalize(" 您可真是个天才\n")
	got := j.Append(txt, nil, 0)
	if len(got) != 1 || got[0].Name() != "tone.rude" || got[0].Start != 1 || got[0].End != 8 || got[0].Evidence != "" ||
		got[0].Rule != RulePrefix+m.Version() || got[0].Score < 0.5 || got[0].Severity < detectors.Low {
		t.Fatalf("Append = %+v, want one tone.rude over the trimmed message, no evidence, the model's rule", got)
	}
	// A kind already found in the family's own findings is not repeated.
	prior := []detectors.Finding{{Detector: "privacy", Kind: "phone"}, {Detector: "tone", Kind: "rude", Start: 1, End: 3}}
	if got := j.Append(txt, prior, 1); len(got) != 2 {
		t.Errorf("Append after the lexicon's tone.rude = %+v, want nothing added", got)
	}
	// ... but one before first belongs to another family's pass.
	if got := j.Append(txt, prior[:1], 1); len(got) != 2 || got[1].Name() != "tone.rude" {
		t.Errorf("Append = %+v, want tone.rude added", got)
	}
	// Each kind has its own threshold.
	strict, err := New(m, "tone", []string{"rude"}, func(k string) float64 { return map[string]float64{"tone.rude": 1}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := strict.Append(n.Normalize("你是猪吗"), nil, 0); len(got) != 0 && got[0].Score < 1 {
		t.Errorf("threshold 1: %+v", got)
	}
	if allocs := testing.AllocsPerRun(100, func() { got = j.Append(txt, got[:0], 0) }); allocs != 0 {
		t.Errorf("Append allocates %.0f times", allocs)
	}
}

func TestNew(t *testing.T) {
	m := defaultModel(t)
	if j, err := New(m, "link", []string{"external"}, from(0.5)); j != nil || err != nil {
		t.Errorf("a family the model has no label of: %v, %v; want no judge and no error", j, err)
	}
	for _, p := range []float64{0, -1, 1.01} {
		if _, err := New(m, "tone", []string{"rude"}, from(p)); err == nil {
			t.Errorf("from %v accepted", p)
		}
	}
	if got := Version("abc", nil); got != "abc" {
		t.Errorf("Version without a judge = %q", got)
	}
	j, _ := New(m, "tone", []string{"rude"}, from(0.5))
	if got := Version("abc", j); got != "abc+"+m.Version() {
		t.Errorf("Version = %q", got)
	}
}
