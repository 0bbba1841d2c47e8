package jsonstr

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// TestAppendDecodesAsEncodingJSON: what Append writes decodes to the same
// string as encoding/json's encoding of it, invalid UTF-8 included.
func TestAppendDecodesAsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\`, "\x00\x1f\x7f", "\n\r\t", "\u2028\u2029", "bad\xffutf8\xc3", "<>&", "中文😀", "\xed\xa0\x80"} {
		checkAppend(t, s)
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("中文\x00\"\\\u2028\xff")
	f.Fuzz(checkAppend)
}

func checkAppend(t *testing.T, s string) {
	got := Append([]byte("x"), s)[1:]
	if !json.Valid(got) || !utf8.Valid(got) {
		t.Fatalf("Append(%q) = %q: not valid JSON", s, got)
	}
	want, _ := json.Marshal(s)
	var a, b string
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	_ = json.Unmarshal(want, &b)
	if a != b {
		t.Errorf("%q: decodes to %q, encoding/json's to %q", s, a, b)
	}
}
