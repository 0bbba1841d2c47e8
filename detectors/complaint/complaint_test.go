package complaint

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/internal/corpora"
)

func mustDefault(t testing.TB) *Detector {
	t.Helper()
	d, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDetect(t *testing.T) {
	d := mustDefault(t)
	n := normalize.Default()
	H, M := detectors.High, detectors.Medium
	tests := []struct {
		name, in string
		want     []detectors.Severity // severities of the escalation findings in order; nil for none
	}{
		{"zh 12315", "再不退款我就打12315", []detectors.Severity{H}},
		{"zh consumer association", "我要去消协告你们", []detectors.Severity{H, H}},
		{"zh consumer association long", "我会向消费者协会反映", []detectors.Severity{H}},
		{"zh market regulator", "我已经联系市场监管局了", []detectors.Severity{H}},
		{"zh industry bureau", "找工商局投诉你们", []detectors.Severity{H, M}},
		{"zh complain", "我要投诉你们这家店", []detectors.Severity{M}},
		{"zh bad review", "不处理我就给差评", []detectors.Severity{M}},
		{"zh expose", "我要发微博曝光你们", []detectors.Severity{H, H}},
		{"zh media", "我会找媒体", []detectors.Severity{H}},
		{"zh police", "我要报警", []detectors.Severity{H}},
		{"zh 110", "信不信我打110", []detectors.Severity{H}},
		{"zh lawyer", "我已经请了律师", []detectors.Severity{H}},
		{"zh sue", "我要起诉你们，法院见", []detectors.Severity{H, H}},
		{"zh heimao", "黑猫投诉上见", []detectors.Severity{H}},
		{"zh chargeback", "退款不成我就申请信用卡拒付", []detectors.Severity{H}},
		{"zh manager", "叫你们经理出来", []detectors.Severity{M}},
		{"zh traditional", "我要投訴你們，還要報警", []detectors.Severity{M, H}},
		{"zh full-width", "打１２３１５", []detectors.Severity{H}},
		{"zh spaced", "我要 投 诉", []detectors.Severity{M}},
		{"en complaint", "I want to file a complaint.", []detectors.Severity{M}},
		{"en report", "I will report you to the BBB.", []detectors.Severity{M, H}},
		{"en bbb", "Better Business Bureau will hear about this", []detectors.Severity{H}},
		{"en lawyer", "My lawyer will contact you.", []detectors.Severity{H}},
		{"en sue", "I'm going to sue your company", []detectors.Severity{H}},
		{"en chargeback", "I'll do a chargeback with my bank", []detectors.Severity{H}},
		{"en dispute", "I will dispute the charge", []detectors.Severity{H}},
		{"en review", "Expect a 1-star review", []detectors.Severity{M}},
		{"en bad review", "I'm leaving a bad review", []detectors.Severity{M}},
		{"en twitter", "I'll post on twitter about this", []detectors.Severity{H}},
		{"en manager", "Let me speak to your manager", []detectors.Severity{M}},
		{"en police", "I will call the police", []detectors.Severity{H}},
		// false-positive traps
		{"fp price 110", "这件110元，打110元给你", nil},
		{"fp long number", "订单号1101234567，运单号123156", nil},
		{"fp 12315 inside", "单号9123150", nil},
		{"fp alarm", "烟雾报警器什么时候发货", nil},
		{"fp multimedia", "这个多媒体播放器支持蓝牙吗", nil},
		{"fp exposure", "相机曝光补偿怎么调", nil},
		{"fp no complaint zh", "我不会给差评的，放心", nil},
		{"fp not complain zh", "我不想投诉，只想退款", nil},
		{"fp never complained", "我没有投诉过", nil},
		{"fp no complaints", "No complaints, the coffee was great.", nil},
		{"fp wont review", "I won't leave a bad review, don't worry.", nil},
		{"fp wont ever review", "I won’t ever leave them a bad review", nil},
		{"negation too far", "我不会就这样算了的，我要投诉", []detectors.Severity{M}},
		{"negation other clause", "不想吵，但是不退款我就报警", []detectors.Severity{H}},
		{"fp password manager", "I use a password manager", nil},
		{"fp police report", "My car was stolen and I filed a police report", nil},
		{"fp polite", "请问什么时候发货？谢谢", nil},
		{"fp week", "一星期能到吗", nil},
		{"fp michelin", "推荐一家米其林一星的餐厅", nil},
		{"fp stolen card", "My card was stolen, I need to go to the police station", nil},
		{"fp usb", "Is this compatible with USB-C?", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []detectors.Severity
			for _, f := range d.Detect(n.Normalize(tt.in), nil) {
				if f.Kind != "escalation" || f.Detector != "complaint" {
					t.Errorf("finding %s, want complaint.escalation", f.Name())
				}
				got = append(got, f.Severity)
			}
			if len(got) != len(tt.want) || !equal(got, tt.want) {
				t.Errorf("Detect(%q) severities = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func equal(a, b []detectors.Severity) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestDetectSpans(t *testing.T) {
	d := mustDefault(t)
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
	if err := detectortest.Check(mustDefault(t), Kinds(), "打12315", "我要投诉", "I'll sue you", "报警110"); err != nil {
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
	d := mustDefault(t)
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
	d := mustDefault(t)
	n := normalize.Default()
	for _, rel := range []string{"crosswoz_zh/utterances.jsonl", "multiwoz_en/utterances.jsonl", "taskmaster4_coffee_en/utterances.jsonl", "multidogo_customer_en/customer_turns.jsonl"} {
		t.Run(filepath.Dir(rel), func(t *testing.T) {
			f, err := os.Open(corpora.File(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			total, flagged := 0, 0
			for sc.Scan() {
				var m struct{ Role, Text string }
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					t.Fatal(err)
				}
				if m.Role != "customer" {
					continue
				}
				total++
				if fs := d.Detect(n.Normalize(m.Text), nil); len(fs) > 0 {
					flagged++
					if flagged <= 15 {
						t.Logf("flagged %q in %q", fs[0].Evidence, m.Text)
					}
				}
			}
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

func TestDetectAllocations(t *testing.T) {
	d := mustDefault(t)
	n := normalize.Default()
	for _, in := range []string{benchZH, benchEN} {
		txt := n.Normalize(in)
		dst := make([]detectors.Finding, 0, 8)
		if len(d.Detect(txt, dst)) < 2 {
			t.Fatalf("bench message %q: fewer than two findings", in)
		}
		// The lexicon matcher's own allocations are outside this package;
		// Detect may add one, its hit buffer, which escapes through the
		// matcher.
		hits := make([]lexicon.Hit, 0, maxHits)
		base := testing.AllocsPerRun(100, func() { hits = d.Lexicon().Match(txt.Norm, hits[:0]) })
		if a := testing.AllocsPerRun(100, func() { dst = d.Detect(txt, dst[:0]) }); a > base+1 {
			t.Errorf("Detect allocates %.0f times per message, the lexicon matcher %.0f; want at most one more", a, base)
		}
	}
}

func BenchmarkComplaint(b *testing.B) {
	d := mustDefault(b)
	n := normalize.Default()
	for _, bc := range []struct{ name, in string }{{"zh", benchZH}, {"en", benchEN}} {
		txt := n.Normalize(bc.in)
		dst := make([]detectors.Finding, 0, 8)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				dst = d.Detect(txt, dst[:0])
			}
		})
		b.Run(bc.name+"/signals", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = d.Signals(txt, dst)
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
