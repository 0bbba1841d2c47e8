// Package diversion detects an agent taking the customer off the platform:
// handing out or asking for a private contact (diversion.contact: WeChat, QQ,
// WhatsApp, Telegram, a personal phone or QR code) or asking to be paid
// outside the platform (diversion.payment).
//
// The terms live in lexicon.yaml (embedded), which compliance teams edit.
// A contact finding needs either an explicit invitation (加我微信, "add me on
// WhatsApp") or an app name next to an id-shaped token (微信: wxid_abc123,
// qq 12345678, telegram @handle). Warnings against diversion (请勿添加陌生人微信,
// "we will never ask you to pay outside the platform") are not findings: a
// negation shortly before a hit in the same clause, or a fraud-warning word in
// the same sentence, cancels it. Official channels (公众号, 小程序) and normal
// checkout wording (您可以使用支付宝付款) are allow phrases.
package diversion

import (
	_ "embed"
	"strings"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/internal/lexdetect"
	"github.com/xunjian/xunjian/detectors/internal/textscan"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/detectors/privacy"
)

//go:embed lexicon.yaml
var defaultLexicon []byte

// Name is the detector family in the taxonomy.
const Name = "diversion"

// Kinds returns the taxonomy kinds of the diversion family, the second half of
// its findings' names: part of the public API (DESIGN.md, the schemas).
// Lexicon entries must be of one of them. Each call returns a new slice.
func Kinds() []string {
	return []string{"contact", "payment"}
}

// Set names the detector reads from the lexicon.
const (
	setApp      = "app"
	setInvite   = "invite"
	setNegation = "negation"
	setWarning  = "warning"
	setUnit     = "number_unit"
)

// Windows, in bytes of normalized text (a Han character is three bytes).
const (
	negationWindow = 30 // a negation this close before a hit, in the same clause, cancels it
	idAfter        = 30 // an id token must start this close after an app name
	idBefore       = 15 // or end this close before it
	inviteGap      = 6  // an invite phrase must end this close before an app name
)

// appScore is the confidence of an app name next to an id token; an
// explicit invitation with an id scores idScore.
const (
	appScore = 0.85
	idScore  = 0.95
)

// Detector finds diversion.contact and diversion.payment. It is immutable
// after New and safe for concurrent use.
type Detector struct {
	lexdetect.Base
	units []string
	// asciiApps are the app names ending in an ASCII letter (qq,
	// whatsapp), checked for a glued number.
	asciiApps []string
	// app is the entry of a contact found from an app name rather than a
	// lexicon entry.
	app lexicon.Entry
}

var _ detectors.Detector = (*Detector)(nil)

// New builds the detector from a lexicon file (the default one or one from a
// policy bundle). Entries must be of kind contact or payment; the sets app,
// invite, negation, warning and number_unit are optional.
func New(f lexicon.File) (*Detector, error) {
	b, err := lexdetect.Compile(Name, f, Kinds())
	if err != nil {
		return nil, err
	}
	d := &Detector{Base: b, app: lexicon.Entry{ID: "contact.app", Kind: "contact", Severity: detectors.High, Score: appScore}}
	n := normalize.Default()
	for _, a := range f.Sets[setApp] {
		a = n.Normalize(a).Norm
		if a != "" && textscan.IsWordByte(a[len(a)-1]) && strings.IndexByte(a, ' ') < 0 {
			d.asciiApps = append(d.asciiApps, a)
		}
	}
	for _, u := range f.Sets[setUnit] {
		if u = n.Normalize(u).Norm; u != "" {
			d.units = append(d.units, u)
		}
	}
	return d, nil
}

// DefaultLexicon returns the embedded lexicon file, parsed.
func DefaultLexicon() (lexicon.File, error) { return lexicon.Embedded(Name, defaultLexicon) }

// Default builds the detector from the embedded lexicon.
func Default() (*Detector, error) { return lexicon.BuildEmbedded(Name, defaultLexicon, New) }

// Detect appends the diversion findings in t to dst. Overlapping hits of one
// kind merge into one finding that spans them all.
func (d *Detector) Detect(t *normalize.Text, dst []detectors.Finding) []detectors.Finding {
	var buf [32]lexicon.Hit
	hits, first := d.Lexicon().Match(t.Norm, buf[:0]), len(dst)
	dst = lexdetect.Scan(d, t, hits, dst, (*Detector).claim, merge)
	return d.glued(t, hits, dst, first)
}

// claim is the family's lexdetect.ClaimFunc: an entry hit claims its
// entry's finding, a contact widened over an id token next to it; an app
// name claims a contact when an id token stands next to it or an invite
// phrase just before it. A warning or negation cancels the claim.
func (d *Detector) claim(norm string, hits []lexicon.Hit, i int) (c lexdetect.Claim, claimed bool) {
	h := &hits[i]
	switch {
	case h.Entry != nil:
		c = lexdetect.EntryClaim(h.Entry, h.Start, h.End)
		if c.Entry.Kind == "contact" {
			if _, ie, ok := d.idNear(norm, c.Start, c.End); ok && ie > c.End {
				c.End, c.Score = ie, max(c.Score, idScore)
			}
		}
	case h.Set == setApp:
		s, e := h.Start, h.End
		is, ie, ok := d.idNear(norm, s, e)
		switch {
		case ok:
			s, e = min(s, is), max(e, ie)
		case invitedBefore(norm, hits[:i], s):
		default:
			return c, false
		}
		c = lexdetect.EntryClaim(&d.app, s, e)
	default:
		return c, false
	}
	return c, !suppressed(norm, hits, h)
}

// glued appends contact findings for an ASCII app name glued to a number
// ("qq12345678"), which the lexicon's word boundaries do not match.
func (d *Detector) glued(t *normalize.Text, hits []lexicon.Hit, dst []detectors.Finding, first int) []detectors.Finding {
	norm := t.Norm
	for _, app := range d.asciiApps {
		for off := 0; off < len(norm); {
			k := strings.Index(norm[off:], app)
			if k < 0 {
				break
			}
			s, e := off+k, off+k+len(app)
			off = e
			if s > 0 && isIDByte(norm[s-1]) || e >= len(norm) || norm[e] < '0' || norm[e] > '9' {
				continue
			}
			j := runEnd(norm, e)
			if !d.isID(norm, e, j) || suppressed(norm, hits, &lexicon.Hit{Start: s, End: e}) {
				continue
			}
			dst = merge(t, dst, first, lexdetect.EntryClaim(&d.app, s, trimRun(norm, e, j)))
		}
	}
	return dst
}

// suppressed reports whether hit h is a warning rather than a diversion: a
// negation ends at most negationWindow bytes before it in the same clause,
// or a warning word stands in the same sentence.
func suppressed(norm string, hits []lexicon.Hit, h *lexicon.Hit) bool {
	for i := range hits {
		o := &hits[i]
		switch o.Set {
		case setNegation:
			if o.Start < h.Start && o.End <= h.End && h.Start-o.End <= negationWindow &&
				!textscan.HasBreak(norm[min(o.End, h.Start):h.Start], true) {
				return true
			}
		case setWarning:
			gs, ge := o.End, h.Start // the text between the warning and the hit
			if o.Start > h.Start {
				gs, ge = h.End, o.Start
			}
			if !textscan.HasBreak(norm[min(gs, ge):ge], false) {
				return true
			}
		}
	}
	return false
}

// invitedBefore reports whether an invite phrase among earlier hits ends at
// most inviteGap bytes before s ("add me on WhatsApp", "加我 qq").
func invitedBefore(norm string, earlier []lexicon.Hit, s int) bool {
	for i := len(earlier) - 1; i >= 0; i-- {
		o := &earlier[i]
		if o.Set == setInvite && o.End <= s && s-o.End <= inviteGap && !textscan.HasBreak(norm[o.End:s], true) {
			return true
		}
	}
	return false
}

// idNear finds an id-shaped token starting at most idAfter bytes after e or
// ending at most idBefore bytes before s, in the same sentence.
func (d *Detector) idNear(norm string, s, e int) (int, int, bool) {
	// Forward: the first id-shaped run after the app name.
	lim := min(len(norm), e+idAfter)
	for i := e; i < lim; {
		c := norm[i]
		if c == '\n' || isSentenceEnd(norm, i) {
			break
		}
		if !isIDByte(c) {
			i++
			continue
		}
		j := runEnd(norm, i)
		if d.isID(norm, i, j) {
			return i, trimRun(norm, i, j), true
		}
		i = j
	}
	// Backward: the nearest run before the app name.
	lo := max(0, s-idBefore)
	j := s
	for j > lo && !isIDByte(norm[j-1]) {
		if norm[j-1] == '\n' || isSentenceEndBefore(norm, j) {
			return 0, 0, false
		}
		j--
	}
	if j == 0 || !isIDByte(norm[j-1]) {
		return 0, 0, false
	}
	i := j
	for i > 0 && isIDByte(norm[i-1]) {
		i--
	}
	if d.isID(norm, i, j) {
		return i, trimRun(norm, i, j), true
	}
	return 0, 0, false
}

// isID reports whether the run norm[i:j] is shaped like a contact id: a QQ
// number or phone (5–11 digits, or up to 15 after a +), an @handle, an
// email, or a handle of letters with digits or underscores (wxid_abc123).
func (d *Detector) isID(norm string, i, j int) bool {
	j = trimRun(norm, i, j)
	tok := norm[i:j]
	if len(tok) < 4 {
		return false
	}
	var letters, digits, under, at, other int
	for k := 0; k < len(tok); k++ {
		switch c := tok[k]; {
		case 'a' <= c && c <= 'z':
			letters++
		case '0' <= c && c <= '9':
			digits++
		case c == '_':
			under++
		case c == '@':
			at++
		default:
			other++
		}
	}
	switch {
	case letters == 0 && under == 0 && at == 0:
		// A number: QQ or phone. Not a count or a price (100000人).
		plus := tok[0] == '+'
		if digits < 5 || digits > 11 && !plus || digits > 15 || other > 1 && !plus || other > 2 {
			return false
		}
		for _, u := range d.units {
			if strings.HasPrefix(norm[j:], u) {
				return false
			}
		}
		// A public service short number (95188 for Alipay, 12315 for
		// complaints, a bank's 95xxx) is an official channel, nobody's
		// private contact; a 400/800 line is a company's own number and
		// still counts as taking the customer off the platform.
		if digits <= 6 && privacy.PublicNumber(tok) {
			return false
		}
		return true
	case at == 1 && tok[0] == '@':
		return len(tok) >= 4 && letters+digits > 0
	case at == 1:
		k := strings.IndexByte(tok, '@')
		return k > 0 && strings.IndexByte(tok[k:], '.') > 0
	case at > 1:
		return false
	}
	// A handle: starts with a letter, mixes letters with digits or '_'.
	return len(tok) >= 5 && 'a' <= tok[0] && tok[0] <= 'z' && letters > 0 && digits+under > 0
}

// runEnd returns the end of the id run starting at i.
func runEnd(norm string, i int) int {
	for i < len(norm) && isIDByte(norm[i]) {
		i++
	}
	return i
}

// trimRun drops trailing dots, dashes and pluses from norm[i:j].
func trimRun(norm string, i, j int) int {
	for j > i && (norm[j-1] == '.' || norm[j-1] == '-' || norm[j-1] == '+') {
		j--
	}
	return j
}

// isSentenceEnd reports whether norm[i:] starts with a sentence-ending mark.
func isSentenceEnd(norm string, i int) bool {
	switch norm[i] {
	case '!', '?':
		return true
	case '.':
		return i+1 == len(norm) || norm[i+1] == ' '
	}
	if norm[i] < utf8.RuneSelf {
		return false
	}
	r, _ := utf8.DecodeRuneInString(norm[i:])
	return r == '。' || r == '！' || r == '？'
}

// isSentenceEndBefore reports whether the rune ending at j ends a sentence.
func isSentenceEndBefore(norm string, j int) bool {
	r, _ := utf8.DecodeLastRuneInString(norm[:j])
	return r == '。' || r == '！' || r == '？' || r == '!' || r == '?'
}

func isIDByte(c byte) bool {
	return textscan.IsWordByte(c) || c == '_' || c == '@' || c == '.' || c == '-' || c == '+'
}

// merge is the family's lexdetect.MergeFunc: a claim near a finding of its
// kind widens that finding (textscan.Merge).
func merge(t *normalize.Text, dst []detectors.Finding, first int, c lexdetect.Claim) []detectors.Finding {
	return textscan.Merge(t, dst, first, c.Finding(Name), c.Start, c.End)
}
