package opinion

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxReason bounds Opinion.Reason, in characters (code points): a longer
// reason is cut, so an answer that echoes the message carries at most this
// much of it.
const MaxReason = 120

// Bounds on what is read and searched of an answer.
const (
	// maxBody bounds the response body read.
	maxBody = 64 << 10
	// maxContent bounds the message content searched for the JSON object.
	maxContent = 8 << 10
	// maxCandidates bounds the '{' from which an object is tried, so that
	// a hostile answer cannot make the search quadratic.
	maxCandidates = 32
)

// chatResponse is what is read of a chat completion.
type chatResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content json.RawMessage `json:"content"`
		} `json:"message"`
	} `json:"choices"`
}

// answer is the JSON object the prompt asks for, validated.
type answer struct {
	verdict Verdict
	kinds   []string
	reason  string
}

// badAnswer returns an error wrapping ErrBadAnswer that says what is wrong.
// what never quotes the answer: it may echo the message.
func badAnswer(what string) error {
	return fmt.Errorf("%w: %s", ErrBadAnswer, what)
}

// parseResponse reads the chat completion body and the answer in its
// first choice's content; allowed says which kinds the answer may name.
// It returns the model that answered ("" when the body names none).
func parseResponse(body []byte, allowed []string) (answer, string, error) {
	var r chatResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return answer{}, "", badAnswer("the body is not a chat completion")
	}
	if len(r.Choices) == 0 {
		return answer{}, r.Model, badAnswer("no choices")
	}
	var content string
	raw := r.Choices[0].Message.Content
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &content) != nil {
		return answer{}, r.Model, badAnswer("the message content is not a string")
	}
	a, err := parseAnswer(content, allowed)
	return a, r.Model, err
}

// parseAnswer finds the JSON object in content leniently (alone, in a code
// fence, after or before prose: the first object with a "verdict") and
// validates it strictly: verdict ok with no kinds, or harmful with at
// least one, every kind among allowed; reason a string, if any. Fields
// beyond the three are ignored. Repeated kinds are kept once.
func parseAnswer(content string, allowed []string) (answer, error) {
	if len(content) > maxContent {
		return answer{}, badAnswer(fmt.Sprintf("content longer than %d bytes", maxContent))
	}
	obj, ok := findObject(content)
	if !ok {
		return answer{}, badAnswer("no JSON object with a verdict")
	}
	var a answer
	var v string
	if err := json.Unmarshal(obj["verdict"], &v); err != nil {
		return answer{}, badAnswer("verdict is not a string")
	}
	switch Verdict(v) {
	case VerdictOK, VerdictHarmful:
		a.verdict = Verdict(v)
	default:
		return answer{}, badAnswer(`verdict is neither "ok" nor "harmful"`)
	}
	if raw, ok := obj["kinds"]; ok && !bytes.Equal(raw, []byte("null")) {
		var kinds []string
		if err := json.Unmarshal(raw, &kinds); err != nil {
			return answer{}, badAnswer("kinds is not an array of strings")
		}
		for i, k := range kinds {
			if !slices.Contains(allowed, k) {
				return answer{}, badAnswer(fmt.Sprintf("kinds[%d] is not one of the kinds asked about", i))
			}
			if !slices.Contains(a.kinds, k) {
				a.kinds = append(a.kinds, k)
			}
		}
	}
	switch {
	case a.verdict == VerdictHarmful && len(a.kinds) == 0:
		return answer{}, badAnswer("harmful without a kind")
	case a.verdict == VerdictOK && len(a.kinds) > 0:
		return answer{}, badAnswer("ok with kinds")
	}
	if raw, ok := obj["reason"]; ok && !bytes.Equal(raw, []byte("null")) {
		var r string
		if err := json.Unmarshal(raw, &r); err != nil {
			return answer{}, badAnswer("reason is not a string")
		}
		a.reason = cleanReason(r)
	}
	return a, nil
}

// findObject returns the first JSON object in s that has a "verdict" key,
// trying each '{' in turn (at most maxCandidates): what a model writes
// around the object (a code fence, prose, a reasoning block) is skipped.
func findObject(s string) (map[string]json.RawMessage, bool) {
	for tries, i := 0, 0; tries < maxCandidates; tries++ {
		j := strings.IndexByte(s[i:], '{')
		if j < 0 {
			return nil, false
		}
		i += j
		var obj map[string]json.RawMessage
		// A Decoder reads one value and leaves what follows it.
		if json.NewDecoder(strings.NewReader(s[i:])).Decode(&obj) == nil {
			if _, ok := obj["verdict"]; ok {
				return obj, true
			}
		}
		i++
	}
	return nil, false
}

// cleanReason returns r with control characters (line breaks among them)
// turned into spaces, invisible format characters (bidirectional
// overrides, zero-width ones) dropped, runs of white space made one,
// trimmed, and cut to MaxReason characters, so a reason fits one log or
// event field and shows what it says.
func cleanReason(r string) string {
	r = strings.Map(func(c rune) rune {
		switch {
		case c == utf8.RuneError || unicode.IsControl(c):
			return ' '
		case unicode.Is(unicode.Cf, c):
			return -1
		}
		return c
	}, r)
	r = strings.Join(strings.Fields(r), " ")
	n := 0
	for i := range r {
		if n == MaxReason {
			return strings.TrimRight(r[:i], " ")
		}
		n++
	}
	return r
}
