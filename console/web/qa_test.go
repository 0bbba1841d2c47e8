package web

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// jsList returns the strings of the JS array constant name in an asset
// ("export const NAME = [...]").
func jsList(t *testing.T, asset, name string) []string {
	t.Helper()
	re := regexp.MustCompile(`(?s)export const ` + name + ` = \[(.*?)\];`)
	m := re.FindStringSubmatch(readStatic(t, asset))
	if m == nil {
		t.Fatalf("%s: no array %s", asset, name)
	}
	var out []string
	for _, s := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, s[1])
	}
	return out
}

// TestTaxonomy: the kinds the review page offers for a wrong kind or a
// missed finding (qalib.js TAXONOMY) are the taxonomy of docs/design.md
// ("2. Taxonomy"), in its order — the table that the detectors' registry
// and the schemas are held equal to.
func TestTaxonomy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "## 2. Taxonomy")
	end := strings.Index(doc, "## 3. ")
	if start < 0 || end < start {
		t.Fatal("docs/design.md: no section 2. Taxonomy")
	}
	var want []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z_]+)` \\|").FindAllStringSubmatch(doc[start:end], -1) {
		want = append(want, m[1])
	}
	if len(want) < 15 {
		t.Fatalf("docs/design.md: %d kinds in the taxonomy table", len(want))
	}
	if got := jsList(t, "qalib.js", "TAXONOMY"); !slices.Equal(got, want) {
		t.Errorf("qalib.js TAXONOMY = %q,\ndocs/design.md has %q", got, want)
	}
}

// TestQAKeyFamilies: every value the QA pages build an interface key from
// (t('reason.' + task.reason) …) is a member of that key family, so each
// has its text in both languages (TestKeysUsedExist checks the families).
func TestQAKeyFamilies(t *testing.T) {
	for _, c := range []struct{ asset, list, family string }{
		{"qalib.js", "REASONS", "reason."},
		{"qalib.js", "TASK_STATES", "tstate."},
		{"qalib.js", "VERDICTS", "verdict."},
		{"qalib.js", "DISPUTE_STATES", "dstate."},
		{"qalib.js", "OUTCOMES", "outcome."},
		{"qalib.js", "SINCE", "since."},
		{"qalib.js", "EXPORT_VERDICTS", "expverdict."},
		{"qalib.js", "EXPORT_FORMATS", "expfmt."},
		{"qalib.js", "PRECISION_COLS", "pcol."},
		{"qalib.js", "QA_PAGES", "page."},
		{"qaviews.js", "TASK_COLS", "tcol."},
		{"qaviews.js", "MINE_COLS", "tcol."},
		{"qaviews.js", "DISPUTE_COLS", "dcol."},
	} {
		members := keyFamilies[c.family]
		for _, v := range jsList(t, c.asset, c.list) {
			if !slices.Contains(members, v) {
				t.Errorf("%s %s: %q is not in the key family %s%v", c.asset, c.list, v, c.family, members)
			}
		}
	}
	for _, v := range []string{"correct", "false_positive", "wrong_kind"} {
		if !slices.Contains(keyFamilies["verdict."], v+"Title") {
			t.Errorf("verdict.%sTitle is not in the family", v)
		}
	}
}
