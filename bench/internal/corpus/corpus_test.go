package corpus

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/diversion"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/detectors/tone"
)

// TestPlantsAreFound checks that every kind of planted private value is one
// the privacy detector finds, at the span the plant reports: a plant the
// detector misses would make the load do less work than it claims.
func TestPlantsAreFound(t *testing.T) {
	d, err := privacy.Default()
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.Default()
	r := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct{ lang, kind string }{
		{"zh", "phone"}, {"zh", "id_card"}, {"zh", "bank_card"},
		{"en", "phone"}, {"en", "email"}, {"en", "bank_card"},
	} {
		t.Run(tc.lang+"/"+tc.kind, func(t *testing.T) {
			for range 50 {
				p := PrivacyPlantOf(r, tc.lang, tc.kind)
				if p.End > utf8.RuneCountInString(p.Text) || p.Start >= p.End {
					t.Fatalf("%q: span %d..%d out of range", p.Text, p.Start, p.End)
				}
				found := false
				for _, f := range d.Detect(n.Normalize(p.Text), nil) {
					if f.Kind == p.Kind && f.Start < p.End && p.Start < f.End {
						found = true
					}
				}
				if !found {
					t.Errorf("%s not found in %q", p.Kind, p.Text)
				}
			}
		})
	}
}

func TestResidentIDChecksum(t *testing.T) {
	// Known-good GB 11643 example: 11010519491231002X.
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		id := ResidentID(r)
		if len(id) != 18 {
			t.Fatalf("%q: want 18 characters", id)
		}
		sum := 0
		for i := range 17 {
			sum += int(id[i]-'0') * weights[i]
		}
		if want := "10X98765432"[sum%11]; id[17] != want {
			t.Fatalf("%q: check character %c, want %c", id, id[17], want)
		}
	}
}

func TestLuhn(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int
	}{
		{"411111111111111", 1}, // 4111 1111 1111 1111
		{"7992739871", 3},      // the textbook example
		{"622202123456789012", 8},
	} {
		if got := luhnCheck(tc.body); got != tc.want {
			t.Errorf("luhnCheck(%s) = %d, want %d", tc.body, got, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir, err := Dir("")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{MaxPerCorpus: 500, Privacy: 0.1, Rude: 0.05, Diversion: 0.05}
	a, err := Load(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 3*500 {
		t.Fatalf("%d messages, want %d", len(a), 3*500)
	}
	plants, convs, agents, zh := map[string]int{}, map[string]bool{}, map[string]bool{}, 0
	for i, m := range a {
		if m.Text != b[i].Text || m.Conversation != b[i].Conversation {
			t.Fatalf("message %d differs between two loads with the same seed", i)
		}
		plants[m.Plant]++
		convs[m.Conversation], agents[m.Agent] = true, true
		if m.Lang == "zh" {
			zh++
		}
		if !strings.Contains(string(m.Body()), `"role":"agent"`) {
			t.Fatalf("body %s", m.Body())
		}
	}
	t.Logf("plants %v, %d conversations, %d agents, %d zh", plants, len(convs), len(agents), zh)
	for _, k := range []string{PlantPrivacy, PlantRude, PlantDiversion} {
		share := float64(plants[k]) / float64(len(a))
		if share < 0.02 || share > 0.15 {
			t.Errorf("plant %s share %.3f, far from the asked share", k, share)
		}
	}
	if len(convs) < 200 || len(agents) < 100 {
		t.Errorf("%d conversations and %d agents: want many", len(convs), len(agents))
	}
	if zh < 400 {
		t.Errorf("%d Chinese messages of %d", zh, len(a))
	}
	if _, err := Load(dir, Options{Privacy: 0.7, Rude: 0.5}); err == nil {
		t.Error("shares over 1 accepted")
	}
}

func TestInterleaveKeepsConversationOrder(t *testing.T) {
	var msgs []Message
	for c := range 5 {
		for turn := range 4 {
			msgs = append(msgs, Message{Conversation: string(rune('a' + c)), Text: string(rune('0' + turn))})
		}
	}
	interleave(rand.New(rand.NewPCG(3, 3)), msgs)
	last := map[string]string{}
	for _, m := range msgs {
		if m.Text <= last[m.Conversation] && last[m.Conversation] != "" {
			t.Fatalf("conversation %s: turn %s after %s", m.Conversation, m.Text, last[m.Conversation])
		}
		last[m.Conversation] = m.Text
	}
}

// TestRudeAndDiversionPlantsAreFound checks every rude phrase and every
// diversion template against the tone and diversion detectors.
func TestRudeAndDiversionPlantsAreFound(t *testing.T) {
	td, err := tone.Default()
	if err != nil {
		t.Fatal(err)
	}
	dd, err := diversion.Default()
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.Default()
	r := rand.New(rand.NewPCG(9, 9))
	check := func(d detectors.Detector, family, text string) {
		t.Helper()
		for _, f := range d.Detect(n.Normalize(text), nil) {
			if f.Detector == family {
				return
			}
		}
		t.Errorf("no %s finding in %q", family, text)
	}
	for lang, phrases := range rudePhrases {
		for _, p := range phrases {
			check(td, "tone", p)
			check(td, "tone", joinPlant("好的，我帮您查一下", p, lang))
		}
	}
	for _, builders := range diversionPlants {
		for _, b := range builders {
			for range 10 {
				text, handle := b(r)
				if !strings.Contains(text, handle) {
					t.Errorf("%q does not contain its handle %q", text, handle)
				}
				check(dd, "diversion", text)
			}
		}
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }
