// Package judge adds a learned model's judgement of a whole message to a
// detector family's findings: the tone family's rude, dismissive,
// impatient and profanity, the complaint family's escalation. The words
// of a lexicon say where a problem is; the model says a message as a
// whole is one, when no listed word gives it away ("您可真是个天才",
// "这个找物流，别找我").
package judge

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// RulePrefix starts the Rule of every finding a model makes, followed by
// the model's version ("model:381d9e7645f6b15b"): the policy tells model
// findings by it, and maps their scores to actions in bands.
const RulePrefix = "model:"

// Judge is one family's use of a model. It is immutable and safe for
// concurrent use.
type Judge struct {
	m      *model.Model
	family string
	kinds  []kind // the family's kinds the model has a label for
	rule   string
	labels int // how many labels the model scores
}

type kind struct {
	name  string
	label int     // index in the model's scores
	from  float32 // the probability from which it is reported
}

// New returns the judge of family (its kinds are the second halves of the
// model's labels family.kind) with m, reporting each kind from the
// probability from returns for its name ("tone.rude"). It returns nil, no
// judge, when m has no label of the family (a bundle's model may judge one
// family only), and fails when a probability is not in (0, 1].
func New(m *model.Model, family string, kinds []string, from func(name string) float64) (*Judge, error) {
	labels := m.Labels()
	j := &Judge{m: m, family: family, rule: RulePrefix + m.Version(), labels: len(labels)}
	for i, l := range labels {
		fam, k, _ := strings.Cut(l, ".")
		if fam != family || !slices.Contains(kinds, k) {
			continue
		}
		p := from(l)
		if p <= 0 || p > 1 {
			return nil, fmt.Errorf("model: report from %v for %s: want a probability above 0, at most 1", p, l)
		}
		j.kinds = append(j.kinds, kind{name: k, label: i, from: float32(p)})
	}
	if len(j.kinds) == 0 {
		return nil, nil
	}
	return j, nil
}

// Version is the model's version, for the family's own version (the
// findings cache key).
func (j *Judge) Version() string { return j.m.Version() }

// Append appends to dst a finding for each of the family's kinds the model
// finds in t (its probability reaches the kind's from) and of which
// dst[first:] has no finding yet: a word the lexicon matched already says
// where. The finding spans the message without its outer white space, its
// score is the probability, its severity grows with it, and its Rule names
// the model. Its evidence is empty: the judgement is about the whole
// message, which travels masked on its own, and a copy of it here would
// carry in clear what other detectors mask (a contact handle, a phone
// number). It does not allocate beyond dst's growth.
func (j *Judge) Append(t *normalize.Text, dst []detectors.Finding, first int) []detectors.Finding {
	scores := j.scores(t)
	s, e := -1, -1 // the message's span, found at the first finding
	for _, k := range j.kinds {
		p := scores[k.label]
		if p < k.from || slices.ContainsFunc(dst[first:], func(f detectors.Finding) bool { return f.Kind == k.name && f.Detector == j.family }) {
			continue
		}
		if s < 0 {
			s, e = trimmed(t.Orig)
		}
		dst = append(dst, detectors.Finding{
			Detector: j.family, Kind: k.name, Severity: severity(p), Score: float64(p),
			Start: s, End: e, Rule: j.rule,
		})
	}
	return dst
}

// kept is a Text's memo of a model's scores, in one allocation.
type kept struct {
	memo   normalize.Memo
	scores [model.MaxLabels]float32
}

// scores returns the model's scores of t's message: those another
// family's judge of the same model kept with t, else computed and kept.
func (j *Judge) scores(t *normalize.Text) []float32 {
	if m := t.Memo(j.m); m != nil {
		if k, ok := m.Value.(*kept); ok {
			return k.scores[:j.labels]
		}
	}
	k := new(kept)
	j.m.Scores(t.Norm, k.scores[:j.labels])
	k.memo = normalize.Memo{Owner: j.m, Value: k}
	t.SetMemo(&k.memo)
	return k.scores[:j.labels]
}

// severity grows with the probability: high from 0.9, medium from 0.7,
// low below.
func severity(p float32) detectors.Severity {
	switch {
	case p >= 0.9:
		return detectors.High
	case p >= 0.7:
		return detectors.Medium
	}
	return detectors.Low
}

// trimmed returns the span of s, in code points, without its leading and
// trailing white space.
func trimmed(s string) (start, end int) {
	lead := len(s) - len(strings.TrimLeftFunc(s, unicode.IsSpace))
	start = utf8.RuneCountInString(s[:lead])
	end = start + utf8.RuneCountInString(strings.TrimSpace(s))
	return start, end
}

// Version returns a family's version with its judge: the lexicon's version
// base, and the model's after a "+" when there is a judge (nil: none), so
// that a new model, like a new lexicon, is a new version in cache keys.
func Version(base string, j *Judge) string {
	if j == nil {
		return base
	}
	return base + "+" + j.Version()
}

// Slot is where a family detector keeps its judge: embedded in the
// detectors a model may judge (tone, complaint), empty when none does.
type Slot struct {
	judge *Judge
}

// Append is Judge.Append when the slot holds a judge; otherwise it returns
// dst as it is.
func (s *Slot) Append(t *normalize.Text, dst []detectors.Finding, first int) []detectors.Finding {
	if s.judge == nil {
		return dst
	}
	return s.judge.Append(t, dst, first)
}

// Version returns the family's version from its lexicon's, base: see
// Version.
func (s *Slot) Version(base string) string { return Version(base, s.judge) }

// With returns a copy of *d whose slot (found by slot) holds the judge of
// family with m (see New); d itself when m has no label of the family. It
// is the WithModel of the judged detectors.
func With[D any](d *D, slot func(*D) *Slot, m *model.Model, family string, kinds []string, from func(name string) float64) (*D, error) {
	j, err := New(m, family, kinds, from)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", family, err)
	}
	if j == nil {
		return d, nil
	}
	c := *d
	slot(&c).judge = j
	return &c, nil
}
