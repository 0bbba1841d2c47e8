package jsonkeys

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	for _, tc := range []struct {
		name, body, path string // path "" means no error
	}{
		{"plain", `{"text":"您好","role":"agent","context":[{"text":"a"},{"text":"b"}]}`, ""},
		{"same key in sibling objects", `{"a":{"text":1},"b":{"text":2}}`, ""},
		{"exact duplicate", `{"text":"ok","text":"加我微信 abc123"}`, "/text"},
		{"case-folded duplicate", `{"text":"ok","TEXT":"加我微信 abc123"}`, "/TEXT"},
		{"Kelvin sign folds to k", `{"kind":1,"\u212aind":2}`, "/\u212aind"},
		{"escaped duplicate", `{"text":"ok","\u0074ext":"x"}`, "/text"},
		{"nested in an array", `{"context":[{"text":"a"},{"text":"b","Text":"c"}]}`, "/context/1/Text"},
		{"many keys, map path", `{` + strings.Join(many, ",") + `,"K39":0}`, "/K39"},
		{"many keys, no duplicate", `{` + strings.Join(many, ",") + `}`, ""},
		{"invalid JSON is the decoder's business", `{"text":`, ""},
		{"pointer escapes in the path", `{"a/b":{"x":1,"X":2}}`, "/a~1b/X"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.body))
			if tc.path == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrDuplicate) {
				t.Fatalf("Check = %v, want ErrDuplicate", err)
			}
			if want := tc.path + ": duplicate key"; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"text":"ok","TEXT":"x"}`))
	f.Add([]byte(`[{"a":[{"b":1,"B":2}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = Check(b) // never panics
	})
}
