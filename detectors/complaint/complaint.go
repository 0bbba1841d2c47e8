// Package complaint finds a customer about to complain (the taxonomy kind
// complaint.escalation: threats of a complaint, a regulator, a bad review,
// the media, the police, a lawyer or a chargeback) and scores the
// conversation's complaint risk (complaint.risk) from the signals of recent
// customer messages and the customer's wait.
//
// The gateway runs Detect on customer messages only. The phrases live in
// lexicon.yaml (embedded, or a policy bundle's copy). A threat preceded by a
// negation from the lexicon's "negation" set ("我不会给差评", "I won't leave
// a bad review") is not reported. The set "negative" holds
// negative-sentiment terms that Signals counts for Risk.
package complaint

import (
	_ "embed"
	"math"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/internal/judge"
	"github.com/xunjian/xunjian/detectors/internal/lexdetect"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// Name is the detector family.
const Name = "complaint"

// Kinds returns the taxonomy kinds of the complaint family, the second half of
// its findings' names: part of the public API (DESIGN.md, the schemas).
// Lexicon entries must be of one of them. Each call returns a new slice.
func Kinds() []string {
	return []string{"escalation", "risk"}
}

// Set names the detector reads from its lexicon.
const (
	// SetNegation lists terms that withdraw a threat right after them.
	SetNegation = "negation"
	// SetNegative lists negative-sentiment terms counted by Signals.
	SetNegative = "negative"
)

// negationWindow is how many words may stand between a negation and the
// threat it withdraws ("不会给你们差评": 给你们 is three; "won't ever leave
// them a bad review": ever leave them a is four).
const negationWindow = 4

//go:embed lexicon.yaml
var defaultLexicon []byte

// Detector finds escalation threats in customer messages. It is immutable
// after New and safe for concurrent use.
type Detector struct {
	lexdetect.Base
	// Slot holds the model's judge of the whole message, when it has one.
	judge.Slot
}

var _ detectors.Detector = (*Detector)(nil)

// DefaultLexicon returns the embedded lexicon file, parsed.
func DefaultLexicon() (lexicon.File, error) { return lexicon.Embedded(Name, defaultLexicon) }

// Default builds the detector from the embedded lexicon.
func Default() (*Detector, error) { return lexicon.BuildEmbedded(Name, defaultLexicon, New) }

// New builds the detector from a lexicon file (the default one or one from a
// policy bundle). Terms with an ASCII apostrophe also match with a
// typographic one and with none.
func New(f lexicon.File) (*Detector, error) {
	b, err := lexdetect.Compile(Name, f, Kinds())
	if err != nil {
		return nil, err
	}
	return &Detector{Base: b}, nil
}

// maxHits bounds the hits kept on the stack; longer messages spill to the heap.
const maxHits = 16

// Detect appends the escalation findings of t to dst. Overlapping hits are
// merged into the longest; a hit withdrawn by a negation is dropped.
func (d *Detector) Detect(t *normalize.Text, dst []detectors.Finding) []detectors.Finding {
	var buf [maxHits]lexicon.Hit
	first := len(dst)
	dst = lexdetect.Scan(d, t, d.Lexicon().MatchText(t, buf[:0]), dst, (*Detector).claim, merge)
	return d.Slot.Append(t, dst, first)
}

// claim is the family's lexdetect.ClaimFunc: an entry hit claims its
// entry's finding unless a negation withdraws it.
func (*Detector) claim(norm string, hits []lexicon.Hit, i int) (lexdetect.Claim, bool) {
	h := &hits[i]
	if h.Entry == nil || negated(norm, h, hits) {
		return lexdetect.Claim{}, false
	}
	return lexdetect.EntryClaim(h.Entry, h.Start, h.End), true
}

// merge is the family's lexdetect.MergeFunc: it appends c unless a finding
// among dst[first:] overlaps it; two overlapping findings become one over
// both spans, with the severity, score and lexicon id of the more severe
// (at equal severity, the first).
func merge(t *normalize.Text, dst []detectors.Finding, first int, c lexdetect.Claim) []detectors.Finding {
	f := c.At(t, Name)
	o := lexdetect.Overlap(dst[first:], "", f.Start, f.End)
	if o == nil {
		return append(dst, f)
	}
	if f.Severity > o.Severity {
		o.Severity, o.Score, o.Lexicon = f.Severity, f.Score, f.Lexicon
	}
	o.Start, o.End = min(o.Start, f.Start), max(o.End, f.End)
	o.Evidence = t.OrigText(o.Start, o.End)
	return dst
}

// negated reports whether a negation hit ends at most negationWindow words
// before h (a Chinese character or an ASCII word is one word), with no
// punctuation between them.
func negated(norm string, h *lexicon.Hit, hits []lexicon.Hit) bool {
	for i := range hits {
		n := &hits[i]
		if n.Set != SetNegation || n.End > h.Start {
			continue
		}
		if words, ok := gapWords(norm[n.End:h.Start]); ok && words <= negationWindow {
			return true
		}
	}
	return false
}

// gapWords counts the words of gap, a Chinese character or a run of ASCII
// letters and digits each counting one; ok is false when gap holds
// punctuation, which ends the clause.
func gapWords(gap string) (words int, ok bool) {
	inWord := false
	for _, r := range gap {
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\''):
			if !inWord {
				words++
			}
			inWord = true
			continue
		case unicode.IsSpace(r):
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			return 0, false
		default:
			words++
		}
		inWord = false
	}
	return words, true
}

// Signals summarises one customer message for the conversation's risk score.
type Signals struct {
	// Escalations counts the message's complaint.escalation findings.
	Escalations int
	// Negative counts negative-sentiment terms (the lexicon set "negative")
	// and the customer's own tone.rude and tone.profanity findings.
	Negative int
	// MaxSeverity is the highest severity among the escalation findings;
	// Info when there are none.
	MaxSeverity detectors.Severity
}

// Signals computes the risk signals of the customer message t from its
// findings (of any detector; the escalations are those Detect returned) and
// the negative-sentiment terms in t. Overlapping negative terms count once.
func (d *Detector) Signals(t *normalize.Text, findings []detectors.Finding) Signals {
	var s Signals
	for _, f := range findings {
		switch {
		case f.Detector == Name && f.Kind == "escalation":
			s.Escalations++
			s.MaxSeverity = max(s.MaxSeverity, f.Severity)
		case f.Detector == "tone" && (f.Kind == "rude" || f.Kind == "profanity"):
			s.Negative++
		}
	}
	if t == nil || t.Norm == "" {
		return s
	}
	var buf [maxHits]lexicon.Hit
	end := -1
	for _, h := range d.Lexicon().MatchText(t, buf[:0]) {
		if h.Set == SetNegative && h.Start >= end {
			s.Negative++
			end = h.End
		}
	}
	return s
}

// Risk parameters; see Risk.
const (
	riskWindow   = 10   // most recent messages considered
	riskDecay    = 0.8  // weight lost per message of age
	riskMaxCount = 3    // escalations or negatives per message that count
	riskNegative = 0.2  // hazard of one negative term
	riskWaitMax  = 0.3  // hazard of the longest wait
	riskWaitFrom = 60.0 // seconds of wait before it starts to count
	riskWaitFull = 600.0
)

// escalationWeight is the hazard of one escalation whose message's highest
// severity is sev: a regulator, police, lawyer or media threat (high) counts
// most.
func escalationWeight(sev detectors.Severity) float64 {
	switch {
	case sev >= detectors.High:
		return 1.0
	case sev == detectors.Medium:
		return 0.6
	}
	return 0.4
}

// RiskFindingAt is the conversation risk at which a customer message
// carries a complaint.risk finding.
const RiskFindingAt = 0.6

// RiskFinding returns the complaint.risk finding of a customer message of
// runes code points in a conversation at risk, and false below
// RiskFindingAt: a finding over the whole message, scored by the risk,
// medium, high from 0.75 and critical from 0.9.
func RiskFinding(risk float64, runes int) (detectors.Finding, bool) {
	if risk < RiskFindingAt {
		return detectors.Finding{}, false
	}
	sev := detectors.Medium
	switch {
	case risk >= 0.9:
		sev = detectors.Critical
	case risk >= 0.75:
		sev = detectors.High
	}
	return detectors.Finding{Detector: Name, Kind: "risk", Severity: sev, Score: risk, Start: 0, End: runes}, true
}

// Risk scores a conversation 0..1 from the signals of its recent customer
// messages (oldest first) and the customer's current wait in seconds.
//
// Each of the last 10 messages adds a hazard, weighted by its recency:
//
//	h_i = 0.8^age_i × (min(E_i,3)·w(S_i) + 0.2·min(N_i,3))
//
// where age_i is 0 for the newest message, E_i its escalations, S_i their
// highest severity with w = 1.0 for high or critical, 0.6 for medium and 0.4
// otherwise, and N_i its negative terms. The wait adds
// 0.3 × clamp((wait−60 s)/540 s, 0, 1): nothing for the first minute, all of
// it after ten. The score is 1 − exp(−Σh), which is 0 for a calm
// conversation, grows with every signal and never reaches 1. One fresh
// regulator threat scores about 0.63; a bad-review threat followed by a
// regulator threat about 0.77.
func Risk(history []Signals, waitSeconds float64) float64 {
	if len(history) > riskWindow {
		history = history[len(history)-riskWindow:]
	}
	hazard := 0.0
	weight := 1.0
	for _, s := range slices.Backward(history) {
		esc := float64(min(max(s.Escalations, 0), riskMaxCount))
		neg := float64(min(max(s.Negative, 0), riskMaxCount))
		hazard += weight * (esc*escalationWeight(s.MaxSeverity) + riskNegative*neg)
		weight *= riskDecay
	}
	if waitSeconds > riskWaitFrom { // false for NaN
		hazard += riskWaitMax * min((waitSeconds-riskWaitFrom)/(riskWaitFull-riskWaitFrom), 1)
	}
	return 1 - math.Exp(-hazard)
}

// WithModel returns a copy of d that also judges each message as a whole
// with m, reporting as escalating a message the model finds so with
// probability from(kind) or more ("tone.rude") and the lexicon did not
// already flag (see package detectors/internal/judge). A model without a
// label of the family leaves the detector as it is.
func (d *Detector) WithModel(m *model.Model, from func(kind string) float64) (*Detector, error) {
	return judge.With(d, func(d *Detector) *judge.Slot { return &d.Slot }, m, Name, Kinds(), from)
}

// Version identifies the lexicon and, when d has one, the model.
func (d *Detector) Version() string { return d.Slot.Version(d.Base.Version()) }
