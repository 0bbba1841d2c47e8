package lexicon

import (
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
)

const testLexicon = `
version: test
entries:
  - id: rude.sb
    kind: rude
    severity: high
    terms: [傻逼, sb]
  - id: rude.fool
    kind: rude
    severity: medium
    terms: [傻瓜]
allow: [傻瓜相机]
sets:
  negation: [请勿, 不要]
`

func compile(t *testing.T, src string) *Lexicon {
	t.Helper()
	f, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Compile(f, normalize.Default(), []string{"rude"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestMatch(t *testing.T) {
	l := compile(t, testLexicon)
	n := normalize.Default()
	tests := []struct {
		in   string
		want []string // entry ids or set names, in order
	}{
		{"你是傻逼吗", []string{"rude.sb"}},
		{"你是傻 逼吗", []string{"rude.sb"}},
		{"你是 SB 吗", []string{"rude.sb"}},
		{"USB 接口", nil},
		{"sb2 is fine", nil},
		{"这款傻瓜相机很好用", nil},
		{"你这个傻瓜", []string{"rude.fool"}},
		{"請勿加微信", []string{"negation"}},
		{"", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, h := range l.Match(n.Normalize(tt.in).Norm, nil) {
			if h.Entry != nil {
				got = append(got, h.Entry.ID)
			} else {
				got = append(got, h.Set)
			}
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Match(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseSeverityAndDefaults(t *testing.T) {
	l := compile(t, testLexicon)
	e := l.File().Entries[0]
	if e.Severity != detectors.High || e.Score != 0.8 {
		t.Errorf("entry 0 = severity %v score %v, want high 0.8", e.Severity, e.Score)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tt := range []struct{ name, src, want string }{
		{"no id", "entries: [{kind: rude, terms: [x]}]", "no id"},
		{"unknown kind", "entries: [{id: a, kind: nice, terms: [x]}]", `unknown kind "nice"`},
		{"no terms", "entries: [{id: a, kind: rude}]", "no terms"},
		{"duplicate", "entries: [{id: a, kind: rude, terms: [x]}, {id: a, kind: rude, terms: [y]}]", "duplicate id"},
		{"bad score", "entries: [{id: a, kind: rude, score: 2, terms: [x]}]", "outside 0..1"},
	} {
		f, err := Parse([]byte(tt.src))
		if err == nil {
			_, err = Compile(f, normalize.Default(), []string{"rude"})
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := Parse([]byte("entries: [{id: a, kind: rude, severity: awful, terms: [x]}]")); err == nil {
		t.Error("Parse accepted severity awful")
	}
}

func TestVersionChangesWithContent(t *testing.T) {
	a := compile(t, testLexicon)
	b := compile(t, testLexicon+"  extra: [x]\n")
	if a.Version() == b.Version() {
		t.Error("two different lexicons share a version")
	}
	if a.Version() != compile(t, testLexicon).Version() {
		t.Error("the same lexicon compiled twice has two versions")
	}
}

func TestApostropheSpellings(t *testing.T) {
	l := compile(t, "entries: [{id: a, kind: rude, terms: [\"can't read\"]}]")
	n := normalize.Default()
	for _, in := range []string{"you can't read", "you can’t read", "you cant read", "YOU CAN'T READ"} {
		if hits := l.Match(n.Normalize(in).Norm, nil); len(hits) != 1 {
			t.Errorf("Match(%q) = %d hits, want 1", in, len(hits))
		}
	}
	if hits := l.Match(n.Normalize("you can read").Norm, nil); len(hits) != 0 {
		t.Errorf("Match(%q) = %v, want none", "you can read", hits)
	}
}

func TestEmbedded(t *testing.T) {
	if _, err := Embedded("tone", []byte("entries: [")); err == nil || !strings.Contains(err.Error(), "tone: embedded lexicon") {
		t.Errorf("bad embedded lexicon: err = %v, want it to name the family", err)
	}
	got, err := BuildEmbedded("tone", []byte("entries: [{id: a, kind: rude, terms: [x]}]"), func(f File) (int, error) { return len(f.Entries), nil })
	if err != nil || got != 1 {
		t.Errorf("BuildEmbedded = %d, %v; want the constructor's result 1", got, err)
	}
}

func TestExtend(t *testing.T) {
	base := File{Version: "b1", Entries: []Entry{{ID: "a", Kind: "rude", Terms: []string{"x"}}}, Allow: []string{"p"}, Sets: map[string][]string{"s": {"1"}}}
	ext := File{Version: "t1", Entries: []Entry{{ID: "t.b", Kind: "rude", Terms: []string{"y"}}}, Allow: []string{"q"}, Sets: map[string][]string{"s": {"2"}, "n": {"3"}}}
	got := base.Extend(ext)
	if got.Version != "b1+t1" || len(got.Entries) != 2 || got.Entries[1].ID != "t.b" || strings.Join(got.Allow, ",") != "p,q" ||
		strings.Join(got.Sets["s"], ",") != "1,2" || strings.Join(got.Sets["n"], ",") != "3" {
		t.Fatalf("Extend = %+v", got)
	}
	if len(base.Entries) != 1 || len(base.Sets["s"]) != 1 || len(base.Allow) != 1 {
		t.Fatalf("Extend modified the base: %+v", base)
	}
}
