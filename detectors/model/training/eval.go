package training

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// Thresholds are the probabilities at which the gateway acts on a label:
// from Find the detector reports a finding (the policy warns), from Stop
// the default policy holds or stops the draft. They mirror the default
// policy's bands (data.xunjian.model.bands).
type Thresholds struct {
	Find, Stop float64
}

// DefaultThresholds are the default policy's bands.
func DefaultThresholds() Thresholds { return Thresholds{Find: 0.35, Stop: 0.7} }

// Rate is a count of hits among n.
type Rate struct {
	Hit, N int
}

// Frac returns the rate as a fraction, 0 when n is 0.
func (r Rate) Frac() float64 {
	if r.N == 0 {
		return 0
	}
	return float64(r.Hit) / float64(r.N)
}

func (r Rate) String() string {
	if r.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*r.Frac(), r.Hit, r.N)
}

// Report measures a model on one part of the data.
type Report struct {
	Part Part
	// Model is the measured model's version.
	Model string
	// Kind is, per label, how many of its held-out instances the model
	// finds (its score reaches Find): recall.
	Kind map[string]Rate
	// Precision is, per label, how many of the texts found for it are
	// labelled with it.
	Precision map[string]Rate
	// Stopped is, per language and role, how many harmful messages (any
	// label) score at least Stop on one of their labels.
	Stopped map[string]Rate
	// Found is, per language and role, how many harmful messages the
	// model finds with one of their own labels.
	Found map[string]Rate
	// Category is, per category and role, the share of messages with a
	// finding: recall for explicit and implicit, false positives for
	// hard negatives and benign ones.
	Category map[string]Rate
	// Corpus is, per polite corpus, the share of its texts with any
	// finding (false positives), and with a score at Stop (held or
	// stopped); per auxiliary corpus, the share of its offensive texts
	// found (recall, for information).
	Corpus, CorpusStopped map[string]Rate
	Thresholds            Thresholds
}

// Evaluate measures m on the items of part.
func Evaluate(m *model.Model, items []Item, part Part, th Thresholds) *Report {
	names := m.Labels()
	r := &Report{
		Part: part, Model: m.Version(), Thresholds: th,
		Kind: map[string]Rate{}, Precision: map[string]Rate{}, Stopped: map[string]Rate{}, Found: map[string]Rate{},
		Category: map[string]Rate{}, Corpus: map[string]Rate{}, CorpusStopped: map[string]Rate{},
	}
	add := func(m map[string]Rate, k string, hit bool) {
		v := m[k]
		v.N++
		if hit {
			v.Hit++
		}
		m[k] = v
	}
	n := normalize.Default()
	scores := make([]float32, len(names))
	for i := range items {
		it := &items[i]
		if it.Part != part {
			continue
		}
		labels, mask, err := it.bits()
		if err != nil {
			continue
		}
		m.Scores(n.Normalize(it.Text).Norm, scores)
		var stopped, own, any bool
		for l := range names {
			if mask&(1<<l) == 0 {
				continue
			}
			f := float64(scores[l]) >= th.Find
			truth := labels&(1<<l) != 0
			if f {
				any = true
				if isHand(it) {
					add(r.Precision, names[l], truth)
				}
			}
			if truth {
				if isHand(it) {
					add(r.Kind, names[l], f)
				}
				own = own || f
				stopped = stopped || float64(scores[l]) >= th.Stop
			}
		}
		switch {
		case isHand(it):
			key := it.Lang + " " + it.Role
			if labels != 0 {
				add(r.Found, key, own)
				add(r.Stopped, key, stopped)
			}
			add(r.Category, it.Category+" "+it.Role, any)
		case it.Aux:
			if labels != 0 {
				add(r.Corpus, it.Source+" (offensive: recall)", own)
			}
		default:
			var stop bool
			for l := range names {
				stop = stop || mask&(1<<l) != 0 && float64(scores[l]) >= th.Stop
			}
			add(r.Corpus, it.Source+" "+it.Role, any)
			add(r.CorpusStopped, it.Source+" "+it.Role, stop)
		}
	}
	return r
}

// isHand reports whether it comes from the hand-labelled data.
func isHand(it *Item) bool { return it.Family != "" }

// Markdown renders the report as Markdown tables.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Model %s, %s part; a finding from score %.2f, stopped from %.2f.\n\n", r.Model, r.Part, r.Thresholds.Find, r.Thresholds.Stop)
	table := func(title, col string, rows map[string]Rate, extra map[string]Rate, extraCol string) {
		fmt.Fprintf(&b, "| %s | %s |", title, col)
		if extra != nil {
			fmt.Fprintf(&b, " %s |", extraCol)
		}
		b.WriteString("\n|---|---|")
		if extra != nil {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, k := range slices.Sorted(maps.Keys(rows)) {
			fmt.Fprintf(&b, "| %s | %s |", k, rows[k])
			if extra != nil {
				fmt.Fprintf(&b, " %s |", extra[k])
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	table("kind", "recall (found)", r.Kind, r.Precision, "precision")
	table("language, role", "harmful found with their kind", r.Found, r.Stopped, "harmful stopped")
	table("category, role", "with a finding", r.Category, nil, "")
	table("corpus", "with a finding", r.Corpus, r.CorpusStopped, "held or stopped")
	return b.String()
}
