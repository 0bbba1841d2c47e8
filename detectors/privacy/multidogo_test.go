package privacy

import (
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/internal/corpora"
)

// multidogoCorpus is the labelled MultiDoGO extract (customer turns with
// slot labels) in the vendored corpora; see its README.md.
const multidogoCorpus = "multidogo_customer_en/customer_turns.jsonl"

// slotKind maps MultiDoGO slot labels to the privacy kind that covers them.
var slotKind = map[string]string{
	"phonenumber":   "phone",
	"phone_number":  "phone",
	"email_address": "email",
	"card_number":   "bank_card",
	"ssn":           "id_card",
}

// complete reports whether a labelled value is a whole identifier rather
// than a fragment customers give for verification (the last four digits of
// an SSN or card, a card's expiry "732 e 15"): only whole values are
// private data the detector must find.
func complete(kind, value string) bool {
	digits := 0
	for _, r := range value {
		if unicode.IsDigit(r) {
			digits++
		}
	}
	switch kind {
	case "phone":
		return digits >= 7
	case "bank_card":
		return digits >= 12
	case "id_card":
		return digits == 9
	}
	return true
}

type token struct {
	start, end int // code points
	label      string
}

func tokens(text, labels string) ([]token, bool) {
	labs := strings.Fields(labels)
	var toks []token
	cp, start := 0, -1
	for _, r := range text + " " {
		if unicode.IsSpace(r) {
			if start >= 0 {
				toks = append(toks, token{start: start, end: cp})
				start = -1
			}
		} else if start < 0 {
			start = cp
		}
		cp++
	}
	if len(toks) != len(labs) {
		return nil, false
	}
	for i := range toks {
		toks[i].label = labs[i]
	}
	return toks, true
}

// TestMultiDoGORecall measures recall per kind on customer turns whose slot
// labels mark a complete phone number, email address, card number or SSN,
// and precision of those kinds' findings against the labels.
func TestMultiDoGORecall(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()

	type tally struct{ want, found, partial, partialFound, findings, correct int }
	stats := map[string]*tally{}
	get := func(k string) *tally {
		if stats[k] == nil {
			stats[k] = &tally{}
		}
		return stats[k]
	}
	var misses, falses []string
	type turn struct {
		Text       string `json:"text"`
		SlotLabels string `json:"slot_labels"`
	}
	corpora.EachLine(t, multidogoCorpus, func(row turn) {
		toks, ok := tokens(row.Text, row.SlotLabels)
		if !ok {
			return // labels do not align with tokens (120 of 23,336 rows)
		}
		fs := d.Detect(n.Normalize(row.Text), nil)
		overlaps := func(kind string, s, e int) bool {
			for _, f := range fs {
				if f.Kind == kind && f.Start < e && s < f.End {
					return true
				}
			}
			return false
		}
		// Recall: one value per slot per turn.
		spans := map[string][2]int{}
		values := map[string]string{}
		for _, tk := range toks {
			if _, ok := slotKind[tk.label]; !ok {
				continue
			}
			sp, ok := spans[tk.label]
			if !ok {
				sp = [2]int{tk.start, tk.end}
			}
			sp[1] = tk.end
			spans[tk.label] = sp
			values[tk.label] += string([]rune(row.Text)[tk.start:tk.end]) + " "
		}
		for label, sp := range spans {
			kind := slotKind[label]
			st := get(kind)
			hit := overlaps(kind, sp[0], sp[1])
			if !complete(kind, values[label]) {
				st.partial++
				if hit {
					st.partialFound++
				}
				continue
			}
			st.want++
			if hit {
				st.found++
			} else {
				misses = append(misses, kind+": "+row.Text)
			}
		}
		// Precision: a finding is right when it overlaps a token labelled
		// with a slot of its kind.
		for _, f := range fs {
			if f.Kind != "phone" && f.Kind != "email" && f.Kind != "bank_card" && f.Kind != "id_card" {
				continue
			}
			st := get(f.Kind)
			st.findings++
			right, labels := false, map[string]bool{}
			for _, tk := range toks {
				if tk.start < f.End && f.Start < tk.end {
					labels[tk.label] = true
					if slotKind[tk.label] == f.Kind {
						right = true
					}
				}
			}
			if right {
				st.correct++
			} else {
				var ls []string
				for l := range labels {
					ls = append(ls, l)
				}
				sort.Strings(ls)
				falses = append(falses, f.Kind+" on "+strings.Join(ls, ",")+": "+row.Text)
			}
		}
	})
	var want, found int
	kinds := []string{"phone", "email", "bank_card", "id_card"}
	for _, k := range kinds {
		st := get(k)
		want += st.want
		found += st.found
		t.Logf("%-9s recall %4d/%4d = %5.1f%%  precision %4d/%4d = %5.1f%%  (fragments: %d, flagged %d)",
			k, st.found, st.want, pct(st.found, st.want), st.correct, st.findings, pct(st.correct, st.findings), st.partial, st.partialFound)
	}
	recall := pct(found, want)
	t.Logf("overall recall %d/%d = %.1f%%", found, want, recall)
	if testing.Verbose() {
		for _, m := range misses {
			t.Logf("miss  %s", m)
		}
		for _, m := range falses {
			t.Logf("false %s", m)
		}
	}
	if recall < 90 {
		t.Errorf("overall recall %.1f%% below 90%%", recall)
	}
}

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}
