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

// TestScoresShared: the tone and complaint judges of one model score a
// message once (the second reads what the first kept with the text) and
// find what each finds alone; another model's judge never reads them.
func TestScoresShared(t *testing.T) {
	m := defaultModel(t)
	tone, err := New(m, "tone", []string{"rude", "dismissive", "impatient", "profanity"}, from(0.3))
	if err != nil || tone == nil {
		t.Fatalf("New tone: %v, %v", tone, err)
	}
	complaint, err := New(m, "complaint", []string{"escalation"}, from(0.3))
	if err != nil || complaint == nil {
		t.Fatalf("New complaint: %v, %v", complaint, err)
	}
	n := normalize.Default()
	for _, text := range []string{"您可真是个天才", "再不处理我就去12315投诉你们，你们这什么态度", "好的，已经为您登记"} {
		alone := complaint.Append(n.Normalize(text), nil, 0)
		txt := n.Normalize(text)
		toneFound := tone.Append(txt, nil, 0)
		if txt.Memo(m) == nil {
			t.Fatalf("%q: the tone judge kept no scores with the text", text)
		}
		scores := txt.Memo(m).Value.(*kept).scores[:]
		if got := complaint.Append(txt, nil, 0); !equalFindings(got, alone) {
			t.Errorf("%q: complaint after tone %+v, alone %+v", text, got, alone)
		}
		if &txt.Memo(m).Value.(*kept).scores[0] != &scores[0] {
			t.Errorf("%q: the complaint judge scored the message again", text)
		}
		if got := tone.Append(n.Normalize(text), nil, 0); !equalFindings(got, toneFound) {
			t.Errorf("%q: tone on a fresh text %+v, with the memo %+v", text, got, toneFound)
		}
	}

	// Another model (a second copy of the weights) judges with its own
	// scores, never the memo of the first.
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	other, err := model.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	oj, err := New(other, "tone", []string{"rude"}, from(0.3))
	if err != nil || oj == nil {
		t.Fatalf("New other: %v, %v", oj, err)
	}
	txt := n.Normalize("您可真是个天才")
	tone.Append(txt, nil, 0)
	if txt.Memo(other) != nil {
		t.Fatal("another model reads the first model's memo")
	}
	oj.Append(txt, nil, 0)
	if txt.Memo(other) == nil || txt.Memo(m) == nil {
		t.Error("the other model's judge did not keep its own scores beside the first's")
	}
}

func equalFindings(a, b []detectors.Finding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
