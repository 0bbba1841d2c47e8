package privacy

import (
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// Masking decides per original code point from what the normalizer folded it
// to, never by re-reading digits from the original bytes: 一, ①, ¹, 壹, ８
// and 8 are all digits because the normalizer made each of them "8", and a
// spelled-out "[at]" is the @ of an address because it was folded to "@".
// A value is cut into units, each the original code points that produced one
// piece of normalized text (or one code point that produced nothing, like a
// dropped separator). Every unit is then kept in clear, starred or hidden.
//
// Kept units are shown as the agent typed them (一三八****五六七八 keeps the
// original numerals), so the masked text reads like the message; the number
// of digits they show is what the kind allows (three and four for a phone).
// Every other digit-like or letter unit of the value becomes '*'. Last, in
// any kind, a run of more than four digits left in clear (dropped
// separators do not end a run) is starred but for its last four.

// The most digits a single number of a kind has: a card 19, a resident ID
// 18, a phone 15 (0086 and a mobile, or E.164). A longer finding of the kind
// is a run holding several numbers or padding, masked but its last four.
const (
	maxNumber = 19
	maxID     = 18
	maxPhone  = 15
)

// unit is the original code points [start, end) that produced the
// normalized bytes [nb, ne) (none for a code point that produced nothing,
// like a dropped separator), what is known of them, and what masking does
// with them. It holds no pointers: a long run has a unit per digit.
type unit struct {
	start, end int32
	nb, ne     int32
	flags      flag
	act        action
}

// flag describes a unit.
type flag uint16

const (
	fEmpty    flag = 1 << iota // produced no normalized text
	fDigit                     // reads as a digit: folded to ASCII digits, or numeric (➉, ٣)
	fValue                     // can carry private data: a digit or a letter in any script
	fX                         // folded to x, the check character of a resident ID
	fSpace                     // white space
	fSecret                    // folded to characters a code or password is made of
	fAt                        // folded to something with an @ ([at], 艾特, ＠)
	fRegion                    // folded to 省, 市 or 区
	fHanStart                  // starts with a CJK character
)

func (u *unit) is(f flag) bool { return u.flags&f != 0 }

// action is what masking does with a unit.
type action uint8

const (
	keep   action = iota // show the original code points
	star                 // one '*'
	stars3               // "***", hiding the length of what it replaces
	stars4               // "****"
	stars6               // "******"
	drop                 // nothing: an earlier unit's stars stand for it
)

// classify sets the flags of a unit from its normalized and original text.
func classify(norm, orig string) flag {
	var f flag
	if norm == "" {
		f |= fEmpty
		if numeric(orig) {
			f |= fDigit
		}
		if strings.TrimSpace(orig) == "" {
			f |= fSpace
		}
	} else {
		if isDigitString(norm) {
			f |= fDigit
		}
		if strings.TrimSpace(norm) == "" {
			f |= fSpace
		}
		if secret(norm) {
			f |= fSecret
		}
		if strings.Contains(norm, "@") {
			f |= fAt
		}
		switch norm {
		case "x":
			f |= fX
		case "省", "市", "区":
			f |= fRegion
		}
	}
	if f&fDigit != 0 || numeric(orig) || letter(orig) || numeric(norm) || letter(norm) {
		f |= fValue
	}
	if r, _ := utf8.DecodeRuneInString(orig); r >= 0x3400 {
		f |= fHanStart
	}
	return f
}

func numeric(s string) bool {
	for _, r := range s {
		if unicode.IsNumber(r) || digitNumeral(r) {
			return true
		}
	}
	return false
}

func letter(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// digitNumeral reports the Chinese numerals the normalizer reads as digits inside
// a number.
func digitNumeral(r rune) bool {
	return strings.ContainsRune("〇零一壹幺弌二贰貳两兩弍三叁參弎四肆五伍六陆陸七柒八捌九玖", r)
}

// defaultDetector backs Mask, which masks a bare string: it needs the mail
// providers of the embedded lexicon to tell a glued address's user from its
// domain. It is built once and immutable.
var defaultDetector = sync.OnceValues(Default)

// Mask returns s, the original text of a finding of the given privacy kind,
// with the private part replaced by stars: phone 138****5678, id_card
// 1101**********4514, bank_card 6222 **** **** 0128 (separators kept),
// email j***@gmail.com, address 浙江省杭州市****, passport E1*****78,
// license_plate 京A***45, credential 验证码 ******. Digits are whatever the
// normalizer reads as digits (一三八, ①③⑧, ¹³⁸, 壹叁捌, １３８ as well as
// 138), and the code points kept in clear are shown as written. A digit
// finding longer than any single number (a run of several) keeps only its
// last four digits. Whatever the kind, no run of more than four digits is
// left in clear. Mask normalizes s on its own; Redact, which has the
// message's normalization, masks in context. Mask is safe for concurrent use.
func Mask(kind, s string) string {
	t := normalize.Default().Normalize(s)
	d, err := defaultDetector()
	if err != nil {
		d = nil // glued emails fall back to a shape heuristic
	}
	var b strings.Builder
	b.Grow(len(s))
	var buf [32]unit
	d.maskInto(&b, t, kind, 0, t.Len(), buf[:0])
	return b.String()
}

// maskSpan returns the masked original text of the code points [start, end)
// of t, for a finding of kind.
func (d *Detector) maskSpan(t *normalize.Text, kind string, start, end int) string {
	var b strings.Builder
	b.Grow(len(t.OrigText(start, end)))
	var buf [32]unit
	d.maskInto(&b, t, kind, start, end, buf[:0])
	return b.String()
}

// maskInto writes the masked original text of the code points [start, end)
// of t to b. d may be nil (no lexicon: glued emails are cut by shape).
func (d *Detector) maskInto(b *strings.Builder, t *normalize.Text, kind string, start, end int, us []unit) {
	us = units(t, start, end, us)
	switch kind {
	case "phone":
		maskDigits(us, 3, 4, maxPhone)
	case "id_card":
		if n := countValue(us); n <= 9 {
			maskDigits(us, 0, 4, maxID) // SSN: ***-**-6789
		} else {
			maskDigits(us, 4, 4, maxID)
		}
	case "bank_card":
		maskDigits(us, 4, 4, maxNumber)
	case "email":
		d.maskEmail(t, us)
	case "address":
		maskAddress(t, us)
	case "passport", "license_plate":
		maskMiddle(us, 2, 2)
	case "credential":
		maskCredential(us)
	}
	maskLongRuns(us)
	for i := range us {
		switch us[i].act {
		case keep:
			b.WriteString(t.OrigText(int(us[i].start), int(us[i].end)))
		case star:
			b.WriteByte('*')
		case stars3:
			b.WriteString("***")
		case stars4:
			b.WriteString("****")
		case stars6:
			b.WriteString("******")
		}
	}
}

// units cuts the original code points [start, end) of t into units.
func units(t *normalize.Text, start, end int, us []unit) []unit {
	start = max(0, min(start, t.Len()))
	end = max(start, min(end, t.Len()))
	gaps := func(from, to int) {
		for cp := from; cp < to; cp++ {
			us = append(us, unit{start: int32(cp), end: int32(cp + 1), flags: classify("", t.OrigText(cp, cp+1))})
		}
	}
	if cap(us)-len(us) < end-start {
		us = make([]unit, 0, end-start) // a long run: one unit per code point at most
	}
	nb, ne := t.NormRange(start, end)
	cp := start
	for i := nb; i < ne; {
		s0, e0 := t.Span(i, i+1)
		j := i + 1
		for j < ne {
			if s1, e1 := t.Span(j, j+1); s1 != s0 || e1 != e0 {
				break
			}
			j++
		}
		s0, e0 = max(s0, cp), min(e0, end)
		gaps(cp, s0)
		if s0 < e0 {
			us = append(us, unit{start: int32(s0), end: int32(e0), nb: int32(i), ne: int32(j), flags: classify(t.Norm[i:j], t.OrigText(s0, e0))})
			cp = e0
		}
		i = j
	}
	gaps(cp, end)
	return us
}

// isValueDigit reports a unit counted as a digit of a number: a digit, or
// the check character x of a resident ID.
func (u *unit) isValueDigit() bool { return u.is(fDigit | fX) }

func countValue(us []unit) int {
	n := 0
	for i := range us {
		if us[i].isValueDigit() {
			n++
		}
	}
	return n
}

// maskDigits keeps the first and last digits of a number (at most
// first+last, at least four starred, and only the last four of a run longer
// than longest, the most digits one number of the kind has) and stars every
// other digit or letter.
func maskDigits(us []unit, first, last, longest int) {
	n := countValue(us)
	if n > longest {
		first, last = 0, 4
	}
	// At least four digits (or half of a short number) are starred.
	for first+last > 0 && (first+last > n-4 || first+last > n/2+2) {
		if first >= last && first > 0 {
			first--
		} else {
			last--
		}
	}
	k := 0
	for i := range us {
		u := &us[i]
		switch {
		case u.isValueDigit():
			if k >= first && k < n-last {
				u.act = star
			}
			k++
		case u.is(fValue):
			u.act = star
		}
	}
}

// maskMiddle keeps the first and last letters or digits of a code and stars
// the ones between them; separators stay.
func maskMiddle(us []unit, first, last int) {
	n := 0
	for i := range us {
		if us[i].is(fValue) {
			n++
		}
	}
	k := 0
	for i := range us {
		if !us[i].is(fValue) {
			continue
		}
		if k >= first && k < n-last {
			us[i].act = star
		}
		k++
	}
}

// maskEmail keeps the first character of the user part and the domain, the
// user part's other characters becoming "***". The @ is whatever was folded
// to one (@, ＠, [at], (at), " at ", 艾特); an address written without it
// (sofiagmailcom, "john gmail com") is cut before its mail provider.
func (d *Detector) maskEmail(t *normalize.Text, us []unit) {
	user := len(us)
	for i := range us {
		if us[i].is(fAt) {
			user = i
			break
		}
	}
	if user == len(us) {
		user = d.gluedUser(t, us)
	}
	first := true
	hidden := false
	for i := range us[:user] {
		u := &us[i]
		switch {
		case first && !u.is(fValue):
		case first:
			first = false
		case !hidden && u.is(fValue):
			u.act, hidden = stars3, true
		case i == user-1 && u.is(fSpace):
			// The space before a spelled-out " at " or a glued domain.
		default:
			u.act = drop
		}
	}
	if !hidden && user > 0 && !first {
		// A one-character user part: hide it too.
		for i := range us[:user] {
			if us[i].is(fValue) {
				us[i].act = stars3
				break
			}
		}
	}
}

// gluedUser returns the index of the first unit of the provider and domain
// of an address written without an @: sofia|gmailcom, "murali 67 |gmailcom",
// "john |gmail com". Without a lexicon, or when no provider is found, the
// domain is the trailing letters, at most eight (gmailcom).
func (d *Detector) gluedUser(t *normalize.Text, us []unit) int {
	if len(us) == 0 {
		return 0
	}
	var norm strings.Builder
	offs := make([]int, 0, len(us))
	for i := range us {
		offs = append(offs, norm.Len())
		norm.WriteString(t.Norm[us[i].nb:us[i].ne])
	}
	s := norm.String()
	at := -1
	if d != nil {
		sc := &scan{d: d}
		tokStart := strings.LastIndexByte(s, ' ') + 1
		if rest, ok := sc.cutTLD(s[tokStart:]); ok {
			switch p := sc.providerSuffix(rest); {
			case p >= 0:
				at = tokStart + p
			case rest == "" && tokStart > 1:
				prev := strings.LastIndexByte(s[:tokStart-1], ' ') + 1
				if p := sc.providerSuffix(s[prev : tokStart-1]); p >= 0 {
					at = prev + p
				}
			}
		}
	}
	if at < 0 {
		at = len(s)
		for at > 0 && len(s)-at < 8 && isLower(s[at-1]) {
			at--
		}
	}
	i := sort.SearchInts(offs, at)
	// At least the first character is the user's.
	return max(i, 1)
}

// maskAddress keeps the leading province, city or district names of a
// Chinese address and stars the rest as "****"; English addresses keep the
// street type and city words and star the house number, street name and
// ZIP, one star per character.
func maskAddress(t *normalize.Text, us []unit) {
	keepN := 0
	for i := range us {
		if i >= 12 {
			break
		}
		if us[i].is(fRegion) && (i < 10 || t.Norm[us[i].nb:us[i].ne] != "区") {
			keepN = i + 1
		}
	}
	if keepN > 0 || len(us) > 0 && us[0].is(fHanStart) {
		if keepN == 0 {
			keepN = min(2, len(us))
		}
		for i := range us {
			switch {
			case i == keepN:
				us[i].act = stars4
			case i > keepN:
				us[i].act = drop
			case us[i].is(fDigit):
				us[i].act = star
			}
		}
		return
	}
	// English: words are separated by spaces.
	type word struct{ a, b int }
	var words []word
	for i := 0; i < len(us); {
		if us[i].is(fSpace) {
			i++
			continue
		}
		j := i
		for j < len(us) && !us[j].is(fSpace) {
			j++
		}
		words = append(words, word{i, j})
		i = j
	}
	for wi, w := range words {
		digit := false
		for i := w.a; i < w.b; i++ {
			digit = digit || us[i].is(fDigit)
		}
		if (wi < len(words)-1 || digit) && (wi == 0 || digit || wi < len(words)/2) {
			for i := w.a; i < w.b; i++ {
				us[i].act = star
			}
		}
	}
}

// maskCredential stars the code or password at the end of a credential
// ("验证码是 482913" → "验证码是 ******"), or at its start when it opens with
// a digit ("482913 is your code" → "****** is your code").
func maskCredential(us []unit) {
	if len(us) == 0 {
		return
	}
	if us[0].is(fDigit) && !us[0].is(fEmpty) {
		i := 0
		for i < len(us) && (us[i].is(fEmpty) && !us[i].is(fSpace) || us[i].is(fSecret)) {
			us[i].act = drop
			i++
		}
		us[0].act = stars6
		return
	}
	v := len(us)
	for v > 0 {
		u := &us[v-1]
		if u.is(fEmpty) && !u.is(fSpace) {
			v--
			continue
		}
		if u.is(fEmpty) || !u.is(fSecret) || u.is(fAt) && v == len(us) {
			break
		}
		v--
	}
	if v == len(us) {
		return
	}
	for i := v; i < len(us); i++ {
		us[i].act = drop
	}
	us[v].act = stars6
}

// secret reports normalized text that can be part of a code or password:
// ASCII letters, digits and the symbols passwords use.
func secret(norm string) bool {
	for i := 0; i < len(norm); i++ {
		if !isSecretChar(norm[i]) {
			return false
		}
	}
	return norm != ""
}

// maskLongRuns stars all but the last four digits of every run of more than
// four digits left in clear. Code points that produced nothing (dropped
// separators) do not end a run; anything else not a kept digit does.
func maskLongRuns(us []unit) {
	runStart, n := -1, 0
	flush := func(end int) {
		if n > 4 {
			skip := n - 4
			for i := runStart; i < end && skip > 0; i++ {
				if us[i].act == keep && us[i].is(fDigit) {
					us[i].act = star
					skip--
				}
			}
		}
		runStart, n = -1, 0
	}
	for i := range us {
		u := &us[i]
		switch {
		case u.act == keep && u.is(fDigit):
			if runStart < 0 {
				runStart = i
			}
			n++
		case u.act == keep && u.is(fEmpty) && !u.is(fDigit):
			// A dropped separator inside a number.
		default:
			flush(i)
		}
	}
	flush(len(us))
}

// Redact returns the original text of t with every privacy finding in
// findings replaced by its masked form. Findings of other detectors, and
// requests for a credential (Rule AskRule), are left alone. Overlapping or
// touching findings, and findings the normalizer joined into one digit run
// (numbers apart by a space or a dash), mask their union once, as the kind
// of the first, so numbers written back to back do not leave their kept
// digits side by side: such a union longer than one number shows only its
// last four digits.
func (d *Detector) Redact(t *normalize.Text, findings []detectors.Finding) string {
	idx := make([]int, 0, len(findings))
	for i, f := range findings {
		if f.Detector != Name || f.Rule == AskRule || f.End <= f.Start {
			continue
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return t.Orig
	}
	sort.Slice(idx, func(a, b int) bool { return findings[idx[a]].Start < findings[idx[b]].Start })
	type span struct {
		start, end int
		kind       string
	}
	spans := make([]span, 0, len(idx))
	for _, i := range idx {
		f := findings[i]
		if n := len(spans); n > 0 && (f.Start <= spans[n-1].end || joined(t, spans[n-1].end, f.Start)) {
			spans[n-1].end = max(spans[n-1].end, f.End)
			continue
		}
		spans = append(spans, span{f.Start, f.End, f.Kind})
	}
	var b strings.Builder
	b.Grow(len(t.Orig))
	var buf [32]unit
	prev := 0
	for _, sp := range spans {
		b.WriteString(t.OrigText(prev, sp.start))
		d.maskInto(&b, t, sp.kind, sp.start, sp.end, buf[:0])
		prev = sp.end
	}
	b.WriteString(t.OrigText(prev, t.Len()))
	return b.String()
}

// joined reports whether the original code points [a, b) between two
// findings are only separators the normalizer dropped inside one digit run
// ("13812345678 13912345678"): masked apart, the kept digits of both would
// stand in one run.
func joined(t *normalize.Text, a, b int) bool {
	nb, ne := t.NormRange(a, b)
	return nb == ne && nb > 0 && nb < len(t.Norm) && isDigit(t.Norm[nb-1]) && isDigit(t.Norm[nb])
}

// maskLongDigits returns the original text of [start, end) of t with every
// run of more than four digits (in any form the normalizer reads as digits)
// starred but its last four.
func (d *Detector) maskLongDigits(t *normalize.Text, start, end int) string {
	return d.maskSpan(t, "", start, end)
}
