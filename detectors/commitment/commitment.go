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
// (尽力, 尽量, "do our best") in that clause cancels it. An effort is not an
// outcome: "I'll definitely look into it" is not a guarantee.
package commitment

import (
	_ "embed"

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
)

// Windows, in bytes of normalized text (a Han character is three bytes).
const (
	negationWindow = 24 // a negation this close before a hit, in the same clause, cancels it
	outcomeWindow  = 24 // an outcome must start this close after its intensifier
	rewardWindow   = 21 // a reward must start this close after a review cue
)

// Findings built from sets rather than entries carry these lexicon ids and
// confidences.
const (
	idGuarantee    = "guarantee.outcome"
	idReviewRebate = "compensation.review_rebate"
	outcomeScore   = 0.8
	rebateScore    = 0.85
)

// Detector finds commitment.guarantee, commitment.compensation and
// commitment.absolute_claim. It is immutable after New and safe for
// concurrent use.
type Detector struct {
	lexdetect.Base
	// guarantee and rebate are the entries of the findings built from
	// sets: an intensifier with an outcome, a review cue with a reward.
	guarantee, rebate lexicon.Entry
}

var _ detectors.Detector = (*Detector)(nil)

// New builds the detector from a lexicon file (the default one or one from a
// policy bundle). Entries must be of kind guarantee, compensation or
// absolute_claim; the sets intensifier, outcome, negation, soft, review and
// reward are optional.
func New(f lexicon.File) (*Detector, error) {
	b, err := lexdetect.Compile(Name, f, Kinds())
	if err != nil {
		return nil, err
	}
	return &Detector{
		Base:      b,
		guarantee: lexicon.Entry{ID: idGuarantee, Kind: "guarantee", Severity: detectors.Medium, Score: outcomeScore},
		rebate:    lexicon.Entry{ID: idReviewRebate, Kind: "compensation", Severity: detectors.High, Score: rebateScore},
	}, nil
}

// DefaultLexicon returns the embedded lexicon file, parsed.
func DefaultLexicon() (lexicon.File, error) { return lexicon.Embedded(Name, defaultLexicon) }

// Default builds the detector from the embedded lexicon.
func Default() (*Detector, error) { return lexicon.BuildEmbedded(Name, defaultLexicon, New) }

// Detect appends the commitment findings in t to dst. Overlapping hits of
// one kind merge into one finding that spans them all.
func (d *Detector) Detect(t *normalize.Text, dst []detectors.Finding) []detectors.Finding {
	var buf [32]lexicon.Hit
	return lexdetect.Scan(d, t, d.Lexicon().Match(t.Norm, buf[:0]), dst, (*Detector).claim, merge)
}

// claim is the family's lexdetect.ClaimFunc: an entry hit claims its
// entry's finding; an intensifier followed in its clause by an outcome
// claims a guarantee over both; a review cue followed by a reward claims a
// review rebate. A negation before the hit cancels the claim, and a
// softener in its clause cancels a guarantee.
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
	default:
		return c, false
	}
	return c, !negated(norm, hits, c.Start) && !(c.Entry.Kind == "guarantee" && softened(norm, hits, c.Start, c.End))
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

// softened reports whether a softener (尽力, "do our best") stands in the
// clause of [s, e).
func softened(norm string, hits []lexicon.Hit, s, e int) bool {
	for i := range hits {
		o := &hits[i]
		if o.Set != setSoft {
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

// merge is the family's lexdetect.MergeFunc: a claim near a finding of its
// kind widens that finding (textscan.Merge).
func merge(t *normalize.Text, dst []detectors.Finding, first int, c lexdetect.Claim) []detectors.Finding {
	return textscan.Merge(t, dst, first, c.Finding(Name), c.Start, c.End)
}
