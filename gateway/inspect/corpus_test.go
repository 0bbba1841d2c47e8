package inspect

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/xunjian/xunjian/internal/corpora"
	"github.com/xunjian/xunjian/rules"
)

type utterance struct {
	DialogueID string `json:"dialogue_id"`
	Role       string `json:"role"`
	Text       string `json:"text"`
	Label      *int   `json:"label"`
}

func readJSONL(t testing.TB, path string) []utterance {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []utterance
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var u utterance
		if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, u)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func defaultInspector(t testing.TB) *Inspector {
	t.Helper()
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestPoliteCorporaPass runs whole dialogues of three polite service corpora
// through the pipeline, in order and with conversation context, and holds
// the agent turns to the false-positive budget: at most 1% held or stopped
// (an action other than allow or redact) and at most 0.5% with any tone,
// diversion or commitment finding.
func TestPoliteCorporaPass(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus run skipped in -short mode")
	}
	in := defaultInspector(t)
	for _, name := range []string{"crosswoz_zh", "taskmaster4_coffee_en", "multiwoz_en"} {
		t.Run(name, func(t *testing.T) {
			utts := readJSONL(t, corpora.File(t, name+"/utterances.jsonl"))
			convs := map[string]*Conversation{}
			now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
			var agent, held, flagged int
			heldBy, flaggedBy := map[string]int{}, map[string]int{}
			var examples []string
			for _, u := range utts {
				c := convs[u.DialogueID]
				if c == nil {
					c = &Conversation{ID: u.DialogueID}
					convs[u.DialogueID] = c
				}
				now = now.Add(20 * time.Second)
				v, err := inspectInto(in, context.Background(), Request{Text: u.Text, Role: u.Role, ConversationID: u.DialogueID}, c, now)
				if err != nil {
					t.Fatalf("%s %q: %v", u.DialogueID, u.Text, err)
				}
				if u.Role != RoleAgent {
					continue
				}
				agent++
				if v.Action != rules.Allow && v.Action != rules.Redact {
					held++
					heldBy[v.Action.String()]++
					if len(examples) < 10 {
						examples = append(examples, v.Action.String()+": "+u.Text)
					}
				}
				seen := map[string]bool{}
				for _, f := range v.Findings {
					switch f.Detector {
					case "tone", "diversion", "commitment":
						if !seen[f.Name()] {
							flaggedBy[f.Name()]++
						}
						seen[f.Name()] = true
					}
				}
				if len(seen) > 0 {
					flagged++
					if len(examples) < 10 {
						examples = append(examples, "finding: "+u.Text)
					}
				}
			}
			heldRate, flagRate := rate(held, agent), rate(flagged, agent)
			t.Logf("%s: %d agent turns; held or stopped %.3f%% %v; tone/diversion/commitment findings %.3f%% %v",
				name, agent, 100*heldRate, heldBy, 100*flagRate, flaggedBy)
			for _, e := range examples {
				t.Logf("  e.g. %s", e)
			}
			if agent < 1000 {
				t.Fatalf("only %d agent turns read from %s", agent, name)
			}
			if heldRate > 0.01 {
				t.Errorf("%.3f%% of agent turns held or stopped, budget 1%%", 100*heldRate)
			}
			if flagRate > 0.005 {
				t.Errorf("%.3f%% of agent turns have a tone, diversion or commitment finding, budget 0.5%%", 100*flagRate)
			}
		})
	}
}

// TestColdToneRecall prints, for information, how many of COLD's offensive
// comments get a tone finding and how many of its non-offensive ones do.
// COLD is social-media offence about groups, not agents' replies, so no
// threshold applies; the numbers track the lexicon over time.
func TestColdToneRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus run skipped in -short mode")
	}
	in := defaultInspector(t)
	utts := readJSONL(t, corpora.File(t, "cold_zh/cold_test_dev.jsonl"))
	var off, offHit, safe, safeHit int
	kinds := map[string]int{}
	for _, u := range utts {
		v, err := inspectInto(in, context.Background(), Request{Text: u.Text}, nil, time.Now())
		if err != nil {
			continue // a few comments are empty after trimming
		}
		hit := false
		for _, f := range v.Findings {
			if f.Detector == "tone" {
				hit = true
				if u.Label != nil && *u.Label == 1 {
					kinds[f.Kind]++
				}
			}
		}
		if u.Label != nil && *u.Label == 1 {
			off++
			if hit {
				offHit++
			}
		} else {
			safe++
			if hit {
				safeHit++
			}
		}
	}
	if off == 0 {
		t.Fatal("no offensive comments read from COLD")
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	t.Logf("COLD: tone recall on offensive comments %.1f%% (%d/%d), by kind %v; fires on %.1f%% of non-offensive (%d/%d)",
		100*rate(offHit, off), offHit, off, kinds, 100*rate(safeHit, safe), safeHit, safe)
}

func rate(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}
