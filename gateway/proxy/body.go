package proxy

import (
	"bytes"
	"errors"
	"log/slog"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/xunjian/xunjian/gateway/internal/jsonstr"
)

// ErrBadBody is wrapped by every error Extract and WithText return because
// of the request body (invalid JSON, a missing or mistyped field), so the
// gateway can answer 400 with errors.Is(err, ErrBadBody).
var ErrBadBody = errors.New("bad request body")

// ErrInvalidJSON is returned (wrapped) for a body that is not valid JSON. It
// says no more on purpose: validator messages quote the body, which is
// private. It unwraps to ErrBadBody.
var ErrInvalidJSON error = &bodyError{msg: "body is not valid JSON"}

// bodyError is a body problem; it unwraps to ErrBadBody.
type bodyError struct{ msg string }

func (e *bodyError) Error() string { return e.msg }
func (e *bodyError) Unwrap() error { return ErrBadBody }

// FieldError reports a configured field that the body lacks or holds in the
// wrong type. It names the JSON pointer (configuration), never the value.
// It unwraps to ErrBadBody.
type FieldError struct {
	Pointer string // the JSON pointer as configured, e.g. "/message/text"
	Problem string // "missing", "not a string", "duplicate key"
}

func (e *FieldError) Error() string { return "field " + e.Pointer + ": " + e.Problem }

// Unwrap returns ErrBadBody.
func (e *FieldError) Unwrap() error { return ErrBadBody }

// IsDuplicateKey reports whether err is a *FieldError for a key the body has
// twice (or twice but for case), which the gateway answers as duplicate_key.
func IsDuplicateKey(err error) bool {
	var fe *FieldError
	return errors.As(err, &fe) && fe.Problem == problemDuplicate
}

// Problems a FieldError reports.
const (
	problemMissing   = "missing"
	problemNotString = "not a string"
	problemDuplicate = "duplicate key" // also keys equal but for case, see locate
	// problemFold is a key that equals a token but for case, with no exact
	// match: an upstream that matches keys case-insensitively (Go's
	// encoding/json) reads it as the field, so it is no more "missing" than
	// the exact key would be.
	problemFold = "key differs only in case"
)

// primaryProblem maps a locate problem for the required text: a key that
// differs only in case is reported as the field missing, as it always was
// (both refuse the body).
func primaryProblem(problem string) string {
	if problem == problemFold {
		return problemMissing
	}
	return problem
}

// Message is what Extract pulls out of a request body. Its strings are
// copies and do not alias the body. Text is private: Message masks itself
// when logged (LogValue).
type Message struct {
	Text           string
	ConversationID string
	AgentID        string
	Role           string
}

// LogValue implements slog.LogValuer: it logs the ids and role and only the
// length of Text, so a Message can be logged without leaking the draft.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("conversation_id", m.ConversationID),
		slog.String("agent_id", m.AgentID),
		slog.String("role", m.Role),
		slog.Int("text_bytes", len(m.Text)),
	)
}

// Extract parses body (JSON) and returns the route's fields. It is
// ExtractAll without the texts, kept for callers that inspect the draft
// only; a route with Texts needs ExtractAll (or ExtractRequest).
//
// The text field is required and must be a JSON string. The conversation,
// agent and role fields are optional: missing or null gives "", and the
// conversation and agent ids may also be JSON numbers (their literal text).
// Any other type is an error, as is a key that appears twice, or twice but
// for case, in an object on a pointer's path: {"text":"a","Text":"b"} would
// have us inspect one draft while an upstream such as Go's encoding/json
// (last key wins, case-insensitive) delivers the other. For the same reason
// an optional field whose key differs from the pointer's only in case
// ({"Role":"customer"}) is an error, not a missing field.
//
// Errors unwrap to ErrBadBody; field errors are *FieldError naming the
// pointer. Strings are copied, so body may be reused afterwards. Extract is
// safe for concurrent use.
func (r *Compiled) Extract(body []byte) (Message, error) {
	m, _, err := r.extract(body, false)
	return m, err
}

// extract is Extract, and with texts also ExtractAll's texts.
func (r *Compiled) extract(body []byte, texts bool) (Message, []Text, error) {
	m, err := r.extractMessage(body)
	if err != nil || !texts {
		return m, nil, err
	}
	spans, err := r.textSpans(body)
	if err != nil {
		return Message{}, nil, err
	}
	out := make([]Text, len(spans))
	for i, sp := range spans {
		out[i] = Text{Pointer: r.pointerRaw(sp.ptr), Path: sp.path, Text: decodeString(body[sp.start+1 : sp.end-1])}
	}
	return m, out, nil
}

// extractMessage is Extract.
func (r *Compiled) extractMessage(body []byte) (Message, error) {
	var m Message
	if fastjson.ValidateBytes(body) != nil {
		return m, ErrInvalidJSON
	}
	start, end, problem := locate(body, r.text.toks)
	if problem != "" {
		return m, &FieldError{Pointer: r.text.raw, Problem: primaryProblem(problem)}
	}
	if body[start] != '"' {
		return m, &FieldError{Pointer: r.text.raw, Problem: problemNotString}
	}
	m.Text = decodeString(body[start+1 : end-1])
	var err error
	if m.ConversationID, err = optional(body, r.conversation, true); err != nil {
		return Message{}, err
	}
	if m.AgentID, err = optional(body, r.agent, true); err != nil {
		return Message{}, err
	}
	if m.Role, err = optional(body, r.role, false); err != nil {
		return Message{}, err
	}
	return m, nil
}

// optional extracts an optional string field (numbers too if numberOK).
func optional(body []byte, p *pointer, numberOK bool) (string, error) {
	if p == nil {
		return "", nil
	}
	start, end, problem := locate(body, p.toks)
	switch {
	case problem == problemMissing:
		return "", nil
	case problem != "":
		return "", &FieldError{Pointer: p.raw, Problem: problem}
	}
	switch c := body[start]; {
	case c == '"':
		return decodeString(body[start+1 : end-1]), nil
	case c == 'n': // null
		return "", nil
	case numberOK && (c == '-' || (c >= '0' && c <= '9')):
		return string(body[start:end]), nil
	}
	return "", &FieldError{Pointer: p.raw, Problem: problemNotString}
}

// WithText returns a copy of body with the text field's string replaced by
// text (the redacted draft). Every other byte of body is kept as is: key
// order, whitespace, number spelling and escapes elsewhere survive. text is
// encoded as a JSON string; invalid UTF-8 in it becomes U+FFFD, one per bad
// byte, as encoding/json does. The same body checks as Extract apply.
// WithText is safe for concurrent use.
func (r *Compiled) WithText(body []byte, text string) ([]byte, error) {
	return r.AppendWithText(nil, body, text)
}

// AppendWithText is WithText appending the new body to dst, so a caller can
// reuse a buffer and allocate nothing. dst must not overlap body.
func (r *Compiled) AppendWithText(dst, body []byte, text string) ([]byte, error) {
	if fastjson.ValidateBytes(body) != nil {
		return dst, ErrInvalidJSON
	}
	start, end, problem := locate(body, r.text.toks)
	if problem != "" {
		return dst, &FieldError{Pointer: r.text.raw, Problem: primaryProblem(problem)}
	}
	if body[start] != '"' {
		return dst, &FieldError{Pointer: r.text.raw, Problem: problemNotString}
	}
	if dst == nil {
		dst = make([]byte, 0, len(body)-(end-start)+len(text)+8)
	}
	dst = append(dst, body[:start]...)
	dst = jsonstr.Append(dst, text)
	return append(dst, body[end:]...), nil
}

// locate finds the value toks point to in b, which must already be valid
// JSON, and returns its span [start, end) or a problem: missing, or a
// duplicate key. A key that equals a token but for case (Unicode simple
// folding, as encoding/json matches) counts as a duplicate of it, or, with
// no exact key beside it, is problemFold. It never panics on malformed
// input; it reports such input as missing. "*" tokens are literal here;
// walk handles wildcards.
func locate(b []byte, toks []ptrToken) (start, end int, problem string) {
	i := skipWS(b, 0)
	for _, t := range toks {
		if i >= len(b) {
			return 0, 0, problemMissing
		}
		switch b[i] {
		case '{':
			found, dup := -1, false
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == '}' {
				return 0, 0, problemMissing
			}
			for {
				if i >= len(b) || b[i] != '"' {
					return 0, 0, problemMissing
				}
				ke := stringEnd(b, i)
				if ke < 0 {
					return 0, 0, problemMissing
				}
				match := keyMatch(b[i+1:ke-1], t.nameB)
				i = skipWS(b, ke)
				if i >= len(b) || b[i] != ':' {
					return 0, 0, problemMissing
				}
				vs := skipWS(b, i+1)
				if i = valueEnd(b, vs); i < 0 {
					return 0, 0, problemMissing
				}
				switch {
				case match == matchExact && found < 0:
					found = vs
				case match != matchNone:
					dup = true
				}
				i = skipWS(b, i)
				if i < len(b) && b[i] == ',' {
					i = skipWS(b, i+1)
					continue
				}
				break
			}
			switch {
			case dup && found >= 0:
				return 0, 0, problemDuplicate
			case dup:
				return 0, 0, problemFold
			case found < 0:
				return 0, 0, problemMissing
			}
			i = found
		case '[':
			if t.index < 0 {
				return 0, 0, problemMissing
			}
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == ']' {
				return 0, 0, problemMissing
			}
			for n := 0; n < t.index; n++ {
				if i = valueEnd(b, i); i < 0 {
					return 0, 0, problemMissing
				}
				i = skipWS(b, i)
				if i >= len(b) || b[i] != ',' {
					return 0, 0, problemMissing
				}
				i = skipWS(b, i+1)
			}
		default:
			return 0, 0, problemMissing
		}
	}
	if i >= len(b) {
		return 0, 0, problemMissing
	}
	end = valueEnd(b, i)
	if end < 0 {
		return 0, 0, problemMissing
	}
	return i, end, ""
}

// Results of keyMatch.
const (
	matchNone  = iota
	matchExact // the key is the token
	matchFold  // the key equals the token but for case
)

// keyMatch compares the raw (still escaped) key with name.
func keyMatch(raw, name []byte) int {
	if bytes.IndexByte(raw, '\\') >= 0 {
		raw = []byte(decodeString(raw)) // rare: escaped keys
	}
	switch {
	case bytes.Equal(raw, name):
		return matchExact
	case bytes.EqualFold(raw, name):
		return matchFold
	}
	return matchNone
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the closing quote of the string
// whose opening quote is b[i], or -1. A quote preceded by an odd run of
// backslashes is escaped; the run cannot reach back past the opening quote
// or a previous quote, so counting it is enough.
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		q += i
		n := 0
		for j := q - 1; j >= i && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
	return -1
}

// valueEnd returns the index just past the JSON value starting at b[i], or
// -1. b is valid JSON, so brackets balance outside strings.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = stringEnd(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	for ; i < len(b); i++ { // number, true, false, null
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// decodeString unescapes the contents of a JSON string (without quotes).
// Lone or mismatched surrogates become U+FFFD, as with encoding/json;
// other bytes are copied as they are.
func decodeString(raw []byte) string {
	n := bytes.IndexByte(raw, '\\')
	if n < 0 {
		return string(raw)
	}
	buf := make([]byte, n, len(raw))
	copy(buf, raw[:n])
	for i := n; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			break
		}
		switch e := raw[i+1]; e {
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(raw, i+2)
			if !ok {
				return string(buf)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2, ok = hex4(raw, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default: // '"', '\\', '/'
			buf = append(buf, e)
		}
		i += 2
	}
	return string(buf)
}

// hex4 parses the four hex digits at raw[i:i+4].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
