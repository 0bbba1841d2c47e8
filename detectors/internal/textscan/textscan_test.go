package textscan

import (
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
)

func TestHasBreak(t *testing.T) {
	for _, tc := range []struct {
		s              string
		sentence, both bool // HasBreak(s, false), HasBreak(s, true)
	}{
		{"加我微信", false, false},
		{"好的。加我", true, true},
		{"亲！", true, true},
		{"真的吗？", true, true},
		{"line\nnext", true, true},
		{"ok. next", true, true},
		{"ends.", true, true},
		{"3.5 stars", false, false},
		{"wxid.abc", false, false},
		{"好的，加我", false, true},
		{"a, b", false, true},
		{"甲；乙", false, true},
		{"甲、乙", false, true},
		{"", false, false},
	} {
		if got := HasBreak(tc.s, false); got != tc.sentence {
			t.Errorf("HasBreak(%q, false) = %v", tc.s, got)
		}
		if got := HasBreak(tc.s, true); got != tc.both {
			t.Errorf("HasBreak(%q, true) = %v", tc.s, got)
		}
	}
}

func TestMerge(t *testing.T) {
	n := normalize.Default()
	text := n.Normalize("add me on WhatsApp or wechat, ok") // byte offsets below are in the normalized text
	hit := func(kind string, sev detectors.Severity, score float64, lex string) detectors.Finding {
		return detectors.Finding{Detector: "diversion", Kind: kind, Severity: sev, Score: score, Lexicon: lex}
	}
	var fs []detectors.Finding
	fs = Merge(text, fs, 0, hit("contact", detectors.Medium, 0.6, "invite"), 0, 9) // "add me on"
	fs = Merge(text, fs, 0, hit("contact", detectors.High, 0.9, "app"), 10, 18)    // "whatsapp": 1 apart
	fs = Merge(text, fs, 0, hit("payment", detectors.Low, 0.5, "pay"), 10, 18)     // another kind: apart
	fs = Merge(text, fs, 0, hit("contact", detectors.Low, 0.3, "app"), 22, 28)     // "wechat": 4 apart, over MergeGap
	if len(fs) != 3 {
		t.Fatalf("findings %+v, want 3", fs)
	}
	if f := fs[0]; f.Start != 0 || f.End != 18 || f.Severity != detectors.High || f.Score != 0.9 || f.Lexicon != "app" || f.Evidence != "add me on WhatsApp" {
		t.Errorf("merged finding %+v, want [0,18) high 0.9 app over %q", f, "add me on WhatsApp")
	}
	if f := fs[2]; f.Kind != "contact" || f.Evidence != "wechat" {
		t.Errorf("the far hit %+v, want a finding of its own", f)
	}
	// first bounds the merge: findings before it are another call's.
	fs = Merge(text, fs, 3, hit("contact", detectors.High, 0.9, "app"), 10, 18)
	if len(fs) != 4 {
		t.Errorf("a hit merged into a finding before first: %+v", fs)
	}
}

func TestIsWordByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if IsWordByte(byte(c)) != want {
			t.Errorf("IsWordByte(%q) = %v", rune(c), !want)
		}
	}
}
