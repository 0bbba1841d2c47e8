package qa

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"

	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// Name is a name in the console's two languages.
type Name struct {
	Zh string `yaml:"zh" json:"zh"`
	En string `yaml:"en" json:"en"`
}

// Category is a scored category of a scorecard.
type Category struct {
	// ID names the category in reviews (categories: {id: score}).
	ID   string `yaml:"id" json:"id"`
	Name Name   `yaml:"name" json:"name"`
	// Weight is the category's weight in the score, positive.
	Weight float64 `yaml:"weight" json:"weight"`
}

// AutoFailItem is an auto-fail item: a review that ticks it, or confirms
// a finding of one of its kinds, scores 0.
type AutoFailItem struct {
	ID   string `yaml:"id" json:"id"`
	Name Name   `yaml:"name" json:"name"`
	// Kinds are finding kinds ("detector.kind") or patterns of them
	// ("privacy.*", as path.Match reads them).
	Kinds []string `yaml:"kinds" json:"kinds"`
}

// Scorecard is a tenant's scorecard.
type Scorecard struct {
	Categories []Category     `yaml:"categories" json:"categories"`
	AutoFail   []AutoFailItem `yaml:"auto_fail" json:"auto_fail"`
}

// DefaultScorecard is the scorecard of a tenant the configuration gives
// none.
func DefaultScorecard() Scorecard {
	return Scorecard{
		Categories: []Category{
			{ID: "greeting", Name: Name{Zh: "礼貌用语", En: "Courtesy"}, Weight: 1},
			{ID: "accuracy", Name: Name{Zh: "信息准确", En: "Accuracy"}, Weight: 2},
			{ID: "compliance", Name: Name{Zh: "合规", En: "Compliance"}, Weight: 2},
			{ID: "resolution", Name: Name{Zh: "问题解决", En: "Resolution"}, Weight: 2},
		},
		AutoFail: []AutoFailItem{
			{ID: "privacy_leak", Name: Name{Zh: "泄露隐私", En: "Private data leaked"}, Kinds: []string{"privacy.*"}},
			{ID: "off_platform", Name: Name{Zh: "引导站外交易", En: "Taken off the platform"}, Kinds: []string{"diversion.*"}},
			{ID: "abuse", Name: Name{Zh: "辱骂顾客", En: "Abusive to the customer"}, Kinds: []string{"tone.rude", "tone.profanity"}},
		},
	}
}

// maxID is the longest category or auto-fail item id.
const maxID = 64

// validID reports whether id is 1 to maxID bytes of [a-z0-9_-].
func validID(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Validate reports every problem of sc, naming each by its YAML path
// under field.
func (sc Scorecard) Validate(field string) error {
	var errs []error
	if len(sc.Categories) == 0 {
		errs = append(errs, fmt.Errorf("%s.categories: want at least one", field))
	}
	ids := map[string]bool{}
	for i, c := range sc.Categories {
		f := fmt.Sprintf("%s.categories[%d]", field, i)
		switch {
		case !validID(c.ID):
			errs = append(errs, fmt.Errorf("%s.id: %q: want 1 to %d of a-z 0-9 _ -", f, c.ID, maxID))
		case ids[c.ID]:
			errs = append(errs, fmt.Errorf("%s.id: %q is used twice", f, c.ID))
		}
		ids[c.ID] = true
		if !(c.Weight > 0) || math.IsInf(c.Weight, 0) {
			errs = append(errs, fmt.Errorf("%s.weight: %v: want a positive weight", f, c.Weight))
		}
		if c.Name.Zh == "" && c.Name.En == "" {
			errs = append(errs, fmt.Errorf("%s.name: want zh or en", f))
		}
	}
	for i, a := range sc.AutoFail {
		f := fmt.Sprintf("%s.auto_fail[%d]", field, i)
		switch {
		case !validID(a.ID):
			errs = append(errs, fmt.Errorf("%s.id: %q: want 1 to %d of a-z 0-9 _ -", f, a.ID, maxID))
		case ids[a.ID]:
			errs = append(errs, fmt.Errorf("%s.id: %q is used twice", f, a.ID))
		}
		ids[a.ID] = true
		if a.Name.Zh == "" && a.Name.En == "" {
			errs = append(errs, fmt.Errorf("%s.name: want zh or en", f))
		}
		for j, k := range a.Kinds {
			if _, err := path.Match(k, ""); err != nil || k == "" {
				errs = append(errs, fmt.Errorf("%s.kinds[%d]: %q: want a kind such as privacy.phone or a pattern such as privacy.*", f, j, k))
			}
		}
	}
	return errors.Join(errs...)
}

// CheckDraft reports what of a review draft the scorecard does not allow:
// a category it has not, a score outside [0, 1], an auto-fail item it has
// not. A draft may leave categories unscored; Score may not.
func (sc Scorecard) CheckDraft(categories map[string]float64, autoFail []string) error {
	for id, v := range categories {
		if !slices.ContainsFunc(sc.Categories, func(c Category) bool { return c.ID == id }) {
			return fmt.Errorf("categories: %q is not a category of the scorecard", id)
		}
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("categories: %q: %v: want a score in [0, 1]", id, v)
		}
	}
	for _, id := range autoFail {
		if !slices.ContainsFunc(sc.AutoFail, func(a AutoFailItem) bool { return a.ID == id }) {
			return fmt.Errorf("auto_fail: %q is not an auto-fail item of the scorecard", id)
		}
	}
	return nil
}

// Score returns the score of a review: 0 when it ticks an auto-fail item
// or confirms (VerdictCorrect) a finding of one of an item's kinds, else
// sum(weight × category score) / sum(weight) × 100. failed names the
// auto-fail items that applied. Every category must be scored.
func (sc Scorecard) Score(rv store.Review) (score float64, failed []string, err error) {
	if err := sc.CheckDraft(rv.Categories, rv.AutoFail); err != nil {
		return 0, nil, err
	}
	var sum, weights float64
	for _, c := range sc.Categories {
		v, ok := rv.Categories[c.ID]
		if !ok {
			return 0, nil, fmt.Errorf("categories: %q is not scored", c.ID)
		}
		sum += c.Weight * v
		weights += c.Weight
	}
	for _, a := range sc.AutoFail {
		hit := slices.Contains(rv.AutoFail, a.ID) || slices.ContainsFunc(rv.Verdicts, func(v store.FindingVerdict) bool {
			return v.Verdict == store.VerdictCorrect && slices.ContainsFunc(a.Kinds, func(k string) bool { return kindMatch(k, v.Kind) })
		})
		if hit {
			failed = append(failed, a.ID)
		}
	}
	if len(failed) > 0 {
		return 0, failed, nil
	}
	return math.Round(sum/weights*100*100) / 100, nil, nil
}

// AutoScore is the automatic score of a conversation, kept apart from the
// review's: the share, in percent, of its agent drafts that the gateway
// released (allowed) without a finding; 100 without a draft.
func AutoScore(c store.Conversation) float64 {
	var drafts, clean int
	for _, t := range c.Turns {
		if t.Role != event.RoleAgent || t.EventID == "" {
			continue
		}
		drafts++
		if len(t.Findings) == 0 && (t.Action == "" || t.Action == event.ActionAllow.String()) {
			clean++
		}
	}
	if drafts == 0 {
		return 100
	}
	return math.Round(float64(clean)/float64(drafts)*100*100) / 100
}
