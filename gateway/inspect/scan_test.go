package inspect

import (
	"fmt"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/internal/corpora"
)

// TestOnePassSameFindings: matching every family's lexicon in one pass
// (lexicon.Scanner) finds exactly what each family matching its own
// lexicon finds, message by message, on real dialogues and toxic
// comments in both roles, and on drafts with planted private data,
// diversion and rudeness.
func TestOnePassSameFindings(t *testing.T) {
	in := defaultInspector(t)
	if in.scan[0] == nil || in.scan[1] == nil {
		t.Fatal("the default inspector has no one-pass scanner")
	}
	var texts []string
	for _, name := range []string{"crosswoz_zh/utterances.jsonl", "multiwoz_en/utterances.jsonl", "cold_zh/cold_test_dev.jsonl"} {
		utts := readJSONL(t, corpora.File(t, name))
		for i := 0; i < len(utts) && i < 3000; i++ {
			texts = append(texts, utts[i].Text)
		}
	}
	texts = append(texts,
		"加我微信abc12345，电话13812345678，我私下给您退款",
		"你是不是傻，我已经说了三遍了，爱买不买",
		"我保证今天给您全额退款，不满意再找我",
		"再不处理我就去12315投诉你们，还要发微博曝光",
		"my card is 4111 1111 1111 1111, call me at (415) 555-0100",
	)
	var buf normalize.Buffer
	compared := 0
	for _, role := range []string{RoleAgent, RoleCustomer} {
		dets := in.agent
		if role == RoleCustomer {
			dets = in.customer
		}
		for _, text := range texts {
			var one, own normalize.Text
			in.norm.NormalizeInto(&one, &buf, text)
			got := in.detect(&one, "", role, nil)
			in.norm.NormalizeInto(&own, &buf, text)
			var want []detectors.Finding
			for _, d := range dets {
				want = d.Detect(&own, want)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s %q:\n one pass  %+v\n own pass  %+v", role, text, got, want)
			}
			compared++
		}
	}
	t.Logf("%d messages compared", compared)
}
