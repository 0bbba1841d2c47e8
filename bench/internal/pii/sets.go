// Package pii compares Xunjian's privacy detector with Microsoft Presidio's
// analyzer on the same labelled messages: recall and precision per kind,
// and messages per second on one core.
//
// Two labelled sets:
//   - multidogo_en: MultiDoGO's English customer turns whose slot labels
//     mark a complete phone number, e-mail address, card number or SSN
//     (the rules of detectors/privacy's TestMultiDoGORecall), plus a
//     sample of turns without one, for precision;
//   - planted_zh: CrossWOZ's Chinese agent turns, most with a planted
//     mainland mobile number, resident ID number or bank card number at a
//     known span.
package pii

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/xunjian/xunjian/bench/internal/corpus"
)

// Label is a labelled private value: its kind in Xunjian's taxonomy and
// its span in code points.
type Label struct {
	Kind       string `json:"kind"`
	Start, End int
	// Partial marks a fragment (the last four digits of a card, a partial
	// SSN): not counted for recall, but a finding on it is not false.
	Partial bool `json:"partial,omitempty"`
}

// Item is one labelled message.
type Item struct {
	ID     int     `json:"id"`
	Set    string  `json:"set"`
	Text   string  `json:"text"`
	Labels []Label `json:"labels,omitempty"`
}

// Set names.
const (
	SetEN = "multidogo_en"
	SetZH = "planted_zh"
)

// Kinds scored per set.
var setKinds = map[string][]string{
	SetEN: {"phone", "email", "bank_card", "id_card"},
	SetZH: {"phone", "id_card", "bank_card"},
}

// slotKind maps MultiDoGO slot labels to the privacy kind that covers them
// (as detectors/privacy's TestMultiDoGORecall does).
var slotKind = map[string]string{
	"phonenumber":   "phone",
	"phone_number":  "phone",
	"email_address": "email",
	"card_number":   "bank_card",
	"ssn":           "id_card",
}

// complete reports whether a labelled value is a whole identifier rather
// than a fragment customers give for verification.
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

type multidogoRow struct {
	Text       string `json:"text"`
	SlotLabels string `json:"slot_labels"`
}

type token struct {
	start, end int // code points
	label      string
}

// tokens splits text on white space and pairs the tokens with the
// whitespace-separated labels; false when the counts differ.
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

// multidogoLabels returns the row's labels: one span per slot label of a
// scored kind, from its first to its last token.
func multidogoLabels(row multidogoRow) ([]Label, bool) {
	toks, ok := tokens(row.Text, row.SlotLabels)
	if !ok {
		return nil, false
	}
	spans := map[string][2]int{}
	values := map[string]string{}
	var order []string
	for _, tk := range toks {
		if _, ok := slotKind[tk.label]; !ok {
			continue
		}
		sp, seen := spans[tk.label]
		if !seen {
			sp = [2]int{tk.start, tk.end}
			order = append(order, tk.label)
		}
		sp[1] = tk.end
		spans[tk.label] = sp
		values[tk.label] += string([]rune(row.Text)[tk.start:tk.end]) + " "
	}
	var out []Label
	for _, l := range order {
		kind := slotKind[l]
		out = append(out, Label{Kind: kind, Start: spans[l][0], End: spans[l][1], Partial: !complete(kind, values[l])})
	}
	return out, true
}

// Sets builds the two labelled sets from the corpora in dir: every
// MultiDoGO turn with a complete value of a scored kind plus negatives
// turns without one, and zh CrossWOZ agent turns, three in four with a
// planted value.
func Sets(dir string, negatives, zh int, seed uint64) ([]Item, error) {
	r := rand.New(rand.NewPCG(seed, 0x706969))
	rows, err := corpus.ReadJSONL[multidogoRow](filepath.Join(dir, "multidogo_customer_en", "customer_turns.jsonl"))
	if err != nil {
		return nil, err
	}
	var items, neg []Item
	for _, row := range rows {
		if strings.TrimSpace(row.Text) == "" {
			continue
		}
		labels, ok := multidogoLabels(row)
		if !ok {
			continue // labels do not align with tokens (120 of 23,336 rows)
		}
		whole := false
		for _, l := range labels {
			whole = whole || !l.Partial
		}
		it := Item{Set: SetEN, Text: row.Text, Labels: labels}
		if whole {
			items = append(items, it)
		} else {
			neg = append(neg, it)
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("multidogo: no labelled turns read from %s", dir)
	}
	r.Shuffle(len(neg), func(i, j int) { neg[i], neg[j] = neg[j], neg[i] })
	items = append(items, neg[:min(negatives, len(neg))]...)

	utts, err := corpus.ReadJSONL[corpus.Utterance](filepath.Join(dir, "crosswoz_zh", "utterances.jsonl"))
	if err != nil {
		return nil, err
	}
	var agent []string
	for _, u := range utts {
		if u.Role == "agent" && strings.TrimSpace(u.Text) != "" {
			agent = append(agent, u.Text)
		}
	}
	r.Shuffle(len(agent), func(i, j int) { agent[i], agent[j] = agent[j], agent[i] })
	kinds := setKinds[SetZH]
	for i, text := range agent[:min(zh, len(agent))] {
		it := Item{Set: SetZH, Text: text}
		if i%4 != 3 {
			p := corpus.PrivacyPlantOf(r, "zh", kinds[i%len(kinds)])
			var base int
			it.Text, base = corpus.Join(text, p.Text, "zh")
			it.Labels = []Label{{Kind: p.Kind, Start: base + p.Start, End: base + p.End}}
		}
		items = append(items, it)
	}
	for i := range items {
		items[i].ID = i
	}
	return items, nil
}
