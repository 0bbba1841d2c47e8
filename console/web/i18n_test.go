package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// langs are the interface's languages, as i18n.json names them.
var langs = []string{"en", "zh-CN"}

// readDicts decodes static/i18n.json, refusing a duplicate language or key
// (encoding/json would keep the last one silently).
func readDicts(t *testing.T) map[string]map[string]string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(readStatic(t, "i18n.json"))))
	out := map[string]map[string]string{}
	expect := func(want json.Delim) {
		t.Helper()
		tok, err := dec.Token()
		if err != nil || tok != want {
			t.Fatalf("i18n.json: %v %v, want %v", tok, err, want)
		}
	}
	str := func() string {
		t.Helper()
		tok, err := dec.Token()
		s, ok := tok.(string)
		if err != nil || !ok {
			t.Fatalf("i18n.json: %v %v, want a string", tok, err)
		}
		return s
	}
	expect('{')
	for dec.More() {
		lang := str()
		if _, dup := out[lang]; dup {
			t.Fatalf("i18n.json: language %s twice", lang)
		}
		d := map[string]string{}
		expect('{')
		for dec.More() {
			k := str()
			if _, dup := d[k]; dup {
				t.Errorf("i18n.json: %s: key %s twice", lang, k)
			}
			d[k] = str()
		}
		expect('}')
		out[lang] = d
	}
	expect('}')
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("i18n.json: trailing data (%v)", err)
	}
	return out
}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

func placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestDictionaries: both languages have every key, with a text and the
// same placeholders.
func TestDictionaries(t *testing.T) {
	d := readDicts(t)
	got := make([]string, 0, len(d))
	for l := range d {
		got = append(got, l)
	}
	slices.Sort(got)
	if !slices.Equal(got, langs) {
		t.Fatalf("languages %v, want %v", got, langs)
	}
	keyRE := regexp.MustCompile(`^[a-z]+\.[A-Za-z0-9_]+$`)
	for _, l := range langs {
		other := langs[0]
		if l == other {
			other = langs[1]
		}
		for k, v := range d[l] {
			if !keyRE.MatchString(k) {
				t.Errorf("%s: key %q is not namespace.name", l, k)
			}
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %s is empty", l, k)
			}
			ov, ok := d[other][k]
			if !ok {
				t.Errorf("%s lacks %s (%s has it)", other, k, l)
				continue
			}
			if !slices.Equal(placeholders(v), placeholders(ov)) {
				t.Errorf("%s: placeholders %v in %s, %v in %s", k, placeholders(v), l, placeholders(ov), other)
			}
		}
	}
	// The Chinese dictionary is Chinese: a sample of keys differs from English.
	for _, k := range []string{"app.title", "signin.submit", "conv.undelivered", "level.critical", "state.resolved",
		"nav.reviews", "rev.submit", "verdict.false_positive", "disp.onReview", "rev.rawNotice", "prec.definition"} {
		if d["en"][k] == d["zh-CN"][k] {
			t.Errorf("%s is the same in both languages: %q", k, d["en"][k])
		}
	}
}

// keyFamilies are the keys the JS builds from data (t('level.' + level)…):
// every member must exist.
var keyFamilies = map[string][]string{
	"level.":    {"low", "medium", "high", "critical", "unknown"},
	"state.":    {"new", "acknowledged", "resolved"},
	"action.":   {"allow", "warn", "redact", "confirm", "block"},
	"sev.":      {"info", "low", "medium", "high", "critical"},
	"role.":     {"supervisor", "auditor", "admin", "agent"},
	"age.":      {"now", "s", "m", "h", "d"},
	"stream.":   {"connecting", "live", "reconnecting"},
	"col.":      {"level", "kind", "message", "agent", "team", "conversation", "risk", "age", "state", "assignee", "actions"},
	"counters.": {"window1h", "window24h"},
	"act.":      {"take", "takeTitle", "takeLabel", "resolve", "resolveTitle", "resolveLabel", "note", "noteTitle", "noteLabel"},
	// The quality audits' pages (qa.js, qaviews.js; docs/qa.md).
	"page.":       {"queue", "disputes", "quota", "precision", "calibration", "mine"},
	"tcol.":       {"due", "created", "conversation", "agent", "team", "reason", "risk", "state", "assignee", "actions"},
	"reason.":     {"hash", "high_risk", "agent_min"},
	"tstate.":     {"open", "in_review", "done"},
	"verdict.":    {"correct", "false_positive", "wrong_kind", "correctTitle", "false_positiveTitle", "wrong_kindTitle"},
	"span.":       {"integer", "range", "empty"},
	"problem.":    {"missing", "kind"},
	"dcol.":       {"review", "finding", "by", "reason", "state", "ruling", "actions"},
	"dstate.":     {"open", "accepted", "partly_accepted", "rejected"},
	"outcome.":    {"accepted", "partly_accepted", "rejected"},
	"qcol.":       {"agent", "team", "sampled", "reviewed", "minimum", "met"},
	"pcol.":       {"rule", "source", "correct", "false_positive", "wrong_kind", "missed", "precision"},
	"source.":     {"rule", "lexicon", "model"},
	"since.":      {"7d", "30d", "90d"},
	"expverdict.": {"false_positive", "missed", "all"},
	"expfmt.":     {"jsonl", "rego"},
}

// TestKeysUsedExist: every key the JS names is in the dictionaries, every
// prefix it builds keys from is a known family, and no key is unused.
func TestKeysUsedExist(t *testing.T) {
	d := readDicts(t)
	namespaces := map[string]bool{}
	for k := range d["en"] {
		ns, _, _ := strings.Cut(k, ".")
		namespaces[ns] = true
	}
	used := map[string]bool{}
	literal := regexp.MustCompile("['`]([a-z]+)\\.([A-Za-z0-9_]*)['`]")
	for _, name := range assetNames(t) {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range literal.FindAllStringSubmatch(stripJSComments(readStatic(t, name)), -1) {
			if !namespaces[m[1]] {
				continue
			}
			key := m[1] + "." + m[2]
			if m[2] == "" { // a prefix: 'level.' + level
				if _, ok := keyFamilies[key]; !ok {
					t.Errorf("%s builds keys from %q, not a family this test knows", name, key)
				}
				continue
			}
			used[key] = true
			for _, l := range langs {
				if _, ok := d[l][key]; !ok {
					t.Errorf("%s uses %s, missing in %s", name, key, l)
				}
			}
		}
	}
	for prefix, members := range keyFamilies {
		for _, m := range members {
			used[prefix+m] = true
			for _, l := range langs {
				if _, ok := d[l][prefix+m]; !ok {
					t.Errorf("%s lacks %s%s", l, prefix, m)
				}
			}
		}
	}
	// The key templates of the columns and actions (col.+c, act.+op+'Title')
	// are covered by the families; anything else unused is dead text.
	for k := range d["en"] {
		if !used[k] {
			t.Errorf("i18n.json: %s is used nowhere", k)
		}
	}
}
