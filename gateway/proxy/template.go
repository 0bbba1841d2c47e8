package proxy

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Path parameters a route path template gives meaning to; other names match
// any one segment and are forwarded as they came.
const (
	// ParamConversation is "{conversation_id}": the segment is the
	// message's conversation id, as chat backends put it in the path
	// (POST /conversations/{conversation_id}/messages).
	ParamConversation = "conversation_id"
	// ParamAgent is "{agent_id}": the segment is the agent id the client
	// claims (a credential that pins an agent overrides it).
	ParamAgent = "agent_id"
)

// maxParamBytes bounds one path parameter's value.
const maxParamBytes = 256

// template is a route path with "{name}" segments, each matching exactly
// one non-empty segment of the request's normalized path.
type template struct {
	segs         []tmplSeg
	conversation int // index in segs of {conversation_id}, or -1
	agent        int // index in segs of {agent_id}, or -1
}

type tmplSeg struct {
	lit   string // the literal segment, when param is empty
	param string // the parameter's name
}

// parseTemplate parses a clean route path; ok is false for a path without
// parameters (an exact route). A "{" or "}" is allowed only as a whole
// "{name}" segment, name being lower-case letters, digits and "_", each
// name at most once.
func parseTemplate(path string) (t *template, ok bool, err error) {
	if !strings.ContainsAny(path, "{}") {
		return nil, false, nil
	}
	t = &template{conversation: -1, agent: -1}
	seen := map[string]bool{}
	for seg := range strings.SplitSeq(path[1:], "/") {
		if !strings.ContainsAny(seg, "{}") {
			t.segs = append(t.segs, tmplSeg{lit: seg})
			continue
		}
		name, isParam := strings.CutPrefix(seg, "{")
		name, closed := strings.CutSuffix(name, "}")
		if !isParam || !closed || !isParamName(name) {
			return nil, false, fmt.Errorf(`.path: segment %q: a parameter is a whole segment "{name}", name of a-z, 0-9 and _`, seg)
		}
		if seen[name] {
			return nil, false, fmt.Errorf(".path: parameter {%s} twice", name)
		}
		seen[name] = true
		switch name {
		case ParamConversation:
			t.conversation = len(t.segs)
		case ParamAgent:
			t.agent = len(t.segs)
		}
		t.segs = append(t.segs, tmplSeg{param: name})
	}
	return t, true, nil
}

func isParamName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// shape is the template with its parameter names blanked: two templates of
// one method with the same shape would match the same requests.
func (t *template) shape() string {
	var b strings.Builder
	for _, s := range t.segs {
		b.WriteByte('/')
		if s.param != "" {
			b.WriteString("{}")
		} else {
			b.WriteString(s.lit)
		}
	}
	return b.String()
}

// match reports whether path (normalized, starting with "/") fits the
// template. It allocates nothing.
func (t *template) match(path []byte) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	rest := path[1:]
	for i, s := range t.segs {
		j := bytes.IndexByte(rest, '/')
		if last := i == len(t.segs)-1; (j >= 0) == last {
			return false // the path has a segment more, or fewer
		}
		seg := rest
		if j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		}
		if s.param == "" {
			if string(seg) != s.lit {
				return false
			}
		} else if len(seg) == 0 {
			return false
		}
	}
	return true
}

// segment returns the i-th segment of path, which matches the template.
func segment(path []byte, i int) []byte {
	rest := path[1:]
	for ; i > 0; i-- {
		rest = rest[bytes.IndexByte(rest, '/')+1:]
	}
	if j := bytes.IndexByte(rest, '/'); j >= 0 {
		return rest[:j]
	}
	return rest
}

// param returns the value of the parameter at index i of path, checked: at
// most maxParamBytes of valid UTF-8 without control characters. name is
// the parameter, for the error.
func (t *template) param(path []byte, i int) (string, error) {
	if i < 0 {
		return "", nil
	}
	v := segment(path, i)
	bad := len(v) > maxParamBytes || !utf8.Valid(v)
	for _, r := range string(v) {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			bad = true
		}
	}
	if bad {
		return "", &FieldError{Pointer: "path {" + t.segs[i].param + "}", Problem: fmt.Sprintf("not an id (at most %d bytes of UTF-8 text)", maxParamBytes)}
	}
	return string(v), nil
}

// appendPath appends the upstream path for a request path that matches the
// template: literal segments as configured, each parameter's decoded
// segment escaped again, so that what the upstream decodes is what was
// matched and inspected.
func (t *template) appendPath(dst, path []byte) []byte {
	for i, s := range t.segs {
		dst = append(dst, '/')
		if s.param == "" {
			dst = append(dst, s.lit...)
		} else {
			dst = append(dst, url.PathEscape(string(segment(path, i)))...)
		}
	}
	return dst
}
