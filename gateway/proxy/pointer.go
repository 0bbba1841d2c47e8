package proxy

import (
	"errors"
	"strings"
)

// pointer is a parsed JSON Pointer (RFC 6901).
type pointer struct {
	raw  string     // as configured, for error messages
	toks []ptrToken // reference tokens, unescaped
}

// ptrToken is one reference token of a pointer.
type ptrToken struct {
	name  string // unescaped member name (~1 → /, ~0 → ~)
	nameB []byte // name as bytes, so matching a key allocates nothing
	index int    // array index the token denotes, or -1 if it is not one
	wild  bool   // "*" in a text pointer: every element or member
}

// maxIndex bounds array indexes so that parsing cannot overflow.
const maxIndex = 1<<31 - 1

// parsePointer parses s per RFC 6901 section 3. The empty string is the
// whole document; otherwise s starts with "/", and "~" is only allowed as
// "~0" or "~1".
func parsePointer(s string) (pointer, error) {
	p := pointer{raw: s}
	if s == "" {
		return p, nil
	}
	if s[0] != '/' {
		return p, errors.New(`JSON pointer must start with "/"`)
	}
	for part := range strings.SplitSeq(s[1:], "/") {
		for i := 0; i < len(part); i++ {
			if part[i] == '~' && (i+1 == len(part) || (part[i+1] != '0' && part[i+1] != '1')) {
				return p, errors.New(`JSON pointer has "~" not followed by 0 or 1`)
			}
		}
		// RFC 6901 section 4: first ~1 to /, then ~0 to ~, so "~01" is "~1".
		name := strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		p.toks = append(p.toks, ptrToken{name: name, nameB: []byte(name), index: arrayIndex(name)})
	}
	return p, nil
}

// parseTextPointer parses s like parsePointer, but a reference token that
// is exactly "*" is a wildcard over array elements and object members
// (Route.Texts).
func parseTextPointer(s string) (pointer, error) {
	p, err := parsePointer(s)
	if err != nil {
		return p, err
	}
	for i := range p.toks {
		if p.toks[i].name == "*" {
			p.toks[i].wild = true
		}
	}
	return p, nil
}

// appendToken appends "/" and name escaped per RFC 6901 to path.
func appendToken(path []byte, name string) []byte {
	path = append(path, '/')
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '~':
			path = append(path, '~', '0')
		case '/':
			path = append(path, '~', '1')
		default:
			path = append(path, c)
		}
	}
	return path
}

// arrayIndex returns the array index name denotes per RFC 6901 section 4
// ("0", or digits without a leading zero), or -1. "-" (past the end) never
// names an existing element, so it is -1 too.
func arrayIndex(name string) int {
	if name == "" || len(name) > 10 || (name[0] == '0' && len(name) > 1) {
		return -1
	}
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	if n > maxIndex {
		return -1
	}
	return n
}
