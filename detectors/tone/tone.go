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
//     alone, with no Chinese character on either side, unless the set
//     "vulgar" lists it (屌, 閪): a character vulgar in every word counts
//     wherever it stands;
//   - a hit is dropped when a word of the set "words" overlaps it without
//     lying inside it (你个垃圾 in 给你个垃圾袋 cuts through 垃圾袋);
//   - a hit of a term of ASCII letters followed by a hyphen and a digit is
//     a model or part number (SB-200, CNM-3, GY-6) and is dropped;
//   - the English words of the set "obfuscated" are also found spelled with
//     stars, spaces, dots or look-alike symbols (f*ck, f u c k, sh1t,
//     a$$hole), by a matcher built from the set in New that looks only at
//     tokens holding a look-alike symbol or gap and at spaced-out letters.
package tone

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/internal/judge"
	"github.com/xunjian/xunjian/detectors/internal/lexdetect"
	"github.com/xunjian/xunjian/detectors/internal/textscan"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// Name is the detector family.
const Name = "tone"

// Kinds returns the taxonomy kinds of the tone family, the second half of
// its findings' names: part of the public API (DESIGN.md, the schemas).
// Lexicon entries must be of one of them. Each call returns a new slice.
func Kinds() []string {
	return []string{"rude", "dismissive", "impatient", "profanity"}
}

// Set names the detector reads from its lexicon.
const (
	// SetWords lists words a hit must not cut through.
	SetWords = "words"
	// SetObfuscated lists English words also matched when obfuscated. Each
	// must be a term of some entry, whose kind and severity the hit takes.
	SetObfuscated = "obfuscated"
	// SetVulgar lists single Chinese characters that count even inside a
	// word. Each must be a one-character term of some entry.
	SetVulgar = "vulgar"
)

//go:embed lexicon.yaml
var defaultLexicon []byte

// Detector finds tone problems in a message. It is immutable after New and
// safe for concurrent use.
type Detector struct {
	lexdetect.Base
	// obf finds the obfuscated spellings; nil when the lexicon has no
	// obfuscated set.
	obf *obfMatcher
	// Slot holds the model's judge of the whole message, when it has one.
	judge.Slot
}

var _ detectors.Detector = (*Detector)(nil)

// New builds the detector from a lexicon file (the default one or one from a
// policy bundle). Terms with an ASCII apostrophe also match with a
// typographic one and with none.
func New(f lexicon.File) (*Detector, error) {
	b, err := lexdetect.Compile(Name, f, Kinds())
	if err != nil {
		return nil, err
	}
	if err := checkVulgar(b.Lexicon().File()); err != nil {
		return nil, fmt.Errorf("tone: %w", err)
	}
	obf, err := newObfMatcher(b.Lexicon().File())
	if err != nil {
		return nil, fmt.Errorf("tone: %w", err)
	}
	return &Detector{Base: b, obf: obf}, nil
}

// DefaultLexicon returns the embedded lexicon file, parsed.
func DefaultLexicon() (lexicon.File, error) { return lexicon.Embedded(Name, defaultLexicon) }

// Default builds the detector from the embedded lexicon.
func Default() (*Detector, error) { return lexicon.BuildEmbedded(Name, defaultLexicon, New) }

// maxHits bounds the hits kept on the stack; longer messages spill to the heap.
const maxHits = 16

// Detect appends the tone findings of t to dst. Overlapping findings of one
// kind are merged into the longest.
func (d *Detector) Detect(t *normalize.Text, dst []detectors.Finding) []detectors.Finding {
	var buf [maxHits]lexicon.Hit
	first := len(dst)
	dst = lexdetect.Scan(d, t, d.Lexicon().MatchText(t, buf[:0]), dst, (*Detector).claim, merge)
	if d.obf != nil {
		d.obf.each(t.Norm, func(s, e int, entry *lexicon.Entry) {
			if !partNumber(t.Norm, s, e) {
				dst = merge(t, dst, first, lexdetect.EntryClaim(entry, s, e))
			}
		})
	}
	return d.Slot.Append(t, dst, first)
}

// claim is the family's lexdetect.ClaimFunc: an entry hit claims its
// entry's finding when it passes the single-character and word-boundary
// rules (keep).
func (d *Detector) claim(norm string, hits []lexicon.Hit, i int) (lexdetect.Claim, bool) {
	h := &hits[i]
	if h.Entry == nil || !d.keep(norm, h, hits) {
		return lexdetect.Claim{}, false
	}
	return lexdetect.EntryClaim(h.Entry, h.Start, h.End), true
}

// merge is the family's lexdetect.MergeFunc: it appends c unless a finding
// of the same kind among dst[first:] overlaps it; of two overlapping
// findings of one kind the longer is kept.
func merge(t *normalize.Text, dst []detectors.Finding, first int, c lexdetect.Claim) []detectors.Finding {
	f := c.At(t, Name)
	if o := lexdetect.Overlap(dst[first:], f.Kind, f.Start, f.End); o != nil {
		if f.End-f.Start > o.End-o.Start {
			*o = f
		}
		return dst
	}
	return append(dst, f)
}

// keep applies the single-character, word-boundary and part-number rules to
// an entry hit.
func (d *Detector) keep(norm string, h *lexicon.Hit, hits []lexicon.Hit) bool {
	if partNumber(norm, h.Start, h.End) {
		return false
	}
	if r, size := utf8.DecodeRuneInString(norm[h.Start:h.End]); size == h.End-h.Start && normalize.IsHan(r) && !vulgar(h, hits) {
		if before, _ := utf8.DecodeLastRuneInString(norm[:h.Start]); normalize.IsHan(before) {
			return false
		}
		if after, _ := utf8.DecodeRuneInString(norm[h.End:]); normalize.IsHan(after) {
			return false
		}
	}
	return !cutsWord(h, hits)
}

// vulgar reports whether a hit of the set "vulgar" spans exactly h.
func vulgar(h *lexicon.Hit, hits []lexicon.Hit) bool {
	for i := range hits {
		if w := &hits[i]; w.Set == SetVulgar && w.Start == h.Start && w.End == h.End {
			return true
		}
	}
	return false
}

// checkVulgar checks that every character of the vulgar set of f is a
// one-character term of an entry.
func checkVulgar(f lexicon.File) error {
	n := normalize.Default()
	for _, c := range f.Sets[SetVulgar] {
		c = strings.TrimSpace(n.Normalize(c).Norm)
		if r, size := utf8.DecodeRuneInString(c); size != len(c) || !normalize.IsHan(r) {
			return fmt.Errorf("set %s: %q is not one Chinese character", SetVulgar, c)
		}
		found := false
		for i := range f.Entries {
			for _, t := range f.Entries[i].Terms {
				if strings.TrimSpace(n.Normalize(t).Norm) == c {
					found = true
				}
			}
		}
		if !found {
			return fmt.Errorf("set %s: %q is not a term of any entry", SetVulgar, c)
		}
	}
	return nil
}

// partNumber reports whether norm[s:e] is ASCII letters followed by a hyphen
// and a digit: the prefix of a model or part number (SB-200, CNM-3), which
// an abbreviation of an insult may share. A digit right after the letters
// needs no rule: the lexicon's word boundary already keeps GY6 and MD5
// quiet.
func partNumber(norm string, s, e int) bool {
	if e+1 >= len(norm) || norm[e] != '-' || norm[e+1] < '0' || norm[e+1] > '9' {
		return false
	}
	for i := s; i < e; i++ {
		if !isLetter(norm[i]) {
			return false
		}
	}
	return true
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

// substitutes lists what may stand for a letter in an obfuscated word.
var substitutes = map[byte]string{
	'a': "a@4", 'e': "e3", 'i': "i1!|l", 'o': "o0", 's': "s$5z", 't': "t7+", 'u': "uv", 'c': "ck", 'k': "kq", 'l': "l1|",
}

// gapBytes may stand alone between two letters of an obfuscated word
// ("f.u.c.k", "f-u-c-k", "f_u_c_k", "f*u*c*k").
const gapBytes = "._-*"

// endings are the common endings an obfuscated word may carry, in the order
// they are tried: the first that follows the word is taken.
var endings = [...]string{"head", "ers", "ing", "ed", "er", "es", "in", "s", "y"}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(c byte) { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) addAll(cs string) {
	for i := 0; i < len(cs); i++ {
		s.add(cs[i])
	}
}
func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) union(o *byteSet) {
	for i := range s {
		s[i] |= o[i]
	}
}

// obfWord is one word of the obfuscated set: class[i] holds the bytes that may
// stand at position i (the letter, its look-alikes, and a star for any
// position but the first and the last).
type obfWord struct {
	class []byteSet
	entry *lexicon.Entry
}

// obfMatcher finds the obfuscated spellings of the words of the set
// "obfuscated" without a regular expression and without allocating.
//
// It reports what the expression
//
//	w1-gapped | w1-spaced | w2-gapped | w2-spaced | ...
//
// would report with leftmost-first semantics, each alternative followed by an
// optional ending, where a gapped alternative is the word's classes with at
// most one gap byte between two of them ("f.u.c.k", "f*ck", "sh1t") and a
// spaced alternative is the word's classes separated by single spaces
// ("f u c k"). A space is never mixed with other gaps, so "it's hit" is not
// "s hit". Matches do not overlap: the scan resumes after each match, kept or
// not, and a match preceded or followed by a word byte is dropped.
//
// The gapped alternatives are only tried inside a token (a run of bytes that
// may occur in a gapped match) holding a look-alike symbol or gap byte that
// could be inside a word: a token of plain letters is the lexicon's business
// ("fuck", "fucking" are terms), and sentence punctuation at a token's end
// ("out!", "e.g.") does not make the token a candidate. The spaced
// alternatives are only tried where three bytes stand apart separated by
// single spaces.
type obfMatcher struct {
	words []obfWord
	// start[c] lists, in set order, the words whose first class holds c.
	start [256][]int
	// flags[c] tells what byte c may be in an obfuscated spelling.
	flags [256]uint8
}

// Flags of a byte in obfMatcher.flags.
const (
	inToken  uint8 = 1 << iota // may be part of a gapped match
	isSymbol                   // not a letter, may stand for one or between two
	isLast                     // may stand for the last letter of a word
	isGap                      // may stand alone between two letters
)

// newObfMatcher builds the matcher for the obfuscated set of f, whose words
// must be terms of entries of f.
func newObfMatcher(f lexicon.File) (*obfMatcher, error) {
	words := f.Sets[SetObfuscated]
	if len(words) == 0 {
		return nil, nil
	}
	n := normalize.Default()
	m := &obfMatcher{}
	var token, last, gap byteSet
	gap.addAll(gapBytes)
	for c := byte('a'); c <= 'z'; c++ {
		token.add(c)
	}
	token.union(&gap)
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
			return nil, fmt.Errorf("set %s: %q is not a term of any entry", SetObfuscated, w)
		case len(w) < 3 || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "":
			return nil, fmt.Errorf("set %s: %q is not a word of at least three ASCII letters", SetObfuscated, w)
		}
		ow := obfWord{class: make([]byteSet, len(w)), entry: entry}
		for i := 0; i < len(w); i++ {
			cls := &ow.class[i]
			cls.add(w[i])
			cls.addAll(substitutes[w[i]])
			if i > 0 && i < len(w)-1 {
				cls.add('*')
			}
			token.union(cls)
			if i == len(w)-1 {
				last.union(cls)
			}
		}
		for c := range 256 {
			if ow.class[0].has(byte(c)) {
				m.start[c] = append(m.start[c], len(m.words))
			}
		}
		m.words = append(m.words, ow)
	}
	for c := range 256 {
		b := byte(c)
		if token.has(b) {
			m.flags[c] |= inToken
			if !isLetter(b) {
				m.flags[c] |= isSymbol
			}
		}
		if last.has(b) {
			m.flags[c] |= isLast
		}
		if gap.has(b) {
			m.flags[c] |= isGap
		}
	}
	return m, nil
}

// each calls fn with the range and entry of every obfuscated word in norm that
// stands at word boundaries, in order.
func (m *obfMatcher) each(norm string, fn func(s, e int, entry *lexicon.Entry)) {
	next := 0 // matches do not overlap: none starts before next
	report := func(s, e int, w *obfWord) {
		next = e
		if s > 0 && textscan.IsWordByte(norm[s-1]) || e < len(norm) && textscan.IsWordByte(norm[e]) {
			return
		}
		fn(s, e, w.entry)
	}
	flags := &m.flags
	for i := 0; i < len(norm); {
		f := flags[norm[i]]
		if f&inToken == 0 {
			i++
			continue
		}
		// The token [ts, te) is a candidate when it holds a symbol that is
		// not its last byte or may stand for a last letter.
		ts := i
		candidate := false
		for {
			i++
			var g uint8
			if i < len(norm) {
				g = flags[norm[i]]
			}
			if f&isSymbol != 0 && (f&isLast != 0 || g&inToken != 0) {
				candidate = true
			}
			if g&inToken == 0 {
				break
			}
			f = g
		}
		te := i
		if candidate {
			for p := max(ts, next); p < te-1; p++ {
				for _, wi := range m.start[norm[p]] {
					w := &m.words[wi]
					if e := m.matchGapped(w, norm[:te], p); e >= 0 {
						report(p, e, w)
						p = e - 1
						break
					}
				}
			}
		}
		// "f u c k": three bytes apart, the first ending this token.
		if p := te - 1; p >= next && te+3 < len(norm) && norm[te] == ' ' && norm[te+1] != ' ' && norm[te+2] == ' ' && norm[te+3] != ' ' {
			for _, wi := range m.start[norm[p]] {
				w := &m.words[wi]
				if e := matchSpaced(w, norm, p); e >= 0 {
					report(p, e, w)
					i = max(i, e)
					break
				}
			}
		}
	}
}

// maxMemo bounds the word length for which matchGapped remembers failed
// states; longer words are matched without the memo.
const maxMemo = 32

// matchGapped returns the end of the gapped match of w at p in s, or -1.
func (m *obfMatcher) matchGapped(w *obfWord, s string, p int) int {
	// Most tries fail on the second letter: settle those before the memo.
	if c1 := &w.class[1]; !(p+1 < len(s) && c1.has(s[p+1]) || p+2 < len(s) && m.flags[s[p+1]]&isGap != 0 && c1.has(s[p+2])) {
		return -1
	}
	var failed [maxMemo]uint64
	e := m.gapped(w, s, 1, p+1, p, &failed)
	if e < 0 {
		return -1
	}
	return withEnding(s, e)
}

// gapped matches the classes of w from i on at pos, trying a gap byte before
// the class first, as a greedy "gap?" does, and returns the end of the first
// match or -1. failed remembers the (class, offset from p) states that failed.
func (m *obfMatcher) gapped(w *obfWord, s string, i, pos, p int, failed *[maxMemo]uint64) int {
	if i == len(w.class) {
		return pos
	}
	memo := len(w.class) <= maxMemo
	bit := uint64(1) << (pos - p)
	if memo && failed[i]&bit != 0 {
		return -1
	}
	cls := &w.class[i]
	if pos+1 < len(s) && m.flags[s[pos]]&isGap != 0 && cls.has(s[pos+1]) {
		if e := m.gapped(w, s, i+1, pos+2, p, failed); e >= 0 {
			return e
		}
	}
	if pos < len(s) && cls.has(s[pos]) {
		if e := m.gapped(w, s, i+1, pos+1, p, failed); e >= 0 {
			return e
		}
	}
	if memo {
		failed[i] |= bit
	}
	return -1
}

// matchSpaced returns the end of the spaced match of w at p in s ("f u c k"),
// or -1.
func matchSpaced(w *obfWord, s string, p int) int {
	pos := p
	for i := range w.class {
		if i > 0 {
			if pos >= len(s) || s[pos] != ' ' {
				return -1
			}
			pos++
		}
		if pos >= len(s) || !w.class[i].has(s[pos]) {
			return -1
		}
		pos++
	}
	return withEnding(s, pos)
}

// withEnding returns e moved past the first of the endings that s has at e.
func withEnding(s string, e int) int {
	for _, end := range endings {
		if strings.HasPrefix(s[e:], end) {
			return e + len(end)
		}
	}
	return e
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' }

// WithModel returns a copy of d that also judges each message as a whole
// with m, reporting as rude, dismissive, impatient or profane a message the
// model finds so with probability from(kind) or more ("tone.rude") and the
// lexicon did not already flag (see package detectors/internal/judge). A model without a
// label of the family leaves the detector as it is.
func (d *Detector) WithModel(m *model.Model, from func(kind string) float64) (*Detector, error) {
	return judge.With(d, func(d *Detector) *judge.Slot { return &d.Slot }, m, Name, Kinds(), from)
}

// Version identifies the lexicon and, when d has one, the model.
func (d *Detector) Version() string { return d.Slot.Version(d.Base.Version()) }
