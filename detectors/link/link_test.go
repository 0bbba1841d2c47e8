package link

import (
	"slices"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// evidence reduces findings to their evidence, in order, marking one that
// is not link.external.
func evidence(_ testing.TB, fs []detectors.Finding) []string {
	var ev []string
	for _, f := range fs {
		if f.Detector != "link" || f.Kind != "external" {
			ev = append(ev, "BAD:"+f.Name())
		}
		ev = append(ev, f.Evidence)
	}
	return ev
}

// TestDetect runs the detect cases of testdata/cases.yaml.
func TestDetect(t *testing.T) {
	cases := detectortest.ReadCases[string](t, "testdata/cases.yaml").Detect
	detectortest.Run(t, detectortest.Build(t, Default), evidence, cases)
}

func TestSeverityAndSpan(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	tests := []struct {
		in         string
		start, end int
		sev        detectors.Severity
		lex        string
	}{
		{"点击 t.cn/A6xYz 领券", 3, 13, detectors.High, "external.shortener"},
		{"详情：https://example.com/a", 3, 24, detectors.Medium, "external.url"},
		{"看 https://sub.bit.ly/x", 2, 22, detectors.High, "external.shortener"},
	}
	for _, tt := range tests {
		got := d.Detect(n.Normalize(tt.in), nil)
		if len(got) != 1 {
			t.Errorf("Detect(%q) = %v, want one finding", tt.in, got)
			continue
		}
		f := got[0]
		if f.Start != tt.start || f.End != tt.end || f.Severity != tt.sev || f.Lexicon != tt.lex {
			t.Errorf("Detect(%q) = [%d,%d) %v %s, want [%d,%d) %v %s", tt.in, f.Start, f.End, f.Severity, f.Lexicon, tt.start, tt.end, tt.sev, tt.lex)
		}
	}
}

func TestWithAllow(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	in := n.Normalize("see https://shop.example.com/a and https://evil.com/b")
	if got := len(d.Detect(in, nil)); got != 2 {
		t.Fatalf("default detector: %d findings, want 2", got)
	}
	d2, err := d.WithAllow([]string{"https://Example.com/whatever", "*.foo.org"})
	if err != nil {
		t.Fatal(err)
	}
	if got := evidence(t, d2.Detect(in, nil)); !slices.Equal(got, []string{"https://evil.com/b"}) {
		t.Errorf("WithAllow detector: %q, want only evil.com", got)
	}
	if got := len(d.Detect(in, nil)); got != 2 {
		t.Errorf("WithAllow changed the original detector: %d findings", got)
	}
	if d2.Version() == d.Version() {
		t.Error("WithAllow kept the version")
	}
	if !d2.Allowed("a.foo.org") || d2.Allowed("evilfoo.org") {
		t.Error("foo.org allowlist: wrong subdomain matching")
	}
	if _, err := d.WithAllow([]string{"淘宝.com"}); err == nil {
		t.Error("WithAllow accepted a non-ASCII host")
	}
	if _, err := d.WithAllow([]string{" "}); err == nil {
		t.Error("WithAllow accepted an empty host")
	}
}

func TestTenantLexicon(t *testing.T) {
	f, err := DefaultLexicon()
	if err != nil {
		t.Fatal(err)
	}
	f.Sets = map[string][]string{"allow_host": {"mystore.com"}, "tld": f.Sets["tld"]}
	d, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.Default()
	if got := evidence(t, d.Detect(n.Normalize("mystore.com/a taobao.com/b"), nil)); !slices.Equal(got, []string{"taobao.com/b"}) {
		t.Errorf("tenant allowlist: %q, want only taobao.com/b", got)
	}
	f.Sets["tld"] = []string{"c0m"}
	if _, err := New(f); err == nil || !strings.Contains(err.Error(), "tld") {
		t.Errorf("New accepted tld c0m: %v", err)
	}
	bad := lexicon.File{Entries: []lexicon.Entry{{ID: "x", Kind: "phone", Terms: []string{"x"}}}}
	if _, err := New(bad); err == nil {
		t.Error("New accepted kind phone")
	}
}

func TestConformance(t *testing.T) {
	if err := detectortest.Check(detectortest.Build(t, Default), Kinds(), "https://evil.com", "t.cn/abc", "www.", "http://", "a.com.", "https://[::1]/x"); err != nil {
		t.Error(err)
	}
}

const (
	benchZH = "亲，您好！您拍下的宝贝已经发货了，物流信息可以在淘宝App里查看。活动详情请点击 https://item.taobao.com/item.htm?id=123 或者 t.cn/A6xYz 领取优惠券，有问题随时联系我们哦！"
	benchEN = "Hi! Your order has shipped. You can track it at https://track.example.com/o/123 or see our deals at bit.ly/3abcDE. Thanks for shopping!"
)

func BenchmarkLink(b *testing.B) {
	detectortest.Bench(b, detectortest.Build(b, Default), detectortest.BenchCase{Name: "zh", In: benchZH}, detectortest.BenchCase{Name: "en", In: benchEN})
}

func TestDetectDoesNotAllocate(t *testing.T) {
	detectortest.CheckAllocs(t, detectortest.Build(t, Default), nil, 0, benchEN)
}
