package proxy

import (
	"bytes"
	"log/slog"
	"slices"
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/xunjian/xunjian/gateway/internal/jsonstr"
)

// Text is one text a request carries to the upstream: the draft, another
// text field of the body (Route.Texts), or an allowed query parameter
// (Route.Query). Every Text must be inspected, and masked with WithTexts
// (body) and QueryWithTexts (query), before the request is forwarded.
//
// Text is private, and so is Path when a wildcard matched object members
// (their names come from the body): Text masks itself when logged.
type Text struct {
	// Pointer is the channel as configured: a JSON pointer such as
	// "/message/text" or "/attachments/*/caption", or "?" and the name of
	// a query parameter, e.g. "?q".
	Pointer string
	// Path is where this text is: the JSON pointer with wildcards resolved,
	// e.g. "/attachments/0/caption", or "?q". WithTexts and QueryWithTexts
	// find the text to replace by it.
	Path string
	// Text is the decoded string: JSON escapes or percent-encoding undone.
	Text string
}

// LogValue implements slog.LogValuer: it logs the configured pointer and
// the text's length only.
func (t Text) LogValue() slog.Value {
	return slog.GroupValue(slog.String("pointer", t.Pointer), slog.Int("text_bytes", len(t.Text)))
}

// IsQuery reports whether t is a query parameter's value rather than a
// body field.
func (t Text) IsQuery() bool { return len(t.Path) > 0 && t.Path[0] == '?' }

// span is where one text string is in a body: [start, end) includes the
// quotes. ptr is -1 for the draft (Route.Text), else an index into texts.
type span struct {
	ptr        int
	path       string
	start, end int
}

// ExtractAll parses body (JSON) and returns the route's fields as Extract
// does, and every text in it: the draft first (Pointer and Path are
// Route.Text), then each Route.Texts pointer's strings in configuration
// order and, within a pointer, in body order. A string that two pointers
// reach is returned once, for the first.
//
// Texts pointers are optional: a missing field, or null, is no text, and a
// wildcard over an empty array or object matches nothing. A value of any
// other type is a *FieldError ("not a string"), as is a duplicate key, or a
// key that differs from the pointer's only in case, on any pointer's path.
// Errors unwrap to ErrBadBody and never quote the body. Strings are copies,
// so body may be reused afterwards.
func (r *Compiled) ExtractAll(body []byte) (Message, []Text, error) {
	return r.extract(body, true)
}

// pointerRaw returns the configured pointer of a span's ptr.
func (r *Compiled) pointerRaw(ptr int) string {
	if ptr < 0 {
		return r.text.raw
	}
	return r.texts[ptr].raw
}

// textSpans returns the spans of every text in body, which extractMessage
// has validated: the draft first, then Route.Texts in order, without
// repeats.
func (r *Compiled) textSpans(body []byte) ([]span, error) {
	start, end, problem := locate(body, r.text.toks)
	if problem != "" {
		return nil, &FieldError{Pointer: r.text.raw, Problem: primaryProblem(problem)}
	}
	if body[start] != '"' {
		return nil, &FieldError{Pointer: r.text.raw, Problem: problemNotString}
	}
	spans := make([]span, 1, 1+len(r.texts))
	spans[0] = span{ptr: -1, path: r.text.raw, start: start, end: end}
	var path []byte
	for pi := range r.texts {
		p := &r.texts[pi]
		problem := walk(body, 0, p.toks, path[:0], func(path []byte, start, end int) string {
			switch body[start] {
			case '"':
			case 'n': // null: no text
				return ""
			default:
				return problemNotString
			}
			if slices.ContainsFunc(spans, func(s span) bool { return s.start == start }) {
				return ""
			}
			spans = append(spans, span{ptr: pi, path: string(path), start: start, end: end})
			return ""
		})
		if problem != "" && problem != problemMissing {
			return nil, &FieldError{Pointer: p.raw, Problem: problem}
		}
	}
	return spans, nil
}

// walk calls visit for each value toks reach from the value at b[i]; b is
// valid JSON. path is the concrete pointer so far; visit must copy it to
// keep it. A "*" token (wild) goes into every element or member; a
// member-name token must match one key exactly, with no other key equal to
// it or to it but for case (see locate). walk returns the first problem
// visit or the path reports; problemMissing only if nothing was reached
// and no wildcard was crossed.
func walk(b []byte, i int, toks []ptrToken, path []byte, visit func(path []byte, start, end int) string) string {
	i = skipWS(b, i)
	if i >= len(b) {
		return problemMissing
	}
	if len(toks) == 0 {
		end := valueEnd(b, i)
		if end < 0 {
			return problemMissing
		}
		return visit(path, i, end)
	}
	t := toks[0]
	switch b[i] {
	case '{':
		if t.wild {
			// Keys must be unique even for case: two members with one path
			// could not be masked apart, and an upstream reads just one.
			problem, seen := "", make(map[string]struct{})
			ok := members(b, i, func(key []byte, vs int) bool {
				name := decodeString(key)
				folded := string(bytes.ToLower(bytes.ToUpper([]byte(name))))
				if _, dup := seen[folded]; dup {
					problem = problemDuplicate
					return false
				}
				seen[folded] = struct{}{}
				p := walk(b, vs, toks[1:], appendToken(path, name), visit)
				if p != "" && p != problemMissing {
					problem = p
					return false
				}
				return true
			})
			if !ok {
				return problemMissing
			}
			return problem
		}
		found, dup := -1, false
		ok := members(b, i, func(key []byte, vs int) bool {
			switch m := keyMatch(key, t.nameB); {
			case m == matchExact && found < 0:
				found = vs
			case m != matchNone:
				dup = true
			}
			return true
		})
		switch {
		case !ok:
			return problemMissing
		case dup && found >= 0:
			return problemDuplicate
		case dup:
			return problemFold
		case found < 0:
			return problemMissing
		}
		return walk(b, found, toks[1:], appendToken(path, t.name), visit)
	case '[':
		if !t.wild && t.index < 0 {
			return problemMissing
		}
		problem, reached := "", false
		ok := elements(b, i, func(n, vs int) bool {
			if !t.wild && n != t.index {
				return n < t.index
			}
			reached = true
			p := walk(b, vs, toks[1:], strconv.AppendInt(append(path, '/'), int64(n), 10), visit)
			if p != "" && (p != problemMissing || !t.wild) {
				problem = p
				return false
			}
			return t.wild
		})
		switch {
		case !ok:
			return problemMissing
		case !t.wild && !reached:
			return problemMissing
		}
		return problem
	}
	return problemMissing
}

// members calls fn with the raw key (between the quotes) and the value's
// offset of each member of the object at b[i], in order, until fn returns
// false. It reports false for malformed input.
func members(b []byte, i int, fn func(key []byte, vs int) bool) bool {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		ke := stringEnd(b, i)
		if ke < 0 {
			return false
		}
		key := b[i+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		vs := skipWS(b, i+1)
		if i = valueEnd(b, vs); i < 0 {
			return false
		}
		if !fn(key, vs) {
			return true
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ',' {
			return i < len(b) && b[i] == '}'
		}
		i = skipWS(b, i+1)
	}
}

// elements calls fn with the index and offset of each element of the array
// at b[i], in order, until fn returns false. It reports false for malformed
// input.
func elements(b []byte, i int, fn func(n, vs int) bool) bool {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return true
	}
	for n := 0; ; n++ {
		vs := i
		if i = valueEnd(b, vs); i < 0 {
			return false
		}
		if !fn(n, vs) {
			return true
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ',' {
			return i < len(b) && b[i] == ']'
		}
		i = skipWS(b, i+1)
	}
}

// WithTexts returns a copy of body with each text of texts that names a
// body Path (as ExtractAll returned it) replaced by its Text, the masked
// form; query texts (IsQuery) are skipped, see QueryWithTexts. Texts of
// body not in texts, and every other byte, are kept as they are. Text is
// encoded as a JSON string; invalid UTF-8 in it becomes U+FFFD per bad
// byte. A Path that body does not have is a *FieldError ("missing"); the
// same body checks as ExtractAll apply. WithTexts is safe for concurrent
// use.
func (r *Compiled) WithTexts(body []byte, texts []Text) ([]byte, error) {
	return r.AppendWithTexts(nil, body, texts)
}

// AppendWithTexts is WithTexts appending the new body to dst. dst must not
// overlap body.
func (r *Compiled) AppendWithTexts(dst, body []byte, texts []Text) ([]byte, error) {
	if fastjson.ValidateBytes(body) != nil {
		return dst, ErrInvalidJSON
	}
	if _, err := r.extractMessage(body); err != nil {
		return dst, err
	}
	spans, err := r.textSpans(body)
	if err != nil {
		return dst, err
	}
	repl := make([]int, len(spans)) // index into texts + 1; 0: keep
	for ti, t := range texts {
		if t.IsQuery() {
			continue
		}
		si := slices.IndexFunc(spans, func(s span) bool { return s.path == t.Path })
		if si < 0 {
			return dst, &FieldError{Pointer: t.Pointer, Problem: problemMissing}
		}
		repl[si] = ti + 1
	}
	order := make([]int, len(spans))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return spans[a].start - spans[b].start })
	if dst == nil {
		dst = make([]byte, 0, len(body)+64)
	}
	last := 0
	for _, si := range order {
		if repl[si] == 0 {
			continue
		}
		sp := spans[si]
		dst = append(dst, body[last:sp.start]...)
		dst = jsonstr.Append(dst, texts[repl[si]-1].Text)
		last = sp.end
	}
	return append(dst, body[last:]...), nil
}
