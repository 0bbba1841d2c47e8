package pii

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/bench/internal/corpus"
)

func TestMultiDoGOLabels(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  multidogoRow
		want []Label
		ok   bool
	}{
		{
			name: "phone over three tokens",
			row:  multidogoRow{Text: "my number is 415 555 0134 thanks", SlotLabels: "O O O phonenumber phonenumber phonenumber O"},
			want: []Label{{Kind: "phone", Start: 13, End: 25}},
			ok:   true,
		},
		{
			name: "card fragment",
			row:  multidogoRow{Text: "card ending 4321", SlotLabels: "O O card_number"},
			want: []Label{{Kind: "bank_card", Start: 12, End: 16, Partial: true}},
			ok:   true,
		},
		{
			name: "ssn and email",
			row:  multidogoRow{Text: "ssn 123456789 mail bob gmailcom", SlotLabels: "O ssn O email_address email_address"},
			want: []Label{{Kind: "id_card", Start: 4, End: 13}, {Kind: "email", Start: 19, End: 31}},
			ok:   true,
		},
		{name: "misaligned", row: multidogoRow{Text: "a b c", SlotLabels: "O O"}, ok: false},
		{name: "unscored slot", row: multidogoRow{Text: "mohan", SlotLabels: "name"}, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := multidogoLabels(tc.row)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("labels %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("label %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestScore(t *testing.T) {
	items := []Item{
		{ID: 0, Set: SetEN, Text: "x", Labels: []Label{{Kind: "phone", Start: 10, End: 20}}},
		{ID: 1, Set: SetEN, Text: "x", Labels: []Label{{Kind: "phone", Start: 0, End: 5}, {Kind: "bank_card", Start: 10, End: 14, Partial: true}}},
		{ID: 2, Set: SetEN, Text: "x"},
		{ID: 3, Set: SetZH, Text: "x", Labels: []Label{{Kind: "id_card", Start: 3, End: 21}}},
	}
	found := [][]Span{
		{{Kind: "phone", Start: 12, End: 18}}, // hit
		{{Kind: "other:US_BANK_NUMBER", Start: 0, End: 5}, // miss, found as another type
			{Kind: "bank_card", Start: 10, End: 14}}, // on a fragment: not false
		{{Kind: "phone", Start: 0, End: 3}}, // false
		{{Kind: "other:US_DRIVER_LICENSE", Start: 3, End: 21}},
	}
	scores, other := score(items, found)
	get := func(set, kind string) KindScore {
		for _, ks := range scores[set] {
			if ks.Kind == kind {
				return ks
			}
		}
		t.Fatalf("no %s %s score", set, kind)
		return KindScore{}
	}
	if ks := get(SetEN, "phone"); ks.Want != 2 || ks.Found != 1 || ks.OtherType != 1 || ks.Findings != 2 || ks.Correct != 1 || ks.Recall != 0.5 || ks.Precision != 0.5 {
		t.Errorf("en phone %+v", ks)
	}
	if ks := get(SetEN, "bank_card"); ks.Want != 0 || ks.Findings != 1 || ks.Correct != 1 {
		t.Errorf("en bank_card %+v", ks)
	}
	if ks := get(SetZH, "id_card"); ks.Want != 1 || ks.Found != 0 || ks.OtherType != 1 {
		t.Errorf("zh id_card %+v", ks)
	}
	if other["US_BANK_NUMBER"] != 1 || other["US_DRIVER_LICENSE"] != 1 {
		t.Errorf("other types %v", other)
	}
}

func TestSets(t *testing.T) {
	items, err := Sets(testCorpora(t), 100, 40, 1)
	if err != nil {
		t.Fatal(err)
	}
	var en, zh, planted int
	for _, it := range items {
		switch it.Set {
		case SetEN:
			en++
		case SetZH:
			zh++
			for _, l := range it.Labels {
				planted++
				rs := []rune(it.Text)
				if l.End > len(rs) {
					t.Fatalf("label %+v beyond %q", l, it.Text)
				}
				if v := string(rs[l.Start:l.End]); len(v) < 11 {
					t.Errorf("planted value %q in %q: too short for a %s", v, it.Text, l.Kind)
				}
			}
		}
	}
	if en < 500 || zh != 40 || planted != 30 {
		t.Errorf("%d en, %d zh, %d planted", en, zh, planted)
	}
}

func testCorpora(t *testing.T) string {
	t.Helper()
	dir, err := corpus.Dir("")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRunWithoutPresidio runs the comparison with the privacy detector
// only and checks it finds what the labels say (the thresholds are far
// below what it reaches, to catch a broken harness, not to grade the
// detector).
func TestRunWithoutPresidio(t *testing.T) {
	rep, err := Run(context.Background(), Config{Corpora: testCorpora(t), Negatives: 50, Chinese: 60, SkipPresidio: true, MinTime: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Engines) != 1 || rep.Engines[0].MsgsPerSec <= 0 {
		t.Fatalf("engines %+v", rep.Engines)
	}
	for set, scores := range rep.Engines[0].Scores {
		for _, ks := range scores {
			if ks.Want > 10 && ks.Recall < 0.5 {
				t.Errorf("%s %s: recall %.2f", set, ks.Kind, ks.Recall)
			}
		}
	}
	var b strings.Builder
	rep.WriteTable(&b)
	if !strings.Contains(b.String(), "| xunjian privacy |") || !strings.Contains(b.String(), "Presidio skipped") {
		t.Errorf("table:\n%s", b.String())
	}
}
