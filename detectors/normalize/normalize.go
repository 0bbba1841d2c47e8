// Package normalize folds a chat message into the canonical form that
// Xunjian's detectors match against, and keeps a map from every byte of the
// normalized text back to code points of the original, so that findings point
// at what the agent typed.
//
// Normalization folds:
//   - full-width forms to half-width, and Latin letters to lower case;
//   - traditional Chinese characters to simplified (a table generated from
//     OpenCC, see data/t2s.tsv);
//   - circled, parenthesized, keycap, superscript and other look-alike digits
//     to ASCII digits, and Chinese numerals (一二三, 壹贰叁, 幺, 两, 〇) to ASCII
//     digits where they form a number of at least four digits;
//   - spaces, dots, dashes, emoji and zero-width characters between digits of
//     such a number, and separators placed between Chinese characters;
//   - invisible code points anywhere: controls other than tab, newline and
//     carriage return (Cc), format characters (Cf, zero-width and bidi
//     marks, tags), private-use (Co) and unassigned (Cn) code points,
//     variation selectors, U+FFFC and a few fillers. They are dropped as if
//     never typed and attached to the next code point in the offset map, so
//     inserting one never changes Norm nor splits a number into groups.
//   - look-alike spellings of contact apps (V信, vx, 薇信, 扣扣, 飞机 …) and
//     spelled-out emails (at, 艾特, dot, 点), from data/folds.tsv.
package normalize

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

//go:embed data/t2s.tsv
var t2sTSV []byte

//go:embed data/folds.tsv
var foldsTSV []byte

// minNumber is how many digits a run needs before Chinese numerals in it are
// read as digits and the separators inside it are dropped. Four covers
// verification codes; fewer would turn 一定 or 第一 into digits.
const minNumber = 4

// maxGap is how many separator characters may stand between two digits of one
// number ("138 - 1234", "1 2 3 4").
const maxGap = 3

// Text is a message and its normalized form. It is immutable once built and
// safe for concurrent reads (its memo, see Memo, is a cache of what
// detectors computed from it, set atomically).
type Text struct {
	// Orig is the message as received.
	Orig string
	// Norm is the normalized message that detectors match against.
	Norm string

	// src[i] is the span of original code points that produced byte i of Norm.
	src []span
	// origByte[k] is the byte offset in Orig of code point k; it has one
	// extra entry, len(Orig).
	origByte []int32

	memo atomic.Pointer[Memo]
}

// Memo is something a detector worked out from the whole of a Text,
// kept with the text for the next detector that needs the same: two
// families judged by one learned model (tone and complaint) score a
// message once, and the lexicons of all families are matched in one
// pass. A Memo is never changed once kept.
type Memo struct {
	// Owner is what worked Value out (the model, the lexicons' scanner);
	// a memo serves only the same owner.
	Owner any
	// Value is what it worked out; its owner knows its type.
	Value any

	next *Memo // the memo kept before this one
}

// Memo returns the memo kept for owner (see SetMemo), or nil.
func (t *Text) Memo(owner any) *Memo {
	for m := t.memo.Load(); m != nil; m = m.next {
		if m.Owner == owner {
			return m
		}
	}
	return nil
}

// SetMemo keeps m with the text, before the others (a later one of the
// same owner hides an earlier), until the Text is normalized into again.
// m must not change afterwards.
func (t *Text) SetMemo(m *Memo) {
	for {
		old := t.memo.Load()
		m.next = old
		if t.memo.CompareAndSwap(old, m) {
			return
		}
	}
}

type span struct{ start, end int32 }

// Len returns the length of the original text in code points.
func (t *Text) Len() int { return len(t.origByte) - 1 }

// Span maps the normalized byte range [nb, ne) to the range of original code
// points [start, end) that produced it. An empty or out-of-range input maps to
// an empty range at the nearest valid position.
func (t *Text) Span(nb, ne int) (start, end int) {
	if len(t.src) == 0 {
		return 0, 0
	}
	nb = max(0, min(nb, len(t.src)-1))
	ne = max(nb+1, min(ne, len(t.src)))
	return int(t.src[nb].start), int(t.src[ne-1].end)
}

// NormRange returns the range of Norm bytes [nb, ne) produced by the original
// code points from start up to end: the bytes whose source starts in
// [start, end). It is the inverse of Span, for callers (masking) that must
// decide per original code point from what it was folded to. Code points
// that produced nothing (a dropped separator) have no bytes.
func (t *Text) NormRange(start, end int) (nb, ne int) {
	first := func(cp int) int {
		lo, hi := 0, len(t.src)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if int(t.src[m].start) < cp {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo
	}
	nb = first(start)
	return nb, max(nb, first(end))
}

// OrigText returns the original text of the code points [start, end).
func (t *Text) OrigText(start, end int) string {
	n := t.Len()
	start = max(0, min(start, n))
	end = max(start, min(end, n))
	return t.Orig[t.origByte[start]:t.origByte[end]]
}

// Normalizer holds the folding tables. Build one with New or Default and
// share it: it is immutable and safe for concurrent use.
type Normalizer struct {
	hanLo, hanHi rune
	hanT2S       []rune        // dense table for [hanLo, hanHi)
	t2s          map[rune]rune // the rest
	folds        map[rune][]fold
	// foldFirst has bit r&0xFFFF set for the first rune r of every fold
	// pattern, so most runes skip the map lookup.
	foldFirst [1 << 16 / 64]uint64
	foldASCII [utf8.RuneSelf][]fold // folds[r] for ASCII r
	// mailHosts are the first labels of mail providers' domains (gmail,
	// qq, 163): the word "at" before a domain written with real dots is
	// an @ only when the domain is one of them.
	mailHosts map[string]bool
	// hidden has bit r set for every code point r < hiddenLimit that
	// normalization drops (see isInvisible).
	hidden *[hiddenLimit / 64]uint64
}

// hiddenLimit bounds the hidden bitset: from U+40000 on, every code point
// is unassigned, a tag, a variation selector or private-use, and is hidden.
const hiddenLimit = 0x40000

type foldContext uint8

const (
	ctxAny   foldContext = iota
	ctxWord              // an ASCII pattern must not touch other ASCII letters
	ctxEmail             // between two parts of an email address
)

type fold struct {
	pat  []rune
	repl []rune
	ctx  foldContext
}

var defaultNormalizer = sync.OnceValues(func() (*Normalizer, error) {
	return New(t2sTSV, foldsTSV)
})

// Default returns the normalizer built from the embedded tables.
func Default() *Normalizer {
	n, err := defaultNormalizer()
	if err != nil {
		panic(fmt.Sprintf("normalize: embedded tables: %v", err)) // a build defect, caught by tests
	}
	return n
}

// New builds a Normalizer from a traditional-to-simplified table (lines of
// "trad<TAB>simp") and a fold table (lines of "pattern<TAB>replacement<TAB>
// context", context one of any, word, email; or "label<TAB>label<TAB>
// mailhost", a mail provider's domain label, which folds nothing but lets
// the word "at" before it be an @). Lines starting with # are comments.
func New(t2s, folds []byte) (*Normalizer, error) {
	n := &Normalizer{hanLo: 0x3400, hanHi: 0xA000, t2s: map[rune]rune{}, folds: map[rune][]fold{}, mailHosts: map[string]bool{}, hidden: hiddenTable()}
	n.hanT2S = make([]rune, n.hanHi-n.hanLo)
	err := eachLine(t2s, func(line int, cols []string) error {
		if len(cols) != 2 || utf8.RuneCountInString(cols[0]) != 1 || utf8.RuneCountInString(cols[1]) != 1 {
			return fmt.Errorf("t2s line %d: want two single characters separated by a tab", line)
		}
		from, _ := utf8.DecodeRuneInString(cols[0])
		to, _ := utf8.DecodeRuneInString(cols[1])
		if from >= n.hanLo && from < n.hanHi {
			n.hanT2S[from-n.hanLo] = to
		} else {
			n.t2s[from] = to
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = eachLine(folds, func(line int, cols []string) error {
		if len(cols) != 3 || cols[0] == "" {
			return fmt.Errorf("folds line %d: want pattern, replacement and context separated by tabs", line)
		}
		if cols[2] == "mailhost" {
			host := strings.ToLower(cols[0])
			if cols[1] != cols[0] || !isMailHost(host) {
				return fmt.Errorf("folds line %d: a mailhost line names one domain label (ASCII letters, digits, '-'), twice", line)
			}
			n.mailHosts[host] = true
			return nil
		}
		f := fold{repl: []rune(cols[1])}
		// Patterns are matched against text already folded by the
		// character pass, so fold them the same way.
		for _, r := range cols[0] {
			f.pat = append(f.pat, n.foldRune(r))
		}
		switch cols[2] {
		case "any":
			f.ctx = ctxAny
		case "word":
			f.ctx = ctxWord
		case "email":
			f.ctx = ctxEmail
		default:
			return fmt.Errorf("folds line %d: unknown context %q (want any, word or email)", line, cols[2])
		}
		first := f.pat[0]
		list := append(n.folds[first], f)
		// Longest pattern first, so the longest spelling wins.
		for i := len(list) - 1; i > 0 && len(list[i].pat) > len(list[i-1].pat); i-- {
			list[i], list[i-1] = list[i-1], list[i]
		}
		n.folds[first] = list
		n.foldFirst[(first&0xFFFF)/64] |= 1 << (first % 64)
		if first < utf8.RuneSelf {
			n.foldASCII[first] = list
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

func eachLine(data []byte, fn func(line int, cols []string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" || text[0] == '#' {
			continue
		}
		if err := fn(line, strings.Split(text, "\t")); err != nil {
			return err
		}
	}
	return sc.Err()
}

// item is one code point after the character pass.
type item struct {
	r     rune
	digit int8 // 0-9 if r reads as a digit, else -1
	weak  bool // a Chinese numeral: a digit only inside a long number
	sep   bool // a separator that may be dropped between digits or Han
	span
}

// Buffer holds the scratch space of one normalization so that a caller
// normalizing many messages allocates little. A Buffer is not safe for
// concurrent use.
type Buffer struct {
	items []item
	out   []item
	norm  []byte
}

// Normalize returns the normalized form of s.
func (n *Normalizer) Normalize(s string) *Text {
	var b Buffer
	t := &Text{}
	n.NormalizeInto(t, &b, s)
	return t
}

// NormalizeInto normalizes s into t, reusing t's slices and the scratch
// buffer b. t must not be shared with readers while it is being rebuilt.
func (n *Normalizer) NormalizeInto(t *Text, b *Buffer, s string) {
	t.Orig = s
	t.origByte = t.origByte[:0]
	t.memo.Store(nil)
	items := b.items[:0]

	// Pass 1: one code point at a time.
	cp := int32(0)
	hiddenFrom := int32(-1) // first of the hidden code points before this one
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		t.origByte = append(t.origByte, int32(i))
		i += size
		sp := span{cp, cp + 1}
		cp++
		if n.isInvisible(r) {
			if hiddenFrom < 0 {
				hiddenFrom = sp.start
			}
			continue
		}
		if hiddenFrom >= 0 {
			// The next visible code point owns the hidden ones before it,
			// so they open no gap between the groups of a number.
			sp.start, hiddenFrom = hiddenFrom, -1
		}
		if r >= 0xFF01 && r <= 0xFF5E {
			r -= 0xFEE0
		} else if r == 0x3000 {
			r = ' '
		}
		it := item{r: r, digit: -1, span: sp}
		if d := lookalikeDigit(r); d >= 0 {
			it.r, it.digit = rune('0'+d), int8(d)
		} else if d := chineseDigit(r); d >= 0 {
			it.digit, it.weak = int8(d), true
		} else {
			it.r = n.foldRune(r)
			it.sep = isSeparator(it.r)
		}
		items = append(items, it)
	}
	t.origByte = append(t.origByte, int32(len(s)))

	// Pass 2: numbers and separators.
	out := b.out[:0]
	for i := 0; i < len(items); {
		it := items[i]
		if it.digit < 0 {
			if it.sep && len(out) > 0 && IsHan(out[len(out)-1].r) {
				// Separators wedged between Chinese characters (傻 逼, 微.信) go,
				// but not an emoji that a fold reads as a word (我的🐧是: QQ).
				j := i
				for j < len(items) && j-i < maxGap && items[j].sep && !n.startsFold(items[j].r) {
					j++
				}
				if j < len(items) && j > i && IsHan(items[j].r) {
					i = j
					continue
				}
			}
			out = append(out, it)
			i++
			continue
		}
		// A run of digits, possibly with short separator gaps.
		end, digits := i, 0
		for j := i; j < len(items); {
			if items[j].digit >= 0 {
				digits++
				j++
				end = j
				continue
			}
			k := j
			// Stars are masks (138****5678), not padding.
			for k < len(items) && k-j < maxGap && items[k].sep && items[k].r != '*' {
				k++
			}
			if k == j || k >= len(items) || items[k].digit < 0 {
				break
			}
			j = k
		}
		number := digits >= minNumber
		for j := i; j < end; j++ {
			d := items[j]
			switch {
			case d.digit >= 0 && (number || !d.weak):
				d.r, d.weak = rune('0'+d.digit), false
				out = append(out, d)
			case d.digit >= 0:
				out = append(out, d)
			case !number:
				out = append(out, d)
			}
		}
		i = end
	}
	b.items, b.out = items, out

	// Pass 3: phrase folds, then encode.
	norm := b.norm[:0]
	t.src = t.src[:0]
	var enc [utf8.UTFMax]byte
	emit := func(r rune, sp span) {
		m := utf8.EncodeRune(enc[:], r)
		norm = append(norm, enc[:m]...)
		for range m {
			t.src = append(t.src, sp)
		}
	}
	for i := 0; i < len(out); {
		if f, consumed, ok := n.matchFold(out, i); ok {
			sp := span{out[i].start, out[i+consumed-1].end}
			if f.ctx == ctxEmail {
				for len(norm) > 0 && norm[len(norm)-1] == ' ' {
					norm, t.src = norm[:len(norm)-1], t.src[:len(t.src)-1]
				}
			}
			for _, r := range f.repl {
				emit(r, sp)
			}
			i += consumed
			continue
		}
		emit(out[i].r, out[i].span)
		i++
	}
	t.Norm = string(norm)
	b.norm = norm
}

// matchFold returns the longest fold whose pattern starts at out[i] and whose
// context holds, and how many items it consumes (with email folds, the spaces
// around the pattern too).
func (n *Normalizer) matchFold(out []item, i int) (fold, int, bool) {
	r := out[i].r
	var cands []fold
	switch {
	case r < utf8.RuneSelf:
		cands = n.foldASCII[r]
	case n.foldFirst[(r&0xFFFF)/64]&(1<<(r%64)) == 0:
		return fold{}, 0, false
	default:
		cands = n.folds[r]
	}
	for _, f := range cands {
		if len(out)-i < len(f.pat) {
			continue
		}
		ok := true
		for k, r := range f.pat {
			if out[i+k].r != r {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		end := i + len(f.pat)
		switch f.ctx {
		case ctxWord:
			if isASCIILetter(f.pat[0]) && i > 0 && isASCIILetter(out[i-1].r) {
				continue
			}
			if isASCIILetter(f.pat[len(f.pat)-1]) && end < len(out) && isASCIILetter(out[end].r) {
				continue
			}
		case ctxEmail:
			if !n.emailContext(out, i, end) {
				continue
			}
			// Swallow the spaces between the parts of the address.
			for end < len(out) && out[end].r == ' ' {
				end++
			}
		}
		return f, end - i, true
	}
	return fold{}, 0, false
}

// emailContext reports whether out[i:end] joins two parts of an email
// address: an ASCII word before it, and after it a domain label (for an "at")
// or a top-level domain (for a "dot"). Spelled words need spaces around them,
// so "cat", "atom" and "2点30" stay as they are. The bare word "at" before a
// domain written with real dots is English far more often than an address
// ("order at shop.example.com", "available at amazon.com"): it is an @ only
// when the domain is a mail provider's (john at gmail.com) or its dots are
// spelled too (zhang at qq dot com).
func (n *Normalizer) emailContext(out []item, i, end int) bool {
	spelled := isASCIILetter(out[i].r)
	p := i - 1
	for p >= 0 && out[p].r == ' ' {
		p--
	}
	q := end
	for q < len(out) && out[q].r == ' ' {
		q++
	}
	if p < 0 || q >= len(out) || !isASCIIAlnum(out[p].r) || !isASCIIAlnum(out[q].r) {
		return false
	}
	if spelled && (p == i-1 || q == end) {
		return false
	}
	if isDotFold(out[i:end]) {
		return isASCIILetter(out[q].r)
	}
	// An at: the domain label must be followed by a dot in some spelling.
	k := q
	for k < len(out) && (isASCIIAlnum(out[k].r) || out[k].r == '-') {
		k++
	}
	if k < len(out) && out[k].r == '.' {
		return k+1 < len(out) && isASCIILetter(out[k+1].r) && (!spelled || n.mailHost(out[q:k]))
	}
	for k < len(out) && out[k].r == ' ' {
		k++
	}
	return k < len(out) && (out[k].r == '点' || out[k].r == 'd' || out[k].r == '(' || out[k].r == '[')
}

// mailHost reports whether the domain label label is a mail provider's
// (a mailhost line of the fold table).
func (n *Normalizer) mailHost(label []item) bool {
	var buf [32]byte
	if len(label) > len(buf) {
		return false
	}
	for k, it := range label {
		buf[k] = byte(it.r) // the caller's label is ASCII
	}
	return n.mailHosts[string(buf[:len(label)])]
}

// isMailHost reports whether s can be a domain label of the fold table's
// mailhost lines: ASCII letters, digits and '-', at most 32 bytes.
func isMailHost(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := rune(s[i]); !isASCIIAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func isDotFold(pat []item) bool {
	for _, it := range pat {
		if it.r == 'd' || it.r == '点' {
			return true
		}
	}
	return false
}

// startsFold reports whether a fold pattern starts with the non-ASCII
// code point r.
func (n *Normalizer) startsFold(r rune) bool {
	return r >= utf8.RuneSelf && n.foldFirst[(r&0xFFFF)/64]&(1<<(r%64)) != 0 && len(n.folds[r]) > 0
}

// foldRune folds one code point: lower case, traditional to simplified.
func (n *Normalizer) foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	if r >= n.hanLo && r < n.hanHi {
		if s := n.hanT2S[r-n.hanLo]; s != 0 {
			return s
		}
		return r
	}
	if s, ok := n.t2s[r]; ok {
		return s
	}
	switch r {
	case '\u2018', '\u2019', '\u02BC', '\u2032', '\uFF07': // ‘ ’ ʼ ′ ＇
		return '\''
	}
	return unicode.ToLower(r)
}

// isInvisible reports code points that carry nothing a reader sees and are
// used to split words past a filter: controls (but tab, newline and carriage
// return), format characters such as zero-width spaces, bidi marks and tags,
// private-use and unassigned code points, soft hyphens, variation selectors,
// the keycap combiner and Hangul fillers.
func (n *Normalizer) isInvisible(r rune) bool {
	if r < hiddenLimit {
		return n.hidden[r/64]&(1<<(r%64)) != 0
	}
	return true
}

// hiddenTable builds the bitset of hidden code points below hiddenLimit:
// every code point outside the letter, mark, number, punctuation, symbol and
// separator categories (that is Cc, Cf, Co and Cn) except tab, newline and
// carriage return, and the listed look-through characters.
func hiddenTable() *[hiddenLimit / 64]uint64 {
	var visible [hiddenLimit / 64]uint64
	set := func(lo, hi, stride uint32) {
		for r := lo; r <= hi && r < hiddenLimit; r += stride {
			visible[r/64] |= 1 << (r % 64)
		}
	}
	for _, t := range []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z} {
		for _, r := range t.R16 {
			set(uint32(r.Lo), uint32(r.Hi), uint32(r.Stride))
		}
		for _, r := range t.R32 {
			set(r.Lo, r.Hi, r.Stride)
		}
	}
	set('\t', '\t', 1)
	set('\n', '\n', 1)
	set('\r', '\r', 1)
	hidden := new([hiddenLimit / 64]uint64)
	for i, v := range visible {
		hidden[i] = ^v
	}
	for r := rune(0); r < hiddenLimit; r++ {
		if lookThrough(r) {
			hidden[r/64] |= 1 << (r % 64)
		}
	}
	return hidden
}

// lookThrough reports assigned code points that are invisible in practice
// and used to split words: soft hyphen, combining grapheme joiner, fillers,
// variation selectors, the keycap combiner and the object replacement
// character (an So that renders as nothing or a box).
func lookThrough(r rune) bool {
	switch r {
	case 0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E,
		0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064,
		0x3164, 0xFEFF, 0x20E3, 0xFFA0, 0xFFFC:
		return true
	}
	return (r >= 0xFE00 && r <= 0xFE0F) || (r >= 0xE0100 && r <= 0xE01EF) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// lookalikeDigit returns the digit value of a character that always reads as
// a digit (circled, parenthesized, with full stop, dingbat, superscript,
// subscript, mathematical and full-width digits), or -1.
func lookalikeDigit(r rune) int {
	switch {
	case r < 0x80:
		if '0' <= r && r <= '9' {
			return int(r - '0')
		}
		return -1
	case r == 0x00B9:
		return 1
	case r == 0x00B2, r == 0x00B3:
		return int(r-0x00B2) + 2
	case r == 0x2070:
		return 0
	case r >= 0x2074 && r <= 0x2079:
		return int(r-0x2074) + 4
	case r >= 0x2080 && r <= 0x2089:
		return int(r - 0x2080)
	case r >= 0x2460 && r <= 0x2468: // ①
		return int(r-0x2460) + 1
	case r >= 0x2474 && r <= 0x247C: // ⑴
		return int(r-0x2474) + 1
	case r >= 0x2488 && r <= 0x2490: // ⒈
		return int(r-0x2488) + 1
	case r == 0x24EA, r == 0x24FF, r == 0x1F10B, r == 0x1F10C: // ⓪ ⓿ 🄋 🄌
		return 0
	case r >= 0x24F5 && r <= 0x24FD: // ⓵
		return int(r-0x24F5) + 1
	case r >= 0x2776 && r <= 0x277E: // ❶
		return int(r-0x2776) + 1
	case r >= 0x2780 && r <= 0x2788: // ➀
		return int(r-0x2780) + 1
	case r >= 0x278A && r <= 0x2792: // ➊
		return int(r-0x278A) + 1
	case r >= 0xFF10 && r <= 0xFF19: // full-width
		return int(r - 0xFF10)
	case r >= 0x1D7CE && r <= 0x1D7FF: // mathematical digits
		return int(r-0x1D7CE) % 10
	case r >= 0x1F100 && r <= 0x1F10A: // 🄀 digit with full stop/comma
		if r == 0x1F100 || r == 0x1F101 {
			return 0
		}
		return int(r-0x1F102) + 1
	}
	return -1
}

// chineseDigit returns the value of a Chinese numeral that names a single
// digit (daily and financial forms, 幺 and 两 as read in phone numbers), or -1.
func chineseDigit(r rune) int {
	switch r {
	case '〇', '零':
		return 0
	case '一', '壹', '幺', '弌':
		return 1
	case '二', '贰', '貳', '两', '兩', '弍':
		return 2
	case '三', '叁', '參', '弎':
		return 3
	case '四', '肆':
		return 4
	case '五', '伍':
		return 5
	case '六', '陆', '陸':
		return 6
	case '七', '柒':
		return 7
	case '八', '捌':
		return 8
	case '九', '玖':
		return 9
	}
	return -1
}

// isSeparator reports characters people put between digits or characters to
// slip past a filter: spaces, dots, dashes, slashes, underscores, stars
// between Han, and emoji.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '\t', '-', '.', '_', '/', '\\', '*', '·', '•', '‧', '—', '–', '‐', '‑', '−', '~', '|':
		return true
	}
	if r >= 0x1F300 && r <= 0x1FAFF || r >= 0x2600 && r <= 0x27BF {
		return true // emoji and dingbats
	}
	return unicode.IsSpace(r)
}

// IsHan reports whether r is a Han character (unicode.Han: the CJK
// ideographs of every block, radicals, 〇 and 々). It is the one definition
// the detectors and the pipeline use, so that they agree on what Chinese
// text is.
func IsHan(r rune) bool { return r >= 0x2E80 && unicode.Is(unicode.Han, r) }

func isASCIILetter(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }

func isASCIIAlnum(r rune) bool { return isASCIILetter(r) || '0' <= r && r <= '9' }
