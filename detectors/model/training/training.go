// Package training builds the shipped model from the data in the
// repository and measures it on data it never saw: the hand-labelled
// customer-service turns of testdata/training (see its DATASHEET.md) and
// the vendored corpora of testdata/corpora (polite service dialogues as
// negatives; offensive-language sets as down-weighted auxiliary
// positives).
//
// Everything is split once, by a hash of a family id (a hand-labelled
// family of near-paraphrases) or of a corpus text, into training (70%),
// calibration (10%) and held-out (20%) parts, so that a paraphrase of a
// held-out line is never trained on and the split does not move when data
// is added elsewhere. Training is deterministic: the same data, options
// and seed give the same model file, byte for byte.
package training

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/detectors/normalize"
)

// Labels are the shipped model's outputs, in order: the agent tone kinds,
// taught by agent turns, and customer escalation, taught by customer
// messages.
func Labels() []string {
	return []string{"tone.rude", "tone.dismissive", "tone.impatient", "tone.profanity", "complaint.escalation"}
}

// Bits of the labels each role teaches (model.Example.Mask).
const (
	agentMask    uint16 = 0b01111
	customerMask uint16 = 0b10000
)

// Part is where an item falls in the split.
type Part int

// The parts of the split.
const (
	Train Part = iota
	Calibration
	HeldOut
)

func (p Part) String() string { return [...]string{"train", "calibration", "held-out"}[p] }

// PartOf places key (a family id or a corpus text) in the split: 70%
// training, 10% calibration, 20% held out, by its FNV-1a hash.
func PartOf(key string) Part {
	h := fnv.New32a()
	h.Write([]byte(key))
	switch h.Sum32() % 10 {
	case 0, 1:
		return HeldOut
	case 2:
		return Calibration
	}
	return Train
}

// Categories of the hand-labelled data (Record.Category).
const (
	Explicit     = "explicit"
	Implicit     = "implicit"
	HardNegative = "hard_negative"
	Benign       = "benign"
)

// Record is one line of the hand-labelled data.
type Record struct {
	// Family groups near-paraphrases of one idea; they share a part.
	Family string `json:"family"`
	// Lang is zh-Hans, zh-Hant or en.
	Lang string `json:"lang"`
	// Role is agent or customer.
	Role string `json:"role"`
	// Labels are kinds without their family (rude, escalation); none for
	// a fine message.
	Labels []string `json:"labels"`
	// Category is explicit, implicit, hard_negative or benign.
	Category string `json:"category"`
	Text     string `json:"text"`
}

// Item is one text of the data set, hand-labelled or from a corpus.
type Item struct {
	Record
	// Source is the file or corpus it came from.
	Source string
	// Part is its place in the split.
	Part Part
	// Weight scales its loss: 1 for hand-labelled data and polite
	// corpora, less for auxiliary labels.
	Weight float32
	// Aux marks a corpus labelled for another purpose (offensive
	// language, unsafe replies), reported apart.
	Aux bool
}

// labelBits returns the bits of r's labels and the mask of what its role
// teaches.
func (it *Item) bits() (labels, mask uint16, err error) {
	switch it.Role {
	case "agent":
		mask = agentMask
	case "customer":
		mask = customerMask
	default:
		return 0, 0, fmt.Errorf("role %q", it.Role)
	}
	names := Labels()
	for _, k := range it.Labels {
		i := slices.IndexFunc(names, func(n string) bool { _, kind, _ := strings.Cut(n, "."); return kind == k })
		if i < 0 || mask&(1<<i) == 0 {
			return 0, 0, fmt.Errorf("label %q for a %s message", k, it.Role)
		}
		labels |= 1 << i
	}
	return labels, mask, nil
}

// LoadRecords reads the hand-labelled JSONL files of dir, checking every
// line: known keys and values, a family id used for one set of labels and
// one category only.
func LoadRecords(dir string) ([]Item, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("training data: no .jsonl files in %s", dir)
	}
	slices.Sort(files)
	type famKey struct{ labels, category, role string }
	families := map[string]famKey{}
	var items []Item
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("training data: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for line := 1; sc.Scan(); line++ {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var r Record
			d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			d.DisallowUnknownFields()
			if err := d.Decode(&r); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", f, line, err)
			}
			switch {
			case r.Family == "" || strings.TrimSpace(r.Text) == "":
				return nil, fmt.Errorf("%s:%d: family and text are required", f, line)
			case !slices.Contains([]string{"zh-Hans", "zh-Hant", "en"}, r.Lang):
				return nil, fmt.Errorf("%s:%d: lang %q", f, line, r.Lang)
			case !slices.Contains([]string{Explicit, Implicit, HardNegative, Benign}, r.Category):
				return nil, fmt.Errorf("%s:%d: category %q", f, line, r.Category)
			case (len(r.Labels) == 0) != (r.Category == HardNegative || r.Category == Benign):
				return nil, fmt.Errorf("%s:%d: category %s with labels %v", f, line, r.Category, r.Labels)
			}
			k := famKey{strings.Join(r.Labels, ","), r.Category, r.Role}
			if prev, ok := families[r.Family]; ok && prev != k {
				return nil, fmt.Errorf("%s:%d: family %s has lines of different labels, category or role", f, line, r.Family)
			}
			families[r.Family] = k
			it := Item{Record: r, Source: filepath.Base(f), Part: PartOf(r.Family), Weight: 1}
			if _, _, err := it.bits(); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", f, line, err)
			}
			items = append(items, it)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return items, nil
}

// corpus describes how a vendored corpus feeds the model.
type corpus struct {
	file string
	// item turns a line into items (none to skip it).
	item func(line map[string]any) []Item
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func num(m map[string]any, k string) float64 { f, _ := m[k].(float64); return f }

// turn is a dialogue corpus's line as a fine message of its role.
func turn(lang string, every int) func(map[string]any) []Item {
	n := 0
	return func(m map[string]any) []Item {
		role := str(m, "role")
		if role != "agent" && role != "customer" {
			return nil
		}
		if n++; every > 1 && n%every != 0 {
			return nil
		}
		return []Item{{Record: Record{Lang: lang, Role: role, Category: Benign, Text: str(m, "text")}, Weight: 1}}
	}
}

// corpusList lists the corpora the model reads, with the weight of each.
func corpusList() []corpus {
	aux := func(lang string, labels []string, w float32, text string) []Item {
		cat := Explicit
		if len(labels) == 0 {
			cat = Benign
		}
		return []Item{{Record: Record{Lang: lang, Role: "agent", Labels: labels, Category: cat, Text: text}, Weight: w, Aux: true}}
	}
	return []corpus{
		{"crosswoz_zh/utterances.jsonl", turn("zh-Hans", 1)},
		{"multiwoz_en/utterances.jsonl", turn("en", 1)},
		{"taskmaster4_coffee_en/utterances.jsonl", turn("en", 1)},
		{"multidogo_customer_en/customer_turns.jsonl", turn("en", 3)},
		// Offensive comments about groups: insults, not service talk. The
		// auxiliary sets weigh little: at more they teach the model the
		// topics of social media more than the tone of a service chat.
		{"cold_zh/cold_test_dev.jsonl", func(m map[string]any) []Item {
			if num(m, "label") == 1 {
				return aux("zh-Hans", []string{"rude"}, 0.08, str(m, "text"))
			}
			return aux("zh-Hans", nil, 0.08, str(m, "text"))
		}},
		// Tweets: class 0 hate speech, 1 offensive language, 2 neither.
		{"davidson_hate_offensive_en/labeled_tweets.jsonl", func(m map[string]any) []Item {
			switch num(m, "class") {
			case 0:
				return aux("en", []string{"rude"}, 0.06, str(m, "text"))
			case 1:
				return aux("en", []string{"profanity"}, 0.06, str(m, "text"))
			}
			return aux("en", nil, 0.06, str(m, "text"))
		}},
		// Chatbot replies: an unsafe reply to an offending user is rude.
		{"diasafety_en/context_response.jsonl", func(m map[string]any) []Item {
			if str(m, "category") != "Offending User" {
				return nil
			}
			if str(m, "label") == "Unsafe" {
				return aux("en", []string{"rude"}, 0.15, str(m, "response"))
			}
			return aux("en", nil, 0.08, str(m, "response"))
		}},
	}
}

// LoadCorpora reads the corpora of dir (testdata/corpora) that the model
// uses, each text placed in the split by its own hash.
func LoadCorpora(dir string) ([]Item, error) {
	var items []Item
	for _, c := range corpusList() {
		path := filepath.Join(dir, filepath.FromSlash(c.file))
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("corpus %s not found in %s", c.file, dir)
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				return nil, fmt.Errorf("%s: %w", c.file, err)
			}
			for _, it := range c.item(m) {
				if strings.TrimSpace(it.Text) == "" {
					continue
				}
				it.Source, it.Part = strings.Split(c.file, "/")[0], PartOf(it.Text)
				items = append(items, it)
				if f, ok := fragment(it); ok {
					items = append(items, f)
				}
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", c.file, err)
		}
	}
	return items, nil
}

// fragment returns a short piece of a fine agent turn of a polite corpus,
// as a fine agent draft of its own (weight 0.5, in the turn's part): short
// drafts in the labelled data are mostly curt replies, and without neutral
// short texts the model would learn that short is bad ("故障演练" is not).
// The piece, 2 to 8 code points long, starts and ends where the FNV-1a
// hash of the turn says, so the data set stays the same from run to run.
func fragment(it Item) (Item, bool) {
	if it.Aux || len(it.Labels) > 0 || it.Role != "agent" {
		return Item{}, false
	}
	rs := []rune(strings.TrimSpace(it.Text))
	if len(rs) < 6 {
		return Item{}, false
	}
	h := fnv.New32a()
	h.Write([]byte(it.Text))
	x := h.Sum32()
	n := 2 + int(x%7)
	if n > len(rs)-1 {
		n = len(rs) - 1
	}
	start := int(x>>8) % (len(rs) - n + 1)
	frag := strings.TrimSpace(string(rs[start : start+n]))
	if frag == "" {
		return Item{}, false
	}
	f := it
	f.Text, f.Weight, f.Source = frag, 0.5, it.Source+" (fragments)"
	return f, true
}

// Examples returns the items of part as the trainer takes them, their
// texts normalized. The calibration part leaves out the auxiliary corpora:
// probabilities are calibrated on service chat (the hand-labelled data and
// the polite dialogues), the traffic the gateway judges.
func Examples(items []Item, part Part) []model.Example {
	n := normalize.Default()
	var out []model.Example
	for i := range items {
		it := &items[i]
		if it.Part != part || part == Calibration && it.Aux {
			continue
		}
		labels, mask, err := it.bits()
		if err != nil {
			continue // LoadRecords refused such items
		}
		out = append(out, model.Example{Text: n.Normalize(it.Text).Norm, Labels: labels, Mask: mask, Weight: it.Weight})
	}
	return out
}
