package tone

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/internal/textscan"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// oracle is the regular expression the obfuscation matcher replaced, kept as
// the reference: one alternation with, per word of the obfuscated set, the
// gapped and the spaced spelling, each with an optional ending; group i+1
// belongs to entries[i].
type oracle struct {
	re      *regexp.Regexp
	entries []*lexicon.Entry
}

func newOracle(t testing.TB, f lexicon.File) *oracle {
	t.Helper()
	n := normalize.Default()
	o := &oracle{}
	var alts []string
	for _, w := range f.Sets[SetObfuscated] {
		w = strings.TrimSpace(n.Normalize(w).Norm)
		var entry *lexicon.Entry
		for i := range f.Entries {
			if slices.Contains(f.Entries[i].Terms, w) {
				entry = &f.Entries[i]
				break
			}
		}
		if entry == nil {
			t.Fatalf("oracle: %q is not a term", w)
		}
		const ending = `(?:head|ers|ing|ed|er|es|in|s|y)?`
		for _, gap := range []string{`[._\-*]?`, ` `} {
			o.entries = append(o.entries, entry)
			var b strings.Builder
			b.WriteString("(")
			for i := 0; i < len(w); i++ {
				if i > 0 {
					b.WriteString(gap)
				}
				class := w[i : i+1]
				if s, ok := substitutes[w[i]]; ok {
					class = s
				}
				if i > 0 && i < len(w)-1 {
					class += "*"
				}
				b.WriteString("[" + regexp.QuoteMeta(class) + "]")
			}
			b.WriteString(ending + ")")
			alts = append(alts, b.String())
		}
	}
	o.re = regexp.MustCompile(strings.Join(alts, "|"))
	return o
}

// obfMatch is one obfuscated word found: its range in Norm and entry.
type obfMatch struct {
	s, e int
	id   string
}

// find returns what the old Detect reported from the expression (leaving out
// its prefilter): the matches at word boundaries.
func (o *oracle) find(norm string) []obfMatch {
	var out []obfMatch
	for _, m := range o.re.FindAllStringSubmatchIndex(norm, -1) {
		for g := 1; g*2+1 < len(m); g++ {
			s, e := m[2*g], m[2*g+1]
			if s < 0 {
				continue
			}
			if s > 0 && textscan.IsWordByte(norm[s-1]) || e < len(norm) && textscan.IsWordByte(norm[e]) {
				break
			}
			out = append(out, obfMatch{s, e, o.entries[g-1].ID})
			break
		}
	}
	return out
}

func matcherFind(d *Detector, norm string) []obfMatch {
	var out []obfMatch
	d.obf.each(norm, func(s, e int, entry *lexicon.Entry) { out = append(out, obfMatch{s, e, entry.ID}) })
	return out
}

// obfuscatedVariants generates spellings of w: letters replaced by their
// look-alikes, middle letters by stars, gap bytes between letters, the
// letters spaced out, an ending appended, and the word set in a context.
func obfuscatedVariants(rng *rand.Rand, w string, n int) []string {
	const gaps = "._-*"
	contexts := [][2]string{{"", ""}, {"you ", " ok"}, {"(", ")"}, {"x", ""}, {"", "x"}, {"ok, ", "!"}, {"3", ""}, {"", "."}, {"it's ", " now"}, {"a ", " b c"}}
	ends := []string{"", "", "", "ing", "ers", "er", "ed", "es", "in", "s", "y", "head", "ings", "x"}
	var out []string
	for range n {
		var b strings.Builder
		spaced := rng.IntN(6) == 0
		for i := 0; i < len(w); i++ {
			if i > 0 {
				switch {
				case spaced:
					b.WriteByte(' ')
				case rng.IntN(4) == 0:
					b.WriteByte(gaps[rng.IntN(len(gaps))])
				}
			}
			c := w[i]
			switch r := rng.IntN(10); {
			case r < 2 && i > 0 && i < len(w)-1:
				c = '*'
			case r < 6:
				if s := substitutes[c]; s != "" {
					c = s[rng.IntN(len(s))]
				}
			}
			b.WriteByte(c)
		}
		b.WriteString(ends[rng.IntN(len(ends))])
		ctx := contexts[rng.IntN(len(contexts))]
		out = append(out, ctx[0]+b.String()+ctx[1])
	}
	return out
}

// isPlainMatch reports whether m is a plain spelling (letters only, "fucking")
// in a word of letters followed at most by sentence punctuation ("fucking!"):
// the lexicon terms cover those, and the matcher leaves them out.
func isPlainMatch(norm string, m obfMatch) bool {
	s, e := m.s, m.e
	for s > 0 && norm[s-1] != ' ' {
		s--
	}
	for e < len(norm) && norm[e] != ' ' {
		e++
	}
	word := strings.TrimRight(strings.TrimLeft(norm[s:e], "("), ".,!?;:)")
	return strings.Trim(word, "abcdefghijklmnopqrstuvwxyz") == ""
}

// TestObfuscatedMatchesOracle checks the matcher against the regular
// expression it replaced on generated obfuscated spellings of every word of
// the set and on innocent text: the same ranges and entries, except that
// the matcher may leave out a plain spelling (letters only, "fucking") in a
// token without any symbol, which the lexicon terms cover.
func TestObfuscatedMatchesOracle(t *testing.T) {
	d := detectortest.Build(t, Default)
	o := newOracle(t, d.Lexicon().File())
	n := normalize.Default()
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs []string
	for _, w := range d.Lexicon().File().Sets[SetObfuscated] {
		inputs = append(inputs, obfuscatedVariants(rng, w, 400)...)
	}
	inputs = append(inputs,
		"f*ck", "f**k", "f***", "sh1t", "b1tch", "a$$hole", "f.u.c.k", "f u c k", "F * C K", "fucking", "shitty",
		"it's hit", "d1ck@example.com", "f*ck-ing", "f.u.c.kers", "sh!t!", "5hit", "shi7", "whor3.", "@$$h0l3",
		"f u c kers", "f u c k u c k", "(f u c k)", "xf u c k", "f  u c k", "f u  c k", "s h i t head",
		"m*********r", "dumba$$hit", "a$$hole$hit", "m***********************r", "f**************k", "f*-*-*-*-*k", "fu**ck", "fu*ck*",
		benchZH, benchEN, benchENPlain, benchENPunct,
		"Please check-in at the front desk, e.g. via john@example.com or www.example.com",
		"Shipping to Scunthorpe takes 2 days.", "First class shipping, we assess every parcel.",
		"A cocktail shaker and Dickens novels.", "Hello! Check your shell settings.", "Order 51t7 ships on 3/14.",
		"Your t-shirt (size m/l) ships 3-5 days; call +1-555-0100 or visit https://shop.example.com/a_b?x=1.",
		"I'd be happy to help! Is there anything else? Sure - a table for 2 at 7:30 p.m. works.",
		"u.s.a. d.c. a.m. p.m. i.e. etc. w/o b/c f.a.q. s.h.i.p.",
	)
	checked, plainSkipped := 0, 0
	for _, in := range inputs {
		norm := n.Normalize(in).Norm
		want, got := o.find(norm), matcherFind(d, norm)
		var missing []obfMatch
		for _, m := range want {
			if !slices.Contains(got, m) {
				missing = append(missing, m)
			}
		}
		var extra []obfMatch
		for _, m := range got {
			if !slices.Contains(want, m) {
				extra = append(extra, m)
			}
		}
		missing = slices.DeleteFunc(missing, func(m obfMatch) bool {
			if isPlainMatch(norm, m) {
				plainSkipped++
				return true
			}
			return false
		})
		if len(missing) > 0 || len(extra) > 0 {
			t.Errorf("%q (norm %q): matcher %v, expression %v", in, norm, fmtMatches(norm, got), fmtMatches(norm, want))
		}
		checked++
	}
	t.Logf("%d inputs agree; %d plain spellings left to the lexicon", checked, plainSkipped)
}

func fmtMatches(norm string, ms []obfMatch) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%q[%d,%d)%s", norm[m.s:m.e], m.s, m.e, m.id))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// TestObfuscatedDoesNotAllocate checks that ordinary English with
// punctuation, hyphens, emails and URLs costs Detect no allocation.
func TestObfuscatedDoesNotAllocate(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	for _, in := range []string{benchENPlain, benchENPunct} {
		if fs := d.Detect(n.Normalize(in), nil); len(fs) != 0 {
			t.Errorf("Detect(%q) = %+v, want none", in, fs)
		}
	}
	detectortest.CheckAllocs(t, d, nil, 0, benchENPlain, benchENPunct, "you a$$hole, f u c k off and f*ck-ing sh1t")
}
