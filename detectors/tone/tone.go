// Package tone finds an agent message that insults, brushes off, hurries or
// swears at the customer: the taxonomy kinds tone.rude, tone.dismissive,
// tone.impatient and tone.profanity.
//
// The phrases live in lexicon.yaml (embedded, or a policy bundle's copy),
// matched with one Aho-Corasick automaton over the normalized text. On top of
// plain matching the detector applies three rules that keep innocent words
// quiet, all driven by the lexicon's data:
//
//   - a term of one Chinese character (滚, 操) counts only when it stands
//     alone, with no Chinese character on either side;
//   - a hit is dropped when a word of the set "words" overlaps it without
//     lying inside it (你个垃圾 in 给你个垃圾袋 cuts through 垃圾袋);
//   - the English words of the set "obfuscated" are also found spelled with
//     stars, spaces, dots or look-alike symbols (f*ck, f u c k, sh1t,
//     a$$hole), by a regular expression built from the set in New.
package tone

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// Name is the detector family.
const Name = "tone"

// Set names the detector reads from its lexicon.
const (
	// SetWords lists words a hit must not cut through.
	SetWords = "words"
	// SetObfuscated lists English words also matched when obfuscated. Each
	// must be a term of some entry, whose kind and severity the hit takes.
	SetObfuscated = "obfuscated"
)

//go:embed lexicon.yaml
var defaultLexicon []byte

// Detector finds tone problems in a message. It is immutable after New and
// safe for concurrent use.
type Detector struct {
	lex *lexicon.Lexicon
	// obf matches the obfuscated spellings; group i+1 belongs to obfEntry[i].
	// Nil when the lexicon has no obfuscated set.
	obf      *regexp.Regexp
	obfEntry []*lexicon.Entry
}

var _ detectors.Detector = (*Detector)(nil)

// DefaultLexicon returns the embedded lexicon file, parsed.
func DefaultLexicon() (lexicon.File, error) {
	f, err := lexicon.Parse(defaultLexicon)
	if err != nil {
		return lexicon.File{}, fmt.Errorf("tone: embedded lexicon: %w", err)
	}
	return f, nil
}

// Default builds the detector from the embedded lexicon.
func Default() (*Detector, error) {
	f, err := DefaultLexicon()
	if err != nil {
		return nil, err
	}
	return New(f)
}

// New builds the detector from a lexicon file (the default one or one from a
// policy bundle). Terms with an ASCII apostrophe also match with a
// typographic one and with none.
func New(f lexicon.File) (*Detector, error) {
	f = expandApostrophes(f)
	lex, err := lexicon.Compile(f, normalize.Default(), detectors.Kinds(Name))
	if err != nil {
		return nil, fmt.Errorf("tone: %w", err)
	}
	d := &Detector{lex: lex}
	if err := d.buildObfuscated(lex.File()); err != nil {
		return nil, fmt.Errorf("tone: %w", err)
	}
	return d, nil
}

// Name returns the family name, "tone".
func (d *Detector) Name() string { return Name }

// Version returns the lexicon's content hash.
func (d *Detector) Version() string { return d.lex.Version() }

// Keywords returns nil: every message needs the tone check, so there is no
// prefilter keyword that could skip it.
func (d *Detector) Keywords() []string { return nil }

// maxHits bounds the hits kept on the stack; longer messages spill to the heap.
const maxHits = 16

// Detect appends the tone findings of t to dst. Overlapping findings of one
// kind are merged into the longest.
func (d *Detector) Detect(t *normalize.Text, dst []detectors.Finding) []detectors.Finding {
	norm := t.Norm
	if norm == "" {
		return dst
	}
	var buf [maxHits]lexicon.Hit
	hits := d.lex.Match(norm, buf[:0])
	first := len(dst)
	for i := range hits {
		h := &hits[i]
		if h.Entry == nil || !d.keep(norm, h, hits) {
			continue
		}
		dst = addFinding(dst, first, t, h.Entry, h.Start, h.End)
	}
	if d.obf != nil && mayBeObfuscated(norm) {
		for _, m := range d.obf.FindAllStringSubmatchIndex(norm, -1) {
			for g := 1; g*2+1 < len(m); g++ {
				s, e := m[2*g], m[2*g+1]
				if s < 0 {
					continue
				}
				if s > 0 && isWordByte(norm[s-1]) || e < len(norm) && isWordByte(norm[e]) {
					break
				}
				dst = addFinding(dst, first, t, d.obfEntry[g-1], s, e)
				break
			}
		}
	}
	return dst
}

// addFinding appends the finding of entry for the normalized range [nb, ne)
// unless a finding of the same kind among dst[first:] overlaps it; of two
// overlapping findings of one kind the longer is kept.
func addFinding(dst []detectors.Finding, first int, t *normalize.Text, e *lexicon.Entry, nb, ne int) []detectors.Finding {
	f := detectors.At(t, Name, e.Kind, e.Severity, e.Score, nb, ne)
	f.Lexicon = e.ID
	for i := first; i < len(dst); i++ {
		o := &dst[i]
		if o.Kind != f.Kind || o.End <= f.Start || f.End <= o.Start {
			continue
		}
		if f.End-f.Start > o.End-o.Start {
			*o = f
		}
		return dst
	}
	return append(dst, f)
}

// keep applies the single-character and word-boundary rules to an entry hit.
func (d *Detector) keep(norm string, h *lexicon.Hit, hits []lexicon.Hit) bool {
	if r, size := utf8.DecodeRuneInString(norm[h.Start:h.End]); size == h.End-h.Start && unicode.Is(unicode.Han, r) {
		if before, _ := utf8.DecodeLastRuneInString(norm[:h.Start]); unicode.Is(unicode.Han, before) {
			return false
		}
		if after, _ := utf8.DecodeRuneInString(norm[h.End:]); unicode.Is(unicode.Han, after) {
			return false
		}
	}
	return !cutsWord(h, hits)
}

// cutsWord reports whether a hit of the words set overlaps h without lying
// inside it.
func cutsWord(h *lexicon.Hit, hits []lexicon.Hit) bool {
	for i := range hits {
		w := &hits[i]
		if w.Set != SetWords || w.End <= h.Start || h.End <= w.Start {
			continue
		}
		if w.Start < h.Start || w.End > h.End {
			return true
		}
	}
	return false
}

// mayBeObfuscated is a cheap prefilter for the obfuscation expression: an
// obfuscated word has a star or symbol touching a letter, a digit or dot
// between two letters, or single letters separated by spaces ("f u c k").
func mayBeObfuscated(norm string) bool {
	for i := 0; i < len(norm); i++ {
		c := norm[i]
		before := i > 0 && isLetter(norm[i-1])
		after := i+1 < len(norm) && isLetter(norm[i+1])
		switch c {
		case '*', '$', '@', '!', '|', '#':
			if before || after {
				return true
			}
		case '0', '1', '3', '4', '5', '7', '.', '_', '-', '+':
			if before && after {
				return true
			}
		case ' ':
			// "f u c k": a one-letter word followed by another.
			if before && (i < 2 || !isWordByte(norm[i-2])) && after && (i+2 >= len(norm) || norm[i+2] == ' ') {
				return true
			}
		}
	}
	return false
}

// substitutes lists what may stand for a letter in an obfuscated word.
var substitutes = map[byte]string{
	'a': "a@4", 'e': "e3", 'i': "i1!|l", 'o': "o0", 's': "s$5z", 't': "t7+", 'u': "uv", 'c': "ck", 'k': "kq", 'l': "l1|",
}

// buildObfuscated compiles the expression for the obfuscated set. For each
// word it has two alternatives, each followed by an optional common ending:
// the letters (or look-alike symbols; a star for any letter but the first and
// last) with at most one dot, dash, underscore or star between them; and the
// letters separated by single spaces ("f u c k"). A space is never mixed
// with other gaps, so "it's hit" is not "s hit".
func (d *Detector) buildObfuscated(f lexicon.File) error {
	words := f.Sets[SetObfuscated]
	if len(words) == 0 {
		return nil
	}
	n := normalize.Default()
	var alts []string
	for _, w := range words {
		w = strings.TrimSpace(n.Normalize(w).Norm)
		var entry *lexicon.Entry
		for i := range f.Entries {
			if slices.Contains(f.Entries[i].Terms, w) {
				entry = &f.Entries[i]
				break
			}
		}
		switch {
		case entry == nil:
			return fmt.Errorf("set %s: %q is not a term of any entry", SetObfuscated, w)
		case len(w) < 3 || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "":
			return fmt.Errorf("set %s: %q is not a word of at least three ASCII letters", SetObfuscated, w)
		}
		const ending = `(?:head|ers|ing|ed|er|es|in|s|y)?`
		for _, gap := range []string{`[._\-*]?`, ` `} {
			d.obfEntry = append(d.obfEntry, entry)
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
	re, err := regexp.Compile(strings.Join(alts, "|"))
	if err != nil {
		return fmt.Errorf("set %s: %w", SetObfuscated, err)
	}
	d.obf = re
	return nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' }

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// expandApostrophes returns f with every entry term, allow phrase and set
// term that holds an ASCII apostrophe also spelled with a typographic
// apostrophe and without one.
func expandApostrophes(f lexicon.File) lexicon.File {
	out := f
	out.Entries = make([]lexicon.Entry, len(f.Entries))
	for i, e := range f.Entries {
		e.Terms = withApostrophes(e.Terms)
		out.Entries[i] = e
	}
	out.Allow = withApostrophes(f.Allow)
	if f.Sets != nil {
		out.Sets = make(map[string][]string, len(f.Sets))
		for name, terms := range f.Sets {
			out.Sets[name] = withApostrophes(terms)
		}
	}
	return out
}

func withApostrophes(terms []string) []string {
	out := slices.Clone(terms)
	for _, t := range terms {
		if strings.Contains(t, "'") {
			out = append(out, strings.ReplaceAll(t, "'", "\u2019"), strings.ReplaceAll(t, "'", ""))
		}
	}
	return out
}
