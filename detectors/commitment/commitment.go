// Package commitment detects promises a shop cannot keep or is not allowed to
// make: commitment.guarantee (absolute promises of an outcome or a time:
// 保证明天到, 一定给您解决, "I promise it will arrive tomorrow"),
// commitment.compensation (unauthorised refunds, private cash, rebates for
// reviews: 好评返现, 我自己掏钱赔您, "I'll give you $20 for a 5-star review") and
// commitment.absolute_claim (advertising-law absolutes, 中华人民共和国广告法
// 第九条(三): 最低价, 国家级, 最佳, "lowest price guaranteed").
//
// The terms live in lexicon.yaml (embedded), which compliance teams edit.
// Polite Chinese is full of 一定 and 保证 that promise nothing (请一定注意, 我们一定
// 会尽力); a guarantee therefore needs an intensifier followed, in the same
// clause, by an outcome (到货, 解决, 退款, arrive, be fixed), and a softener
// (尽力, 尽量, 预计, "do our best") in that clause cancels it. An effort is
// not an outcome: "I'll definitely look into it" is not a guarantee.
//
// A payout verb (补偿, 返, 转给您) is a compensation when an amount of money
// follows it (补偿100块, 给您返20, 转您10元), and a market or era (全网,
// 全港, 业界, 史上, "in the country") next to a superlative (最, 第一, 首发,
// "best") is an absolute claim (全港最平, 业界第一, "#1 in the country").
// Quoting the platform's rule (按平台规则, 平台会, "per our policy") in the
// clause of a guarantee or of a compensation below high severity cancels
// it: the platform, not the agent, promises that.
package commitment

import (
	_ "embed"
	"strings"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/internal/lexdetect"
	"github.com/xunjian/xunjian/detectors/internal/textscan"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/normalize"
)

//go:embed lexicon.yaml
var defaultLexicon []byte

// Name is the detector family in the taxonomy.
const Name = "commitment"

// Kinds returns the taxonomy kinds of the commitment family, the second half of
// its findings' names: part of the public API (DESIGN.md, the schemas).
// Lexicon entries must be of one of them. Each call returns a new slice.
func Kinds() []string {
	return []string{"guarantee", "compensation", "absolute_claim"}
}

// Set names the detector reads from the lexicon.
const (
	setIntensifier = "intensifier"
	setOutcome     = "outcome"
	setNegation    = "negation"
	setSoft        = "soft"
	setReview      = "review"
	setReward      = "reward"
	setPolicy      = "policy"
	setPayout      = "payout"
	setCurrency    = "currency"
	setMarket      = "market"
	setSuperlative = "superlative"
)

// Windows, in bytes of normalized text (a Han character is three bytes).
const (
	negationWindow = 24 // a negation this close before a hit, in the same clause, cancels it
	outcomeWindow  = 24 // an outcome must start this close after its intensifier
	rewardWindow   = 21 // a reward must start this close after a review cue
	amountWindow   = 6  // an amount must start this close after its payout verb (给您, 您)
	marketWindow   = 8  // a superlative and its market this close, either first
)

// Findings built from sets rather than entries carry these lexicon ids and
// confidences.
const (
	idGuarantee    = "guarantee.outcome"
	idReviewRebate = "compensation.review_rebate"
	idAmount       = "compensation.amount"
	idMarket       = "absolute.market"
	outcomeScore   = 0.8
	rebateScore    = 0.85
	amountScore    = 0.85
	marketScore    = 0.8
)

// Detector finds commitment.guarantee, commitment.compensation and
// commitment.absolute_claim. It is immutable after New and safe for
// concurrent use.
type Detector struct {
	lexdetect.Base
	// guarantee, rebate, amount and market are the entries of the
	// findings built from sets: an intensifier with an outcome, a review
	// cue with a reward, a payout verb with an amount, a superlative with
	// a market.
	guarantee, rebate, amount, market lexicon.Entry
}

var _ detectors.Detector = (*Detector)(nil)

// New builds the detector from a lexicon file (the default one or one from a
// policy bundle). Entries must be of kind guarantee, compensation or
// absolute_claim; the sets intensifier, outcome, negation, soft, review,
// reward, policy, payout, currency, market and superlative are optional.
func New(f lexicon.File) (*Detector, error) {
	b, err := lexdetect.Compile(Name, f, Kinds())
	if err != nil {
		return nil, err
	}
	return &Detector{
		Base:      b,
		guarantee: lexicon.Entry{ID: idGuarantee, Kind: "guarantee", Severity: detectors.Medium, Score: outcomeScore},
		rebate:    lexicon.Entry{ID: idReviewRebate, Kind: "compensation", Severity: detectors.High, Score: rebateScore},
		amount:    lexicon.Entry{ID: idAmount, Kind: "compensation", Severity: detectors.Medium, Score: amountScore},
		market:    lexicon.Entry{ID: idMarket, Kind: "absolute_claim", Severity: detectors.Medium, Score: marketScore},
	}, nil
}

// DefaultLexicon returns the embedded lexicon file, parsed.
func DefaultLexicon() (lexicon.File, error) { return lexicon.Embedded(Name, defaultLexicon) }

// Default builds the detector from the embedded lexicon.
func Default() (*Detector, error) { return lexicon.BuildEmbedded(Name, defaultLexicon, New) }

// Detect appends the commitment findings in t to dst. Overlapping hits of
// one kind merge into one finding that spans them all.
func (d *Detector) Detect(t *normalize.Text, dst []detectors.Finding) []detectors.Finding {
	var buf [64]lexicon.Hit
	return lexdetect.Scan(d, t, d.Lexicon().MatchText(t, buf[:0]), dst, (*Detector).claim, merge)
}

// claim is the family's lexdetect.ClaimFunc: an entry hit claims its
// entry's finding; an intensifier followed in its clause by an outcome
// claims a guarantee over both; a review cue followed by a reward claims a
// review rebate; a payout verb followed by an amount claims a compensation
// (unless an entry already covers the verb: 给您补偿50元 stays 给您补偿); a
// superlative next to a market claims an absolute claim. A negation before
// the hit cancels the claim, a softener in its clause cancels a guarantee,
// and a platform rule in its clause cancels a guarantee or a compensation
// below high severity.
func (d *Detector) claim(norm string, hits []lexicon.Hit, i int) (c lexdetect.Claim, claimed bool) {
	h := &hits[i]
	switch {
	case h.Entry != nil:
		c = lexdetect.EntryClaim(h.Entry, h.Start, h.End)
	case h.Set == setIntensifier:
		oe, ok := follows(norm, hits[i+1:], setOutcome, h.End, outcomeWindow, true)
		if !ok {
			return c, false
		}
		c = lexdetect.EntryClaim(&d.guarantee, h.Start, oe)
	case h.Set == setReview:
		re, ok := follows(norm, hits[i+1:], setReward, h.End, rewardWindow, false)
		if !ok {
			return c, false
		}
		c = lexdetect.EntryClaim(&d.rebate, h.Start, re)
	case h.Set == setPayout:
		ae, ok := amountAfter(norm, hits, i)
		if !ok || coveredByEntry(hits, i, "compensation") {
			return c, false
		}
		c = lexdetect.EntryClaim(&d.amount, h.Start, ae)
	case h.Set == setSuperlative:
		ms, me, ok := marketNear(norm, hits, i)
		if !ok {
			return c, false
		}
		c = lexdetect.EntryClaim(&d.market, min(h.Start, ms), max(rankedEnd(norm, h.End), me))
	default:
		return c, false
	}
	if negated(norm, hits, c.Start) {
		return c, false
	}
	switch {
	case c.Entry.Kind == "guarantee":
		return c, !inClause(norm, hits, setSoft, c.Start, c.End) && !inClause(norm, hits, setPolicy, c.Start, c.End)
	case c.Entry.Kind == "compensation" && c.Entry.Severity < detectors.High:
		return c, !inClause(norm, hits, setPolicy, c.Start, c.End)
	}
	return c, true
}

// follows returns the end of the first hit of set that starts at most
// window bytes after e with no break in between (a clause break when clause
// is true, else only a sentence end).
func follows(norm string, later []lexicon.Hit, set string, e, window int, clause bool) (int, bool) {
	for i := range later {
		o := &later[i]
		if o.Start-e > window {
			break // hits are in order of Start
		}
		if o.Set == set && o.Start >= e && !textscan.HasBreak(norm[e:o.Start], clause) {
			return o.End, true
		}
	}
	return 0, false
}

// negated reports whether a negation starts at or before s and ends at most
// negationWindow bytes before it, in the same clause (不能保证, "no guarantee
// it will arrive", 平台禁止好评返现).
func negated(norm string, hits []lexicon.Hit, s int) bool {
	for i := range hits {
		o := &hits[i]
		if o.Start > s {
			break
		}
		if o.Set == setNegation && s-o.End <= negationWindow && !textscan.HasBreak(norm[min(o.End, s):s], true) {
			return true
		}
	}
	return false
}

// inClause reports whether a hit of set stands in the clause of [s, e): a
// softener (尽力, "do our best") or a platform rule (按平台规则).
func inClause(norm string, hits []lexicon.Hit, set string, s, e int) bool {
	for i := range hits {
		o := &hits[i]
		if o.Set != set {
			continue
		}
		lo, hi := o.End, s // softener before the promise
		if o.Start >= s {
			lo, hi = e, o.Start // softener after it
		}
		if lo >= hi || !textscan.HasBreak(norm[lo:hi], true) {
			return true
		}
	}
	return false
}

// amountAfter returns the end of an amount of money that starts at most
// amountWindow bytes after the payout verb hits[i], in its clause: a number
// after a currency sign (¥20, $20, £10), a number before a currency unit
// (50元, 十块, 20 dollars), or, right after the verb, a bare number of at
// most four digits that ends the clause (给您返20). A number before any other
// word (补发2件, 3天内) is no amount.
func amountAfter(norm string, hits []lexicon.Hit, i int) (int, bool) {
	e, later := hits[i].End, hits[i+1:]
	for p := e; p < len(norm) && p-e <= amountWindow; {
		if cur := hitAt(later, setCurrency, p); cur > 0 {
			q := skipSpaces(norm, cur)
			if n, _ := numberAt(norm, q); n > q {
				return n, true // ¥20, $ 20
			}
		}
		if n, ascii := numberAt(norm, p); n > p {
			if cur := hitAt(later, setCurrency, skipSpaces(norm, n)); cur > 0 {
				return cur, true // 50元, 20 dollars
			}
			rest := strings.TrimLeft(norm[n:], " ")
			bare := ascii && n-p <= 4 && strings.TrimSpace(norm[e:p]) == "" && (rest == "" || breakFirst(rest))
			return n, bare
		}
		r, size := utf8.DecodeRuneInString(norm[p:])
		if textscan.HasBreak(norm[p:p+size], true) || r == '.' {
			break
		}
		p += size
	}
	return 0, false
}

// numberAt returns the end of the number at p (ASCII digits with a decimal
// part, or Chinese numerals: 50, 12.5, 五十, 两百) and whether it is written
// in ASCII digits; the end is p when no number starts there.
func numberAt(norm string, p int) (int, bool) {
	q := p
	for q < len(norm) && '0' <= norm[q] && norm[q] <= '9' {
		q++
	}
	if q > p {
		if q+1 < len(norm) && norm[q] == '.' && '0' <= norm[q+1] && norm[q+1] <= '9' {
			q++
			for q < len(norm) && '0' <= norm[q] && norm[q] <= '9' {
				q++
			}
		}
		return q, true
	}
	for q < len(norm) {
		r, size := utf8.DecodeRuneInString(norm[q:])
		if !strings.ContainsRune("零一二两三四五六七八九十百千万几", r) {
			break
		}
		q += size
	}
	return q, false
}

// hitAt returns the end of a hit of set that starts at p, or 0.
func hitAt(hits []lexicon.Hit, set string, p int) int {
	for i := range hits {
		o := &hits[i]
		if o.Start > p {
			break
		}
		if o.Start == p && o.Set == set {
			return o.End
		}
	}
	return 0
}

// breakFirst reports whether s, not empty, starts with a clause or
// sentence break (a full stop too, which HasBreak takes only before a
// space).
func breakFirst(s string) bool {
	_, size := utf8.DecodeRuneInString(s)
	return s[0] == '.' || textscan.HasBreak(s[:size], true)
}

func skipSpaces(norm string, p int) int {
	for p < len(norm) && norm[p] == ' ' {
		p++
	}
	return p
}

// coveredByEntry reports whether an entry hit of kind overlaps hits[i].
func coveredByEntry(hits []lexicon.Hit, i int, kind string) bool {
	h := &hits[i]
	for j := range hits {
		o := &hits[j]
		if o.Start >= h.End {
			break
		}
		if o.Entry != nil && o.Entry.Kind == kind && o.End > h.Start {
			return true
		}
	}
	return false
}

// rankedEnd returns the end of the word a superlative ending at e ranks:
// the Han character after 最 (史上最强, 全港最平), else e.
func rankedEnd(norm string, e int) int {
	if e < len("最") || norm[e-len("最"):e] != "最" || e >= len(norm) {
		return e
	}
	if r, size := utf8.DecodeRuneInString(norm[e:]); normalize.IsHan(r) {
		return e + size
	}
	return e
}

// marketNear returns the span of a market within marketWindow bytes of the
// superlative hits[i], in its clause: before it (全网最低, 业界第一), or, for
// an English market, after it ("best in the world"). Chinese ranks the
// market first; 最仇视中国 is no claim over China.
func marketNear(norm string, hits []lexicon.Hit, i int) (int, int, bool) {
	h := &hits[i]
	for j := range hits {
		o := &hits[j]
		if o.Start > h.End+marketWindow {
			break
		}
		if o.Set != setMarket {
			continue
		}
		if o.End <= h.Start && h.Start-o.End <= marketWindow && !textscan.HasBreak(norm[o.End:h.Start], true) ||
			o.Start >= h.End && textscan.IsWordByte(norm[o.Start]) && !textscan.HasBreak(norm[h.End:o.Start], true) {
			return o.Start, o.End, true
		}
	}
	return 0, 0, false
}

// merge is the family's lexdetect.MergeFunc: a claim near a finding of its
// kind widens that finding (textscan.Merge).
func merge(t *normalize.Text, dst []detectors.Finding, first int, c lexdetect.Claim) []detectors.Finding {
	return textscan.Merge(t, dst, first, c.Finding(Name), c.Start, c.End)
}
