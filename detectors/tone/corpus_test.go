package tone

import (
	"path/filepath"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/detectortest"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/internal/corpora"
)

// TestPoliteCorporaFalsePositives runs every agent turn of the three polite
// dialogue corpora and fails when more than 0.5% of them get a tone finding.
func TestPoliteCorporaFalsePositives(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	for _, rel := range []string{"crosswoz_zh/utterances.jsonl", "taskmaster4_coffee_en/utterances.jsonl", "multiwoz_en/utterances.jsonl"} {
		t.Run(filepath.Dir(rel), func(t *testing.T) {
			total, flagged := 0, 0
			var fs []detectors.Finding
			corpora.EachLine(t, rel, func(m map[string]any) {
				if m["role"] != "agent" {
					return
				}
				text, _ := m["text"].(string)
				total++
				fs = d.Detect(n.Normalize(text), fs[:0])
				if len(fs) > 0 {
					flagged++
					if flagged <= 20 {
						t.Logf("flagged %s %q in %q", fs[0].Name(), fs[0].Evidence, text)
					}
				}
			})
			rate := float64(flagged) / float64(max(total, 1))
			t.Logf("%d of %d agent turns flagged (%.3f%%)", flagged, total, 100*rate)
			if rate > 0.005 {
				t.Errorf("false-positive rate %.3f%% above 0.5%%", 100*rate)
			}
		})
	}
}

// TestOffensiveRecall reports (for information) how much of the offensive
// social-media text of COLD, Davidson and DiaSafety the lexicon catches, and
// asserts a floor for English profanity on Davidson's offensive tweets.
func TestOffensiveRecall(t *testing.T) {
	d := detectortest.Build(t, Default)
	n := normalize.Default()
	type tally struct{ tp, p, fp, ng int }
	count := func(rel, textField string, pos, neg func(map[string]any) bool) (c tally) {
		corpora.EachLine(t, rel, func(m map[string]any) {
			text, _ := m[textField].(string)
			hit := len(d.Detect(n.Normalize(text), nil)) > 0
			switch {
			case pos(m):
				c.p++
				if hit {
					c.tp++
				}
			case neg(m):
				c.ng++
				if hit {
					c.fp++
				}
			}
		})
		return
	}
	report := func(name string, c tally) float64 {
		r := float64(c.tp) / float64(max(c.p, 1))
		t.Logf("%s: recall %d/%d (%.1f%%), flagged negatives %d/%d (%.1f%%)", name, c.tp, c.p, 100*r, c.fp, c.ng, 100*float64(c.fp)/float64(max(c.ng, 1)))
		return r
	}
	label := func(k string, v any) func(map[string]any) bool {
		return func(m map[string]any) bool { return m[k] == v }
	}
	report("cold_zh offensive", count("cold_zh/cold_test_dev.jsonl", "text", label("label", 1.0), label("label", 0.0)))
	report("cold_zh attack individual", count("cold_zh/cold_test_dev.jsonl", "text", label("fine_grained_label", 1.0), label("fine_grained_label", 3.0)))
	report("diasafety Offending User", count("diasafety_en/context_response.jsonl", "response",
		func(m map[string]any) bool { return m["category"] == "Offending User" && m["label"] == "Unsafe" },
		func(m map[string]any) bool { return m["category"] == "Offending User" && m["label"] == "Safe" }))
	r := report("davidson offensive_language", count("davidson_hate_offensive_en/labeled_tweets.jsonl", "text", label("class_name", "offensive_language"), label("class_name", "neither")))
	// Most of Davidson's offensive tweets carry a swear word; a floor well
	// under what the lexicon reaches guards against a broken English matcher.
	if r < 0.5 {
		t.Errorf("English profanity recall on Davidson %.1f%%, want at least 50%%", 100*r)
	}
}
