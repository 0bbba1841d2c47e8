package opinion

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseAnswer(t *testing.T) {
	const harmful = `{"verdict": "harmful", "kinds": ["tone.rude"], "reason": "讽刺顾客看不懂"}`
	kinds := DefaultKinds()
	for _, tc := range []struct {
		name, content string
		want          answer // zero: want ErrBadAnswer
		bad           string // in the error
	}{
		{"alone", harmful, answer{VerdictHarmful, []string{"tone.rude"}, "讽刺顾客看不懂"}, ""},
		{"ok", `{"verdict":"ok","kinds":[],"reason":"语气正常"}`, answer{verdict: VerdictOK, reason: "语气正常"}, ""},
		{"ok, kinds null, no reason", `{"verdict":"ok","kinds":null}`, answer{verdict: VerdictOK}, ""},
		{"code fence", "```json\n" + harmful + "\n```", answer{VerdictHarmful, []string{"tone.rude"}, "讽刺顾客看不懂"}, ""},
		{"bare fence", "```\n" + harmful + "\n```\n", answer{VerdictHarmful, []string{"tone.rude"}, "讽刺顾客看不懂"}, ""},
		{"prose around", "Sure. Here is my assessment {as asked}:\n" + harmful + "\nLet me know if {you} need more.", answer{VerdictHarmful, []string{"tone.rude"}, "讽刺顾客看不懂"}, ""},
		{"a reasoning block first", "<think>the user wants {\"x\": 1}; it reads as mockery</think>\n" + harmful, answer{VerdictHarmful, []string{"tone.rude"}, "讽刺顾客看不懂"}, ""},
		{"extra fields ignored", `{"verdict":"harmful","kinds":["tone.dismissive","tone.impatient"],"reason":"推诿","confidence":0.9}`,
			answer{VerdictHarmful, []string{"tone.dismissive", "tone.impatient"}, "推诿"}, ""},
		{"a kind twice is kept once", `{"verdict":"harmful","kinds":["tone.rude","tone.rude"]}`, answer{VerdictHarmful, []string{"tone.rude"}, ""}, ""},
		{"reason on one line, trimmed", `{"verdict":"ok","reason":"  line one\nline\ttwo\u202e  "}`, answer{verdict: VerdictOK, reason: "line one line two"}, ""},

		{"empty", "", answer{}, "no JSON object with a verdict"},
		{"prose only", "The message is rude.", answer{}, "no JSON object with a verdict"},
		{"invalid JSON", `{"verdict": "harmful", "kinds": ["tone.rude"`, answer{}, "no JSON object with a verdict"},
		{"single quotes", `{'verdict': 'ok'}`, answer{}, "no JSON object with a verdict"},
		{"an object without a verdict", `{"answer":"ok"}`, answer{}, "no JSON object with a verdict"},
		{"a kind outside the taxonomy", `{"verdict":"harmful","kinds":["tone.sarcastic"]}`, answer{}, "kinds[0] is not one of the kinds asked about"},
		{"a kind without its family", `{"verdict":"harmful","kinds":["rude"]}`, answer{}, "kinds[0] is not one of"},
		{"a taxonomy kind not asked about", `{"verdict":"harmful","kinds":["tone.rude","diversion.contact"]}`, answer{}, "kinds[1] is not one of"},
		{"another verdict", `{"verdict":"maybe","kinds":[]}`, answer{}, `verdict is neither "ok" nor "harmful"`},
		{"verdict in capitals", `{"verdict":"OK"}`, answer{}, "verdict is neither"},
		{"verdict not a string", `{"verdict":true}`, answer{}, "verdict is not a string"},
		{"kinds not an array", `{"verdict":"harmful","kinds":"tone.rude"}`, answer{}, "kinds is not an array of strings"},
		{"harmful without a kind", `{"verdict":"harmful","kinds":[]}`, answer{}, "harmful without a kind"},
		{"ok with kinds", `{"verdict":"ok","kinds":["tone.rude"]}`, answer{}, "ok with kinds"},
		{"reason not a string", `{"verdict":"ok","reason":["a"]}`, answer{}, "reason is not a string"},
		{"too long", `{"verdict":"ok","reason":"` + strings.Repeat("a", maxContent) + `"}`, answer{}, "content longer than"},
		{"deeply nested, bounded", strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000), answer{}, "no JSON object with a verdict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAnswer(tc.content, kinds)
			if tc.bad != "" {
				if !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("parseAnswer = %+v, %v; want ErrBadAnswer saying %q", got, err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.verdict != tc.want.verdict || !slices.Equal(got.kinds, tc.want.kinds) || got.reason != tc.want.reason {
				t.Errorf("parseAnswer = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// The errors never quote the answer: a model may echo the message in it.
func TestParseAnswerErrorsQuoteNothing(t *testing.T) {
	const echo = "您的手机138****5678"
	for _, content := range []string{
		`{"verdict":"` + echo + `"}`,
		`{"verdict":"harmful","kinds":["` + echo + `"]}`,
		echo,
	} {
		if _, err := parseAnswer(content, DefaultKinds()); err == nil || strings.Contains(err.Error(), "5678") {
			t.Errorf("parseAnswer(%q) = %v", content, err)
		}
	}
}

func TestParseResponse(t *testing.T) {
	for _, tc := range []struct{ name, body, bad string }{
		{"not JSON", "<html>502 Bad Gateway</html>", "not a chat completion"},
		{"no choices", `{"choices":[]}`, "no choices"},
		{"content null (a refusal)", `{"choices":[{"message":{"content":null,"refusal":"no"}}]}`, "not a string"},
		{"content parts", `{"choices":[{"message":{"content":[{"type":"text","text":"{}"}]}}]}`, "not a string"},
	} {
		if _, _, err := parseResponse([]byte(tc.body), DefaultKinds()); !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("%s: err = %v, want ErrBadAnswer saying %q", tc.name, err, tc.bad)
		}
	}
	a, model, err := parseResponse([]byte(`{"model":"qwen-plus-2025-07-28","choices":[{"index":0,"message":{"role":"assistant","content":"{\"verdict\":\"ok\"}"},"finish_reason":"stop"}]}`), DefaultKinds())
	if err != nil || a.verdict != VerdictOK || model != "qwen-plus-2025-07-28" {
		t.Errorf("parseResponse = %+v, %q, %v", a, model, err)
	}
}

func TestCleanReason(t *testing.T) {
	long := strings.Repeat("很", MaxReason+50)
	if got := cleanReason(long); utf8.RuneCountInString(got) != MaxReason {
		t.Errorf("a long reason keeps %d characters, want %d", utf8.RuneCountInString(got), MaxReason)
	}
	if got := cleanReason(strings.Repeat("a ", MaxReason)); utf8.RuneCountInString(got) > MaxReason || strings.HasSuffix(got, " ") {
		t.Errorf("cut = %q", got)
	}
	if got := cleanReason("a\x00b\r\nc\u200bd\xff"); got != "a b cd" {
		t.Errorf("cleanReason = %q", got)
	}
}
