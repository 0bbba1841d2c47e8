package complaint

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/internal/corpora"
)

// severities reduces findings to their severities, in order, and fails t
// on one that is not complaint.escalation.
func severities(t testing.TB, fs []detectors.Finding) []detectors.Severity {
	var got []detectors.Severity
	for _, f := range fs {
		if f.Kind != "escalation" || f.Detector != "complaint" {
			t.Errorf("finding %s, want complaint.escalation", f.Name())
		}
		got = append(got, f.Severity)
	}
	return got
}

// TestDetect runs the detect cases of testdata/cases.yaml.
func TestDetect(t *testing.T) {
	cases := detectortest.ReadCases[detectors.Severity](t, "testdata/cases.yaml").Detect
	detectortest.Run(t, detectortest.Build(t, Default), severities, cases)
}

func TestDetectSpans(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	tests := []struct {
		in, evidence string
		start, end   int
		lexicon      string
	}{
		{"再不退款我就打１２３１５！", "１２３１５", 7, 12, "escalation.regulator"},
		{"我要投訴你們", "我要投訴你們", 0, 6, "escalation.complaint"},
		{"Let me speak to your MANAGER now", "speak to your MANAGER", 7, 28, "escalation.manager"},
	}
	for _, tt := range tests {
		fs := d.Detect(n.Normalize(tt.in), nil)
		if len(fs) != 1 {
			t.Errorf("Detect(%q) = %+v, want one finding", tt.in, fs)
			continue
		}
		if f := fs[0]; f.Evidence != tt.evidence || f.Start != tt.start || f.End != tt.end || f.Lexicon != tt.lexicon {
			t.Errorf("Detect(%q) = %+v, want %q [%d,%d) %s", tt.in, f, tt.evidence, tt.start, tt.end, tt.lexicon)
		}
	}
}

func TestConformance(t *testing.T) {
	if err := detectortest.Check(detectortest.Build(t, Default), Kinds(), "打12315", "我要投诉", "I'll sue you", "报警110"); err != nil {
		t.Error(err)
	}
}

func TestNewValidates(t *testing.T) {
	f, err := lexicon.Parse([]byte("entries: [{id: a, kind: angry, terms: [x]}]"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(f); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("New err = %v, want unknown kind", err)
	}
}

func TestSignals(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	for _, tt := range []struct {
		in       string
		extra    []detectors.Finding
		esc, neg int
		sev      detectors.Severity
	}{
		{"你好，请问什么时候发货", nil, 0, 0, detectors.Info},
		{"太慢了，真让人失望", nil, 0, 2, detectors.Info},
		{"什么破服务，骗子！我要打12315投诉你们", nil, 2, 2, detectors.High},
		{"This is ridiculous and unacceptable, I want a manager", nil, 1, 2, detectors.Medium},
		{"给差评", []detectors.Finding{{Detector: "tone", Kind: "profanity"}, {Detector: "privacy", Kind: "phone"}}, 1, 1, detectors.Medium},
	} {
		txt := n.Normalize(tt.in)
		fs := append(d.Detect(txt, nil), tt.extra...)
		got := d.Signals(txt, fs)
		if got.Escalations != tt.esc || got.Negative != tt.neg || got.MaxSeverity != tt.sev {
			t.Errorf("Signals(%q) = %+v, want escalations %d negative %d max %v", tt.in, got, tt.esc, tt.neg, tt.sev)
		}
	}
	if got := d.Signals(nil, nil); got != (Signals{}) {
		t.Errorf("Signals(nil) = %+v, want zero", got)
	}
}

func calm(n int) []Signals { return make([]Signals, n) }

func TestRiskProperties(t *testing.T) {
	high := Signals{Escalations: 1, MaxSeverity: detectors.High}
	medium := Signals{Escalations: 1, MaxSeverity: detectors.Medium}

	t.Run("calm stays low", func(t *testing.T) {
		for _, h := range [][]Signals{nil, calm(1), calm(20), append(calm(5), Signals{Negative: 1})} {
			for _, wait := range []float64{0, 30, 120} {
				if r := Risk(h, wait); r >= 0.3 {
					t.Errorf("Risk(%v, %v) = %v, want < 0.3", h, wait, r)
				}
			}
		}
	})
	t.Run("two escalations with a regulator threat are high", func(t *testing.T) {
		for _, h := range [][]Signals{
			{medium, high},
			{high, medium},
			append(calm(3), high, Signals{}, medium),
			append(calm(3), Signals{Escalations: 2, MaxSeverity: detectors.High}),
		} {
			if r := Risk(h, 0); r < 0.7 {
				t.Errorf("Risk(%v) = %v, want >= 0.7", h, r)
			}
		}
	})
	t.Run("monotonic in escalations", func(t *testing.T) {
		for _, sev := range []detectors.Severity{detectors.Low, detectors.Medium, detectors.High} {
			prev := Risk(calm(3), 0)
			for e := 1; e <= 3; e++ {
				r := Risk(append(calm(3), Signals{Escalations: e, MaxSeverity: sev}), 0)
				if r <= prev {
					t.Errorf("%v: Risk with %d escalations %v, not above %v", sev, e, r, prev)
				}
				prev = r
			}
			for e := 4; e <= 10; e++ {
				if r := Risk(append(calm(3), Signals{Escalations: e, MaxSeverity: sev}), 0); r < prev {
					t.Errorf("%v: Risk with %d escalations %v fell below %v", sev, e, r, prev)
				}
			}
		}
		// One more escalating message never lowers the risk.
		h := []Signals{}
		prev := Risk(h, 0)
		for range 8 {
			h = append(h, medium)
			r := Risk(h, 0)
			if r < prev {
				t.Errorf("Risk after %d escalating messages %v fell below %v", len(h), r, prev)
			}
			prev = r
		}
	})
	t.Run("severity and recency weigh more", func(t *testing.T) {
		if Risk([]Signals{high}, 0) <= Risk([]Signals{medium}, 0) {
			t.Error("a regulator threat does not outweigh a bad-review threat")
		}
		if Risk([]Signals{{}, high}, 0) <= Risk([]Signals{high, {}}, 0) {
			t.Error("a recent threat does not outweigh an old one")
		}
		if Risk([]Signals{{Negative: 2}}, 0) <= Risk(nil, 0) {
			t.Error("negative sentiment does not raise the risk")
		}
	})
	t.Run("wait raises risk", func(t *testing.T) {
		h := []Signals{{Negative: 1}}
		if !(Risk(h, 900) > Risk(h, 300) && Risk(h, 300) > Risk(h, 30)) {
			t.Error("a longer wait does not raise the risk")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		huge := Signals{Escalations: math.MaxInt, Negative: math.MaxInt, MaxSeverity: detectors.Critical}
		hist := make([]Signals, 100)
		for i := range hist {
			hist[i] = huge
		}
		for _, h := range [][]Signals{nil, hist, {{Escalations: -5, Negative: -5}}} {
			for _, wait := range []float64{-1, 0, 1e9, math.Inf(1), math.NaN()} {
				if r := Risk(h, wait); !(r >= 0 && r <= 1) {
					t.Errorf("Risk(len %d, %v) = %v, outside [0,1]", len(h), wait, r)
				}
			}
		}
	})
}

// TestCorpora reports (for information) how often calm customer turns of the
// dialogue corpora get an escalation finding, and fails above 0.5%: those
// customers book hotels and order coffee, they threaten no one.
func TestCorpora(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	for _, rel := range []string{"crosswoz_zh/utterances.jsonl", "multiwoz_en/utterances.jsonl", "taskmaster4_coffee_en/utterances.jsonl", "multidogo_customer_en/customer_turns.jsonl"} {
		t.Run(filepath.Dir(rel), func(t *testing.T) {
			total, flagged := 0, 0
			corpora.EachLine(t, rel, func(m struct{ Role, Text string }) {
				if m.Role != "customer" {
					return
				}
				total++
				if fs := d.Detect(n.Normalize(m.Text), nil); len(fs) > 0 {
					flagged++
					if flagged <= 15 {
						t.Logf("flagged %q in %q", fs[0].Evidence, m.Text)
					}
				}
			})
			rate := float64(flagged) / float64(max(total, 1))
			t.Logf("%d of %d customer turns flagged (%.3f%%)", flagged, total, 100*rate)
			if rate > 0.005 {
				t.Errorf("escalation rate on calm customers %.3f%% above 0.5%%", 100*rate)
			}
		})
	}
}

const (
	benchZH = "你们这是什么破服务？我上周就申请退款了，到现在还没到账，客服一直说在处理，太慢了。今天再不给我退款，我就去12315投诉你们，还要给差评，让大家都看看你们店是怎么对待顾客的！"
	benchEN = "This is ridiculous. I asked for a refund a week ago and nobody answered. If it is not fixed today I will file a complaint with the BBB."
)

func benchCases() []detectortest.BenchCase {
	return []detectortest.BenchCase{{Name: "zh", In: benchZH}, {Name: "en", In: benchEN}}
}

func TestDetectAllocations(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	for _, in := range []string{benchZH, benchEN} {
		if len(d.Detect(n.Normalize(in), nil)) < 2 {
			t.Fatalf("bench message %q: fewer than two findings", in)
		}
	}
	// The lexicon matcher's own allocations are outside this package;
	// Detect may add at most one.
	detectortest.CheckAllocs(t, d, d.Lexicon(), 1, benchZH, benchEN)
}

func BenchmarkComplaint(b *testing.B) {
	d := detectortest.Build(b, Default)
	detectortest.Bench(b, d, benchCases()...)
	n := normalize.Default()
	for _, bc := range benchCases() {
		txt := n.Normalize(bc.In)
		fs := d.Detect(txt, nil)
		b.Run(bc.Name+"/signals", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = d.Signals(txt, fs)
			}
		})
	}
	b.Run("risk", func(b *testing.B) {
		h := make([]Signals, 10)
		h[9] = Signals{Escalations: 1, Negative: 2, MaxSeverity: detectors.High}
		b.ReportAllocs()
		for b.Loop() {
			_ = Risk(h, 120)
		}
	})
}

// TestRiskFinding: a customer message in a conversation at risk carries a
// complaint.risk finding over the whole message, more severe as the risk
// grows; below the threshold none.
func TestRiskFinding(t *testing.T) {
	for _, tc := range []struct {
		risk float64
		ok   bool
		sev  detectors.Severity
	}{
		{0, false, 0}, {0.59, false, 0}, {RiskFindingAt, true, detectors.Medium}, {0.74, true, detectors.Medium},
		{0.75, true, detectors.High}, {0.89, true, detectors.High}, {0.9, true, detectors.Critical}, {0.99, true, detectors.Critical},
	} {
		f, ok := RiskFinding(tc.risk, 12)
		if ok != tc.ok || (ok && (f.Severity != tc.sev || f.Score != tc.risk || f.Start != 0 || f.End != 12 || f.Detector != "complaint" || f.Kind != "risk")) {
			t.Errorf("RiskFinding(%v) = %+v, %v; want ok %v severity %v over the whole message", tc.risk, f, ok, tc.ok, tc.sev)
		}
	}
}
