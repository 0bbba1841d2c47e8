// Package diversion detects an agent taking the customer off the platform:
// handing out or asking for a private contact (diversion.contact: WeChat, QQ,
// WhatsApp, Telegram, LINE, a personal phone or QR code, or an invitation to
// talk elsewhere) or asking to be paid outside the platform
// (diversion.payment).
//
// The terms live in lexicon.yaml (embedded), which compliance teams edit.
// A contact finding needs either an explicit invitation (加我微信, "add me on
// WhatsApp") or an app name next to an id-shaped token (微信: wxid_abc123,
// qq 12345678, telegram @handle). A payment finding needs an explicit phrase
// (转账给我, 私下交易, "pay me directly"), or a person-to-person payment
// means (微信, 转数快, Venmo, 定金) next to a cue that the money goes to the
// writer (转我, 俾我, 到我帐户, "to my account"), or a payment app next to a
// payment handle (Zelle: 415-555-0123, Cash App $shopguy). Warnings against
// diversion (请勿添加陌生人微信, "we will never ask you to pay outside the
// platform") are not findings: a negation shortly before a hit in the same
// clause, or a fraud-warning word in the same sentence, cancels it; a
// refund word close by in the same clause cancels a payment ("refund to my
// PayPal" is money going back, not a payment diverted). Official channels
// (公众号, 小程序, a brand's official LINE account) and normal checkout
// wording (您可以使用支付宝付款) are allow phrases. A number labelled as an
// order or transaction number (支付宝交易号 12345678) is no contact id.
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
	setOrder    = "order_label"
	setPayApp   = "pay_app"
	setPayMoney = "pay_money"
	setPayCue   = "pay_cue"
	setRefund   = "refund"
)

// Windows, in bytes of normalized text (a Han character is three bytes).
const (
	negationWindow = 30  // a negation this close before a hit, in the same clause, cancels it
	idAfter        = 30  // an id token must start this close after an app name
	idBefore       = 15  // or end this close before it
	inviteGap      = 6   // an invite phrase must end this close before an app name
	payWindow      = 18  // a pay cue must stand this close to a payment means, in the same clause
	refundWindow   = 30  // a refund word this close to a payment, in the same clause, cancels it
	warningWindow  = 240 // a warning word this close, in the same sentence, cancels a hit
)

// appScore is the confidence of an app name next to an id token; an
// explicit invitation with an id scores idScore. payScore is the confidence
// of a payment means next to a pay cue or a payment handle.
const (
	appScore = 0.85
	idScore  = 0.95
	payScore = 0.85
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
	// pay is the entry of a payment found from a payment means and a pay
	// cue or handle rather than a lexicon entry.
	pay lexicon.Entry
	// reach is the length of the longest term, normalized: a hit that
	// overlaps or ends near a position starts at most this far before it.
	reach int
}

var _ detectors.Detector = (*Detector)(nil)

// New builds the detector from a lexicon file (the default one or one from a
// policy bundle). Entries must be of kind contact or payment; the sets app,
// invite, negation, warning, number_unit, order_label, pay_app, pay_money,
// pay_cue and refund are optional.
func New(f lexicon.File) (*Detector, error) {
	b, err := lexdetect.Compile(Name, f, Kinds())
	if err != nil {
		return nil, err
	}
	d := &Detector{
		Base: b,
		app:  lexicon.Entry{ID: "contact.app", Kind: "contact", Severity: detectors.High, Score: appScore},
		pay:  lexicon.Entry{ID: "payment.app", Kind: "payment", Severity: detectors.Critical, Score: payScore},
	}
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
	for _, e := range f.Entries {
		for _, t := range e.Terms {
			d.reach = max(d.reach, len(n.Normalize(t).Norm))
		}
	}
	for _, terms := range f.Sets {
		for _, t := range terms {
			d.reach = max(d.reach, len(n.Normalize(t).Norm))
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
	hits, first := d.Lexicon().MatchText(t, buf[:0]), len(dst)
	dst = lexdetect.Scan(d, t, hits, dst, (*Detector).claim, merge)
	return d.glued(t, hits, dst, first)
}

// claim is the family's lexdetect.ClaimFunc: an entry hit claims its
// entry's finding, a contact widened over an id token next to it; an app
// name claims a contact when an id token stands next to it or an invite
// phrase just before it; a payment means claims a payment (payClaim). A
// warning or negation cancels the claim, and a refund word a payment.
func (d *Detector) claim(norm string, hits []lexicon.Hit, i int) (c lexdetect.Claim, claimed bool) {
	h := &hits[i]
	switch {
	case h.Entry != nil:
		c = lexdetect.EntryClaim(h.Entry, h.Start, h.End)
		switch c.Entry.Kind {
		case "contact":
			if _, ie, ok := d.idNear(norm, hits, c.Start, c.End); ok && ie > c.End {
				c.End, c.Score = ie, max(c.Score, idScore)
			}
		case "payment":
			if d.refunded(norm, hits, c.Start, c.End) {
				return c, false
			}
		}
	case h.Set == setApp:
		s, e := h.Start, h.End
		is, ie, ok := d.idNear(norm, hits, s, e)
		switch {
		case ok:
			s, e = min(s, is), max(e, ie)
		case d.invitedBefore(norm, hits[:i], s):
		default:
			return c, false
		}
		c = lexdetect.EntryClaim(&d.app, s, e)
	case h.Set == setPayApp || h.Set == setPayMoney:
		return d.payClaim(norm, hits, i)
	default:
		return c, false
	}
	return c, !d.suppressed(norm, hits, h)
}

// payClaim is the claim of the payment means hits[i]: a payment when a pay
// cue stands within payWindow bytes of it in the same clause (微信转我, 定金
// 直接转我, 入数到我户口, "send it to my PayPal"), or when it is a payment
// app (not a money word) with a payment handle next to it (Zelle:
// 415-555-0123, Cash App $shopguy, 转数快 12345678). An app that is also a
// contact app (微信, 支付宝) takes no handle here: next to an id it is a
// contact. A cue inside a payment entry's hit adds nothing: the entry
// reports it. A negation before the means or the cue, a warning in the
// sentence or a refund word in the clause cancels it.
func (d *Detector) payClaim(norm string, hits []lexicon.Hit, i int) (lexdetect.Claim, bool) {
	h := &hits[i]
	s, e := h.Start, h.End
	if j := d.cueNear(norm, hits, i); j >= 0 {
		if d.suppressed(norm, hits, &hits[j]) || d.inPaymentEntry(hits, &hits[j]) {
			return lexdetect.Claim{}, false
		}
		s, e = min(s, hits[j].Start), max(e, hits[j].End)
	} else {
		if h.Set != setPayApp || isContactApp(hits, i) {
			return lexdetect.Claim{}, false
		}
		is, ie, ok := d.idNear(norm, hits, s, e)
		if !ok {
			is, ie, ok = cashtagAfter(norm, e)
		}
		if !ok {
			return lexdetect.Claim{}, false
		}
		s, e = min(s, is), max(e, ie)
	}
	if d.suppressed(norm, hits, h) || d.refunded(norm, hits, s, e) {
		return lexdetect.Claim{}, false
	}
	return lexdetect.EntryClaim(&d.pay, s, e), true
}

// cueNear returns the index of the pay cue nearest the payment means
// hits[i], within payWindow bytes of it (or overlapping it) and in the same
// clause; -1 when there is none.
func (d *Detector) cueNear(norm string, hits []lexicon.Hit, i int) int {
	h := &hits[i]
	best, bestGap := -1, payWindow+1
	for j := from(hits, h.Start-payWindow-d.reach); j < len(hits) && hits[j].Start <= h.End+payWindow; j++ {
		o := &hits[j]
		if o.Set != setPayCue {
			continue
		}
		gs, ge := o.End, h.Start // the text between them
		if o.Start >= h.End {
			gs, ge = h.End, o.Start
		}
		if gap := max(0, ge-gs); gap < bestGap && !textscan.HasBreak(norm[min(gs, ge):max(gs, ge)], true) {
			best, bestGap = j, gap
		}
	}
	return best
}

// inPaymentEntry reports whether the cue c overlaps a hit of a payment
// entry (钱打到我卡: the entry 打到我卡 holds the cue 打到我), which reports
// the payment itself, with its own span.
func (d *Detector) inPaymentEntry(hits []lexicon.Hit, c *lexicon.Hit) bool {
	for j := from(hits, c.Start-d.reach); j < len(hits) && hits[j].Start < c.End; j++ {
		if o := &hits[j]; o.Entry != nil && o.Entry.Kind == "payment" && c.Start < o.End {
			return true
		}
	}
	return false
}

// cashtagAfter finds a $cashtag ($shopguy: a Cash App handle, $ and a
// letter, then letters, digits or '_') starting at most idAfter bytes after
// e, in the same clause. A price ($50) is none.
func cashtagAfter(norm string, e int) (int, int, bool) {
	lim := min(len(norm), e+idAfter)
	for i := e; i < lim; i++ {
		switch c := norm[i]; {
		case c == '$' && i+1 < len(norm) && 'a' <= norm[i+1] && norm[i+1] <= 'z':
			return i, trimRun(norm, i, runEnd(norm, i+1)), true
		case c == '\n' || c == ',' || c == ';' || isSentenceEnd(norm, i):
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// isContactApp reports whether the payment app hits[i] is also a contact
// app hit over the same bytes (微信, 支付宝 are both). Hits are in order of
// Start, so such a twin is a neighbour.
func isContactApp(hits []lexicon.Hit, i int) bool {
	h := &hits[i]
	for j := i - 1; j >= 0 && hits[j].Start == h.Start; j-- {
		if hits[j].Set == setApp && hits[j].End == h.End {
			return true
		}
	}
	for j := i + 1; j < len(hits) && hits[j].Start == h.Start; j++ {
		if hits[j].Set == setApp && hits[j].End == h.End {
			return true
		}
	}
	return false
}

// refunded reports whether a refund word stands at most refundWindow bytes
// from the payment over [s, e), in the same clause: money going back to the
// customer ("退款打到我支付宝", "refund it to my PayPal") is no payment taken
// off the platform.
func (d *Detector) refunded(norm string, hits []lexicon.Hit, s, e int) bool {
	for j := from(hits, s-refundWindow-d.reach); j < len(hits) && hits[j].Start <= e+refundWindow; j++ {
		o := &hits[j]
		if o.Set != setRefund {
			continue
		}
		gs, ge := o.End, s
		if o.Start >= e {
			gs, ge = e, o.Start
		}
		if gs >= ge || ge-gs <= refundWindow && !textscan.HasBreak(norm[gs:ge], true) {
			return true
		}
	}
	return false
}

// labelled reports whether an order or transaction label (订单号, 交易号,
// "transaction id") lies within [s, e), between an app name and the number
// after it: that number is the order's, not a contact id.
func labelled(hits []lexicon.Hit, s, e int) bool {
	for j := from(hits, s); j < len(hits) && hits[j].Start < e; j++ {
		if o := &hits[j]; o.Set == setOrder && o.End <= e {
			return true
		}
	}
	return false
}

// from returns the index of the first hit starting at or after pos (hits
// are in order of Start), so that the helpers above look only at the hits
// near a position, whatever the length of the message.
func from(hits []lexicon.Hit, pos int) int {
	lo, hi := 0, len(hits)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if hits[m].Start < pos {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
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
			if !d.isID(norm, e, j) || d.suppressed(norm, hits, &lexicon.Hit{Start: s, End: e}) {
				continue
			}
			dst = merge(t, dst, first, lexdetect.EntryClaim(&d.app, s, trimRun(norm, e, j)))
		}
	}
	return dst
}

// suppressed reports whether hit h is a warning rather than a diversion: a
// negation ends at most negationWindow bytes before it in the same clause,
// or a warning word stands in the same sentence, at most warningWindow
// bytes away. (The bound keeps the check local: a message of thousands of
// hits in one unbroken "sentence" costs no more per hit than a chat line.)
func (d *Detector) suppressed(norm string, hits []lexicon.Hit, h *lexicon.Hit) bool {
	for i := from(hits, h.Start-warningWindow-d.reach); i < len(hits) && hits[i].Start <= h.End+warningWindow; i++ {
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
			if ge-gs <= warningWindow && !textscan.HasBreak(norm[min(gs, ge):ge], false) {
				return true
			}
		}
	}
	return false
}

// invitedBefore reports whether an invite phrase among earlier hits ends at
// most inviteGap bytes before s ("add me on WhatsApp", "加我 qq").
func (d *Detector) invitedBefore(norm string, earlier []lexicon.Hit, s int) bool {
	for i := len(earlier) - 1; i >= 0 && earlier[i].Start >= s-inviteGap-d.reach; i-- {
		o := &earlier[i]
		if o.Set == setInvite && o.End <= s && s-o.End <= inviteGap && !textscan.HasBreak(norm[o.End:s], true) {
			return true
		}
	}
	return false
}

// idNear finds an id-shaped token starting at most idAfter bytes after e or
// ending at most idBefore bytes before s, in the same sentence, with no
// order label (hits of order_label) between it and [s, e).
func (d *Detector) idNear(norm string, hits []lexicon.Hit, s, e int) (int, int, bool) {
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
			if labelled(hits, e, i) {
				break
			}
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
	if d.isID(norm, i, j) && !labelled(hits, j, s) {
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
		// A public service number (95188 for Alipay, 12315 for
		// complaints, a bank's 95xxx, a 400/800 corporate line, a
		// toll-free line) is an official channel, nobody's private
		// contact: no app's account id takes its shape, so next to an
		// app name it is that company's hotline (钉钉客服热线 400…).
		if privacy.PublicNumber(tok) {
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
