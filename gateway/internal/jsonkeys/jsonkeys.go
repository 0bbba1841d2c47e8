// Package jsonkeys refuses JSON objects that name a key twice.
//
// encoding/json keeps the last of duplicate keys and matches keys to struct
// fields case-insensitively, so {"text":"ok","TEXT":"加我微信"} decodes to
// the second text while a reader that keeps the first, or matches case
// exactly, sees the first. A gateway that inspects one value while another
// component acts on the other is bypassed; refusing such bodies outright
// closes that gap wherever the gateway reads JSON.
package jsonkeys

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// ErrDuplicate is wrapped by the error Check returns for a duplicate key.
var ErrDuplicate = errors.New("duplicate key")

// manyKeys is the object size past which keys are compared through a map
// rather than pairwise.
const manyKeys = 16

// Check returns an error wrapping ErrDuplicate when an object anywhere in
// b names a key twice, exactly or but for case (Unicode simple folding, as
// encoding/json matches field names). The error names the key's path as a
// JSON pointer, e.g. "/context/2/text", never a value. b that is not valid
// JSON is reported by the caller's decoder, not here: Check returns nil for
// it. Check is safe for concurrent use.
func Check(b []byte) error {
	var p fastjson.Parser
	v, err := p.ParseBytes(b)
	if err != nil {
		return nil
	}
	if err := check(v); err != nil {
		return err
	}
	return nil
}

// duplicate is the error of a duplicate key. Its path is built as check
// returns, from the key up to the root (parts in reverse), so a body
// without duplicates, the common case, builds no path at all.
type duplicate struct {
	parts []string // the pointer's segments, innermost first, escaped
}

func (d *duplicate) Error() string {
	var b strings.Builder
	for i := len(d.parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(d.parts[i])
	}
	b.WriteString(": ")
	b.WriteString(ErrDuplicate.Error())
	return b.String()
}

func (d *duplicate) Unwrap() error { return ErrDuplicate }

// within adds the segment of the value err was found in.
func within(err error, segment string) error {
	if d, ok := err.(*duplicate); ok {
		d.parts = append(d.parts, segment)
	}
	return err
}

func check(v *fastjson.Value) error {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		var (
			err   error
			keys  []string
			folds map[string]bool
		)
		if o.Len() > manyKeys {
			folds = make(map[string]bool, o.Len())
		}
		o.Visit(func(k []byte, child *fastjson.Value) {
			if err != nil {
				return
			}
			key := string(k)
			if folds != nil {
				f := fold(key)
				if folds[f] {
					err = &duplicate{parts: []string{escape(key)}}
					return
				}
				folds[f] = true
			} else {
				for _, seen := range keys {
					if strings.EqualFold(seen, key) {
						err = &duplicate{parts: []string{escape(key)}}
						return
					}
				}
				keys = append(keys, key)
			}
			if e := check(child); e != nil {
				err = within(e, escape(key))
			}
		})
		return err
	case fastjson.TypeArray:
		a, _ := v.Array()
		for i, child := range a {
			if err := check(child); err != nil {
				return within(err, strconv.Itoa(i))
			}
		}
	}
	return nil
}

// fold maps s to a form equal for every s' with strings.EqualFold(s, s').
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune returns the smallest rune of r's simple case-folding orbit, a
// canonical representative.
func foldRune(r rune) rune {
	if r == utf8.RuneError {
		return r
	}
	min := r
	for f := simpleFold(r); f != r; f = simpleFold(f) {
		if f < min {
			min = f
		}
	}
	return min
}

// pointerEscaper escapes a key as a JSON pointer token (RFC 6901). A
// Replacer is safe for concurrent use and never changes once built.
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// escape writes key as a JSON pointer token (RFC 6901), shortened so that
// an error stays one readable line.
func escape(key string) string {
	key = pointerEscaper.Replace(key)
	if len(key) > 64 {
		key = key[:64] + "…"
	}
	return key
}

func simpleFold(r rune) rune { return unicode.SimpleFold(r) }
