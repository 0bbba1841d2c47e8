package model

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
)

// sample is a tiny labelled set: label 0 rude, label 1 escalation.
func sample() (train, calib []Example) {
	rude := []string{"你是不是傻", "连这个都不会用吗", "are you stupid", "is reading really that hard", "您可真是个天才", "脑子呢"}
	fine := []string{"您好，马上为您查询", "好的亲，已经为您登记", "thanks, your refund is on its way", "I understand, let me check", "稍等哈", "退款已原路退回"}
	esc := []string{"再不处理我就打12315投诉", "我要找律师起诉你们", "I will file a chargeback", "我要给差评曝光你们"}
	calm := []string{"请问什么时候发货", "where is my parcel", "谢谢", "好的"}
	for i := range 3 {
		set := &train
		if i == 2 {
			set = &calib
		}
		for _, s := range rude {
			*set = append(*set, Example{Text: s, Labels: 1, Mask: 1, Weight: 1})
		}
		for _, s := range fine {
			*set = append(*set, Example{Text: s, Mask: 1, Weight: 1})
		}
		for _, s := range esc {
			*set = append(*set, Example{Text: s, Labels: 2, Mask: 2, Weight: 1})
		}
		for _, s := range calm {
			*set = append(*set, Example{Text: s, Mask: 2, Weight: 1})
		}
	}
	return train, calib
}

func trainSample(t testing.TB, seed uint64) *Model {
	t.Helper()
	train, calib := sample()
	m, err := Train(train, calib, TrainOptions{Labels: []string{"tone.rude", "complaint.escalation"}, Bits: 12, Epochs: 20, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTrainDeterministic: the same examples, options and seed give the same
// model file byte for byte; another seed gives another one.
func TestTrainDeterministic(t *testing.T) {
	enc := func(m *Model) []byte {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := enc(trainSample(t, 7)), enc(trainSample(t, 7))
	if !bytes.Equal(a, b) {
		t.Fatal("two trainings with one seed gave different files")
	}
	if bytes.Equal(a, enc(trainSample(t, 8))) {
		t.Error("another seed gave the same file")
	}
}

// TestTrainLearns: the sample model separates what it was taught, and
// each label only from the examples that teach it.
func TestTrainLearns(t *testing.T) {
	m := trainSample(t, 1)
	out := make([]float32, 2)
	for _, tc := range []struct {
		text  string
		label int
		high  bool
	}{
		{"你是不是傻", 0, true}, {"您好，马上为您查询", 0, false},
		{"再不处理我就打12315投诉", 1, true}, {"请问什么时候发货", 1, false},
	} {
		m.Scores(tc.text, out)
		if (out[tc.label] > 0.5) != tc.high {
			t.Errorf("%q: label %d scores %.2f", tc.text, tc.label, out[tc.label])
		}
	}
}

// TestParseRoundTrip: Parse reads what MarshalBinary writes, and the model
// it gives scores alike and has the same version.
func TestParseRoundTrip(t *testing.T) {
	m := trainSample(t, 1)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version() != m.Version() || len(p.Version()) != 16 {
		t.Errorf("version %q after a round trip, want %q", p.Version(), m.Version())
	}
	x, y := make([]float32, 2), make([]float32, 2)
	m.Scores("连这个都不会用吗", x)
	p.Scores("连这个都不会用吗", y)
	if x[0] != y[0] || x[1] != y[1] {
		t.Errorf("scores %v after a round trip, want %v", y, x)
	}
}

// TestParseRejects: a file that is not a model, cut short, or inconsistent
// is refused with an error saying why.
func TestParseRejects(t *testing.T) {
	good, err := trainSample(t, 1).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint32(good[len(Magic):])
	head := string(good[len(Magic)+4 : len(Magic)+4+int(n)])
	withHead := func(h string) []byte {
		b := []byte(Magic)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(h)))
		b = append(b, h...)
		return append(b, good[len(Magic)+4+int(n):]...)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"not a model", []byte("package xunjian\n"), "magic"},
		{"no header length", []byte(Magic + "\x01"), "cut short"},
		{"header cut", good[:len(Magic)+4+int(n)/2], "cut short"},
		{"weights cut", good[:len(good)-1], "weights"},
		{"bad json", withHead("{"), "header"},
		{"other features", withHead(strings.Replace(head, FeatureSet, "other/v9", 1)), "features"},
		{"bits", withHead(strings.Replace(head, `"bits":12`, `"bits":40`, 1)), "bits"},
		{"labels repeated", withHead(strings.Replace(head, "complaint.escalation", "tone.rude", 1)), "repeated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// TestDefault: the model built into the binary parses and has the labels
// the detectors read.
func TestDefault(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tone.rude", "tone.dismissive", "tone.impatient", "tone.profanity", "complaint.escalation"}
	if got := m.Labels(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("labels %v, want %v", got, want)
	}
}

// TestScoresNoAlloc: scoring a message allocates nothing.
func TestScoresNoAlloc(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(m.Labels()))
	if n := testing.AllocsPerRun(100, func() { m.Scores(benchZH, out) }); n != 0 {
		t.Errorf("Scores allocates %.0f times", n)
	}
	for _, v := range out {
		if v < 0 || v > 1 || math.IsNaN(float64(v)) {
			t.Errorf("score %v is not a probability", v)
		}
	}
}

// FuzzParse: no input makes Parse panic, and what it accepts scores
// probabilities.
func FuzzParse(f *testing.F) {
	good, err := trainSample(f, 1).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(Magic))
	f.Add([]byte(Magic + "\x02\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		out := make([]float32, len(m.Labels()))
		m.Scores("你是不是傻", out)
	})
}

const (
	benchZH = "亲，您好！您的订单已经发货了，快递单号是YT1234567890，预计明天下午送达。连这个都不会用吗？详情页写得清清楚楚，自己看一下吧，谢谢配合！"
	benchEN = "Hi there, thanks for reaching out! Your order has shipped. Honestly, is reading really that hard? It is all in the manual, please check it."
)

func BenchmarkScores(b *testing.B) {
	m, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	out := make([]float32, len(m.Labels()))
	for _, bc := range []struct{ name, text string }{{"zh", benchZH}, {"en", benchEN}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Scores(bc.text, out)
			}
		})
	}
}

// TestNumbersFolded: a run of three or more digits is one number mark, so
// which number a draft quotes (an order, a phone) changes nothing and a
// long one weighs no more than a short one; one or two digits are kept.
func TestNumbersFolded(t *testing.T) {
	features := func(s string) []uint32 {
		var out []uint32
		forEachFeature(s, func(h uint32) { out = append(out, h) })
		return out
	}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"回答过三遍了 13812345678", "回答过三遍了 202612069999999", true},
		{"order 123 shipped", "order 98765432101234 shipped", true},
		{"回答过3遍了", "回答过5遍了", false},
		{"问了12次", "问了99次", false},
		{"order 123 shipped", "order 12 shipped", false},
	} {
		fa, fb := features(tc.a), features(tc.b)
		if same := slices.Equal(fa, fb); same != tc.same {
			t.Errorf("features of %q and %q equal = %v, want %v", tc.a, tc.b, same, tc.same)
		}
	}
	if long, short := len(features("回答过三遍了 13812345678")), len(features("回答过三遍了 138")); long != short {
		t.Errorf("an 11-digit number gives %d features, a 3-digit one %d: want the same", long, short)
	}
}
