package privacy

import (
	"strings"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/internal/textscan"
)

// Credential windows in bytes of normalized text.
const (
	linkWindow   = 16 // from a credential term to its value
	askWindow    = 36 // between a credential term and an asking verb
	sourceWindow = 12 // between a code's description and where it came from
	otherWindow  = 10 // from a word naming another kind of code to the code
)

// credentials finds verification codes and passwords written out
// ("验证码是 482913", "password: hunter2") and requests for them ("请把验证码告诉我",
// "can you share your password"), unless negated in the same clause
// ("我们不会向您索要验证码", "never share your password"). A code asked for
// without its name counts too: digits described by where they came from,
// a text message or the screen ("把短信里的数字发我", "read me the numbers we
// just texted you"), unless a word names them as another kind of code
// (取件码, "the tracking number", "the discount code").
func (s *scan) credentials() {
	lastEnd, askedClause := -1, -1
	for i, h := range s.hits {
		switch {
		case h.Set == setUnnamed:
			ts, te, ok := s.unnamedCode(i)
			if !ok {
				continue
			}
			cs, ce := s.clause(ts)
			if cs == askedClause {
				continue
			}
			a, b, ok := s.ask(cs, ce, ts, te)
			if !ok || s.negated(cs, max(b, te)) {
				continue
			}
			f := detectors.At(s.t, Name, "credential", detectors.Critical, 0.8, a, b)
			f.Evidence = s.d.maskLongDigits(s.t, f.Start, f.End)
			f.Rule = AskRule
			s.dst = append(s.dst, f)
			askedClause = cs
			continue
		case h.Entry != nil:
			cs, _ := s.clause(h.Start)
			if cs == askedClause || s.negated(cs, h.Start) {
				continue
			}
			f := detectors.At(s.t, Name, h.Entry.Kind, h.Entry.Severity, h.Entry.Score, h.Start, h.End)
			f.Evidence = s.d.maskLongDigits(s.t, f.Start, f.End)
			f.Lexicon, f.Rule = h.Entry.ID, AskRule
			s.dst = append(s.dst, f)
			askedClause = cs
			continue
		case h.Set != setCredTerms || h.Start < lastEnd:
			continue
		}
		lastEnd = h.End
		if e, ok := s.credentialValue(h.End); ok {
			s.add("credential", detectors.High, 0.92, h.Start, e, "")
			lastEnd = e
			continue
		}
		if b, ok := s.credentialValueBefore(h.Start); ok {
			s.add("credential", detectors.High, 0.9, b, h.End, "")
			continue
		}
		cs, ce := s.clause(h.Start)
		if cs == askedClause {
			continue
		}
		a, b, ok := s.ask(cs, ce, h.Start, h.End)
		if !ok || s.negated(cs, max(b, h.End)) {
			continue
		}
		f := detectors.At(s.t, Name, "credential", detectors.Critical, 0.85, a, b)
		f.Evidence = s.d.maskLongDigits(s.t, f.Start, f.End)
		f.Rule = AskRule
		s.dst = append(s.dst, f)
		askedClause = cs
	}
}

// unnamedCode reads s.hits[i], a word for digits or a code (数字, 6位数,
// "the numbers"), as a one-time code when a source (短信里, 刚收到, "we just
// texted you", "on your screen") stands within sourceWindow bytes before or
// after it in the same clause, and no word naming another kind of code
// (订单号, 取件码, "tracking", "discount") stands in that span or ends just
// before it. It returns the span of the description and its source.
func (s *scan) unnamedCode(i int) (int, int, bool) {
	d := &s.hits[i]
	ts, te := -1, -1
	for j := range s.hits {
		o := &s.hits[j]
		if o.Start > d.End+sourceWindow {
			break
		}
		if o.Set == setCodeSrc && (o.End <= d.Start && d.Start-o.End <= sourceWindow && !textscan.HasBreak(s.norm[o.End:d.Start], true) ||
			o.Start >= d.End && o.Start-d.End <= sourceWindow && !textscan.HasBreak(s.norm[d.End:o.Start], true) ||
			o.Start < d.End && d.Start < o.End) { // "what we just texted" names its source, 发给您的码 shares 的
			ts, te = min(o.Start, d.Start), max(o.End, d.End)
			break
		}
	}
	if ts < 0 {
		return 0, 0, false
	}
	for j := range s.hits {
		o := &s.hits[j]
		if o.Start >= te {
			break
		}
		if (o.Set == setOrder || o.Set == setOtherCode) && (o.End <= ts && ts-o.End <= otherWindow || o.Start >= ts) {
			return 0, 0, false
		}
	}
	return ts, te, true
}

// clause returns the bounds of the clause around p: clauses end at
// sentence punctuation, commas and line breaks.
func (s *scan) clause(p int) (int, int) {
	norm := s.norm
	a := p
	for a > 0 && !clauseEnd(norm, a-1) {
		a--
	}
	b := p
	for b < len(norm) && !clauseEnd(norm, b) {
		b++
	}
	return a, b
}

func clauseEnd(norm string, i int) bool {
	switch norm[i] {
	case ',', '!', '?', ';', '\n':
		return true
	case '.':
		return i+1 == len(norm) || norm[i+1] == ' '
	case 0xe3: // 。、 (U+3002, U+3001)
		return strings.HasPrefix(norm[i:], "。") || strings.HasPrefix(norm[i:], "、")
	}
	return false
}

// ask finds an asking verb in the clause [cs, ce) within askWindow of the
// credential term [ts, te), and returns the span covering both.
func (s *scan) ask(cs, ce, ts, te int) (int, int, bool) {
	for _, h := range s.hits {
		if h.Start >= ce {
			break
		}
		if h.Set != setCredAsk || h.Start < cs {
			continue
		}
		if h.End <= ts && ts-h.End <= askWindow {
			return h.Start, te, true
		}
		if h.Start >= te && h.Start-te <= askWindow {
			return ts, h.End, true
		}
	}
	return 0, 0, false
}

// negated reports whether a negation stands in the clause from cs to p.
func (s *scan) negated(cs, p int) bool {
	for _, h := range s.hits {
		if h.Start >= p {
			break
		}
		if h.Set == setCredNeg && h.Start >= cs {
			return true
		}
	}
	return false
}

// skipLinks skips spaces, colons and link words (是, is) from p, and reports
// whether an explicit colon or equals sign was among them.
func (s *scan) skipLinks(p int) (int, bool) {
	norm := s.norm
	start, colon := p, false
	for p < len(norm) && p-start <= linkWindow {
		switch norm[p] {
		case ' ', ':', '=', '"', '\'':
			colon = colon || norm[p] == ':' || norm[p] == '='
			p++
			continue
		}
		matched := false
		for _, l := range s.d.links {
			if strings.HasPrefix(norm[p:], l) && (!isAlnum(l[len(l)-1]) || p+len(l) == len(norm) || !isAlnum(norm[p+len(l)])) {
				p += len(l)
				matched = true
				break
			}
		}
		if !matched {
			break
		}
	}
	return p, colon
}

// credentialValue returns the end of a code or password written after a
// credential term ending at p.
func (s *scan) credentialValue(p int) (int, bool) {
	norm := s.norm
	q, colon := s.skipLinks(p)
	e := q
	for e < len(norm) && isSecretChar(norm[e]) {
		e++
	}
	tok := norm[q:e]
	if len(tok) < 4 || len(tok) > 32 || isDigitString(tok) && s.unitAfter(e) {
		return 0, false
	}
	if hasDigit(tok) || colon {
		return e, true
	}
	return 0, false
}

// unitAfter reports a unit right after a number ending at e: "5分钟",
// "6 digits".
func (s *scan) unitAfter(e int) bool {
	rest := strings.TrimLeft(s.norm[e:], " ")
	for _, u := range s.d.numUnits {
		if strings.HasPrefix(rest, u) {
			return true
		}
	}
	return false
}

// credentialValueBefore finds a code written before its term: "482913 is
// your verification code", "482913是您的验证码".
func (s *scan) credentialValueBefore(ts int) (int, bool) {
	norm := s.norm
	p := ts
	for steps := 0; p > 0 && steps < 6; steps++ {
		for p > 0 && norm[p-1] == ' ' {
			p--
		}
		q := p
		for q > 0 && isAlnum(norm[q-1]) {
			q--
		}
		if q < p && isDigitString(norm[q:p]) {
			if n := p - q; n >= 4 && n <= 8 && (q == 0 || !isAlnum(norm[q-1])) {
				return q, true
			}
			return 0, false
		}
		// A link word (是, 您的, is, your) before the term.
		ok := false
		for _, l := range s.d.links {
			if strings.HasSuffix(norm[:p], l) && (!isAlnum(l[0]) || p-len(l) == 0 || !isAlnum(norm[p-len(l)-1])) {
				p -= len(l)
				ok = true
				break
			}
		}
		if !ok {
			return 0, false
		}
	}
	return 0, false
}

func isSecretChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!@#$%^&*_.+-~", c) >= 0
}
