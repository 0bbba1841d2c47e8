package lexicon

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"

	"github.com/xunjian/xunjian/detectors/normalize"
)

// libraryMatches returns every overlapping occurrence as found by the
// maintained library our automaton replaces on the hot path.
func libraryMatches(patterns []string, text string) [][3]int {
	ac := newLibrary(patterns)
	var got [][3]int
	it := ac.IterOverlapping(text)
	for m := it.Next(); m != nil; m = it.Next() {
		got = append(got, [3]int{m.Pattern(), m.Start(), m.End()})
	}
	return got
}

func newLibrary(patterns []string) ahocorasick.AhoCorasick {
	b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{MatchKind: ahocorasick.StandardMatch, DFA: true})
	return b.Build(patterns)
}

func automatonMatches(a *automaton, text string) [][3]int {
	var got [][3]int
	a.each(text, func(id, s, e int) { got = append(got, [3]int{id, s, e}) })
	return got
}

func sorted(m [][3]int) [][3]int {
	slices.SortFunc(m, func(a, b [3]int) int {
		for i := range 3 {
			if a[i] != b[i] {
				return a[i] - b[i]
			}
		}
		return 0
	})
	return m
}

// TestAutomatonAgreesWithLibrary checks our automaton against the library
// on random pattern sets and texts over a small alphabet, where overlaps
// and shared suffixes are frequent.
func TestAutomatonAgreesWithLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "c", "傻", "逼", "1"}
	word := func(n int) string {
		s := ""
		for range n {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		return s
	}
	for round := range 300 {
		var pats []string
		seen := map[string]bool{}
		for range 1 + rng.IntN(12) {
			p := word(1 + rng.IntN(4))
			if !seen[p] {
				seen[p] = true
				pats = append(pats, p)
			}
		}
		text := word(rng.IntN(40))
		want := sorted(libraryMatches(pats, text))
		got := sorted(automatonMatches(buildAutomaton(pats), text))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: patterns %q text %q:\n got %v\nwant %v", round, pats, text, got, want)
		}
	}
}

func benchLexicon(b *testing.B) ([]string, string) {
	data, err := os.ReadFile("../tone/lexicon.yaml")
	if err != nil {
		b.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	l, err := Compile(f, normalize.Default(), nil)
	if err != nil {
		b.Fatal(err)
	}
	var pats []string
	n := normalize.Default()
	for _, e := range l.File().Entries {
		for _, term := range e.Terms {
			pats = append(pats, n.Normalize(term).Norm)
		}
	}
	text := n.Normalize("亲，您好！您的订单已经发货了，快递单号是YT1234567890，预计明天下午送达。如有问题请随时联系我们，祝您购物愉快，感谢您对本店的支持！").Norm
	return pats, text
}

// BenchmarkAutomaton and BenchmarkLibrary match the tone lexicon's terms
// against the same 100-character message; run them side by side.
func BenchmarkAutomaton(b *testing.B) {
	pats, text := benchLexicon(b)
	a := buildAutomaton(pats)
	b.ReportAllocs()
	for b.Loop() {
		a.each(text, func(id, s, e int) {})
	}
}

func BenchmarkLibrary(b *testing.B) {
	pats, text := benchLexicon(b)
	ac := newLibrary(pats)
	b.ReportAllocs()
	for b.Loop() {
		it := ac.IterOverlapping(text)
		for m := it.Next(); m != nil; m = it.Next() {
		}
	}
}
