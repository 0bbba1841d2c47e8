package proxy

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func mustRoute(t testing.TB, rt Route) *Compiled {
	t.Helper()
	return mustRouteOpts(t, rt, Options{})
}

// mustRouteOpts compiles rt alone with opts and returns it.
func mustRouteOpts(t testing.TB, rt Route, opts Options) *Compiled {
	t.Helper()
	if rt.Path == "" {
		rt.Path = "/api/messages/send"
	}
	if rt.Upstream == "" {
		rt.Upstream = "http://127.0.0.1:1"
	}
	p, err := NewWithOptions([]Route{rt}, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c := p.Match([]byte(p.onlyMethod()), []byte(rt.Path))
	if c == nil {
		t.Fatal("route not matched")
	}
	return c
}

// onlyMethod returns the method of a single-route proxy (tests only).
func (p *Proxy) onlyMethod() string {
	for m := range p.routes {
		return m
	}
	return ""
}

func TestExtract(t *testing.T) {
	full := Route{Text: "/message/text", Conversation: "/conversation_id", Agent: "/agent/id", Role: "/role"}
	tests := []struct {
		name    string
		route   Route
		body    string
		want    Message
		wantErr string // substring; "" means success
	}{
		{"nested", full,
			`{"conversation_id":"c-1","agent":{"id":"a-7"},"role":"agent","message":{"text":"您好, hello"}}`,
			Message{Text: "您好, hello", ConversationID: "c-1", AgentID: "a-7", Role: "agent"}, ""},
		{"whitespace everywhere", full,
			" \n{ \"message\" :\t{ \"text\" : \"hi\" } , \"role\" : \"agent\" }\r\n",
			Message{Text: "hi", Role: "agent"}, ""},
		{"escapes in text", Route{Text: "/text"},
			`{"text":"line1\nline2 \u4f60\u597d \"q\" \\ \/ \t \ud83d\ude00"}`,
			Message{Text: "line1\nline2 你好 \"q\" \\ / \t 😀"}, ""},
		{"lone surrogate becomes U+FFFD", Route{Text: "/text"},
			`{"text":"a\ud800b\udc00"}`, Message{Text: "a\ufffdb\ufffd"}, ""},
		{"escaped pointer tokens", Route{Text: "/a~1b/m~0n/~01"},
			`{"a/b":{"m~n":{"~1":"deep"}}}`, Message{Text: "deep"}, ""},
		{"array index", Route{Text: "/messages/1/text"},
			`{"messages":[{"text":"zero"},{"text":"one"},{"text":"two"}]}`, Message{Text: "one"}, ""},
		{"array index 0 and nested arrays", Route{Text: "/m/0/0"},
			`{"m":[["x",[1,2]],"y"]}`, Message{Text: "x"}, ""},
		{"key that looks like an index", Route{Text: "/m/0"},
			`{"m":{"0":"obj"}}`, Message{Text: "obj"}, ""},
		{"escaped key matches", Route{Text: "/text"},
			`{"t\u0065xt":"esc"}`, Message{Text: "esc"}, ""},
		{"siblings with tricky strings skipped", Route{Text: "/b"},
			`{"a":"}]\",{[","x":[{"y":"]"}],"n":-1.5e3,"t":true,"z":null,"b":"ok"}`, Message{Text: "ok"}, ""},
		{"numeric ids", full,
			`{"conversation_id":12345,"agent":{"id":-7},"message":{"text":"t"}}`,
			Message{Text: "t", ConversationID: "12345", AgentID: "-7"}, ""},
		{"null optional fields", full,
			`{"conversation_id":null,"agent":null,"role":null,"message":{"text":"t"}}`,
			Message{Text: "t"}, ""},
		{"optional fields missing", full, `{"message":{"text":""}}`, Message{}, ""},

		{"invalid JSON", full, `{"message":{"text":"t"}`, Message{}, "not valid JSON"},
		{"trailing garbage", full, `{"message":{"text":"t"}} x`, Message{}, "not valid JSON"},
		{"empty body", full, ``, Message{}, "not valid JSON"},
		{"text missing", full, `{"message":{}}`, Message{}, "field /message/text: missing"},
		{"parent missing", full, `{}`, Message{}, "field /message/text: missing"},
		{"parent not an object", full, `{"message":"t"}`, Message{}, "field /message/text: missing"},
		{"text is a number", full, `{"message":{"text":1}}`, Message{}, "field /message/text: not a string"},
		{"text is null", full, `{"message":{"text":null}}`, Message{}, "field /message/text: not a string"},
		{"text is an object", full, `{"message":{"text":{"a":"b"}}}`, Message{}, "field /message/text: not a string"},
		{"index out of range", Route{Text: "/m/3"}, `{"m":["a","b"]}`, Message{}, "field /m/3: missing"},
		{"index with leading zero", Route{Text: "/m/01"}, `{"m":["a","b"]}`, Message{}, "field /m/01: missing"},
		{"dash index", Route{Text: "/m/-"}, `{"m":["a"]}`, Message{}, "field /m/-: missing"},
		{"duplicate text key", Route{Text: "/text"}, `{"text":"benign","text":"evil"}`, Message{}, "field /text: duplicate key"},
		{"duplicate key but for case", Route{Text: "/text"}, `{"text":"benign","TEXT":"evil"}`, Message{}, "field /text: duplicate key"},
		{"duplicate escaped key", Route{Text: "/text"}, `{"text":"benign","\u0074ext":"evil"}`, Message{}, "field /text: duplicate key"},
		{"duplicate parent", Route{Text: "/m/text"}, `{"m":{"text":"a"},"m":{"text":"b"}}`, Message{}, "field /m/text: duplicate key"},
		{"only a case variant", Route{Text: "/text"}, `{"Text":"x"}`, Message{}, "field /text: missing"},
		{"role wrong type", full, `{"role":1,"message":{"text":"t"}}`, Message{}, "field /role: not a string"},
		{"conversation is an object", full, `{"conversation_id":{},"message":{"text":"t"}}`, Message{}, "field /conversation_id: not a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRoute(t, tc.route)
			got, err := r.Extract([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrBadBody) {
					t.Errorf("err %v does not wrap ErrBadBody", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestExtractErrorsHideBody(t *testing.T) {
	r := mustRoute(t, Route{Text: "/text"})
	for _, body := range []string{`{"text":"SECRET-1" x`, `{"SECRET-2":1}`, `{"text":["SECRET-3"]}`} {
		_, err := r.Extract([]byte(body))
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Extract(%q) error = %v: want an error without body bytes", body, err)
		}
	}
}

func TestExtractCopiesStrings(t *testing.T) {
	r := mustRoute(t, Route{Text: "/text", Role: "/role"})
	body := []byte(`{"text":"hello","role":"agent"}`)
	m, err := r.Extract(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if m.Text != "hello" || m.Role != "agent" {
		t.Errorf("strings alias the body: %+v", m)
	}
}

func TestWithText(t *testing.T) {
	tests := []struct {
		name string
		ptr  string
		body string
		text string
		want string
	}{
		{"keeps everything else byte for byte", "/message/text",
			`{ "z":1.50, "message" : {"id":"m\u0031", "text" : "call 13800138000", "x":[1, 2]}, "a":"\u4f60" }`,
			"call ***********",
			`{ "z":1.50, "message" : {"id":"m\u0031", "text" : "call ***********", "x":[1, 2]}, "a":"\u4f60" }`},
		{"escapes the new text", "/t", `{"t":"x"}`, "a\"b\\c\nd\te\x01\u2028你好",
			`{"t":"a\"b\\c\nd\te\u0001\u2028你好"}`},
		{"old text had escapes", "/t", `{"t":"\u4f60\n\"","u":2}`, "ok", `{"t":"ok","u":2}`},
		{"array element", "/m/1/text", `[0]`, "", ""}, // placeholder replaced below
		{"empty text", "/t", `{"t":"abc"}`, "", `{"t":""}`},
		{"invalid UTF-8 replaced", "/t", `{"t":"abc"}`, "a\xffb", `{"t":"a\ufffdb"}`},
	}
	tests[3].body = `{"m":[{"text":"a"},{"text":"b","k":"v"}]}`
	tests[3].text = "B"
	tests[3].want = `{"m":[{"text":"a"},{"text":"B","k":"v"}]}`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRoute(t, Route{Text: tc.ptr})
			got, err := r.WithText([]byte(tc.body), tc.text)
			if err != nil {
				t.Fatalf("WithText: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
			m, err := r.Extract(got)
			if err != nil {
				t.Fatalf("Extract after WithText: %v", err)
			}
			if want := validUTF8(tc.text); m.Text != want {
				t.Errorf("round trip text = %q, want %q", m.Text, want)
			}
			var std any // encoding/json agrees on the replaced value
			if err := json.Unmarshal(got, &std); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWithTextErrors(t *testing.T) {
	r := mustRoute(t, Route{Text: "/text"})
	for body, want := range map[string]string{
		`{"text":1}`:              "field /text: not a string",
		`{}`:                      "field /text: missing",
		`{"text":"a"`:             "body is not valid JSON",
		`{"text":"a","Text":"b"}`: "field /text: duplicate key",
	} {
		_, err := r.WithText([]byte(body), "x")
		if err == nil || err.Error() != want || !errors.Is(err, ErrBadBody) {
			t.Errorf("WithText(%s) err = %v, want %q", body, err, want)
		}
	}
}

func TestAppendWithTextReusesBuffer(t *testing.T) {
	r := mustRoute(t, Route{Text: "/text"})
	body := []byte(`{"text":"hello","k":1}`)
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = r.AppendWithText(buf[:0], body, "*****"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendWithText allocs = %v, want 0", allocs)
	}
	if string(buf) != `{"text":"*****","k":1}` {
		t.Errorf("got %s", buf)
	}
}

// validUTF8 replaces each invalid byte by U+FFFD, as jsonstr.Append does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		`{"message":{"text":"hi"},"conversation_id":"c","agent":{"id":1},"role":"agent"}`,
		`{"message":{"text":"\u4f60\n"}}`,
		`{"message":{"text":"a","text":"b"}}`,
		`{"message":[{"text":"x"}]}`,
		`{"message":{"Text":"a"}}`,
		`[1,{"a":"\"}"}]`,
		`{"message":{"text":"\ud800"}}`,
		`"x"`, `{`, ``,
	} {
		f.Add([]byte(s), "redacted ***")
	}
	for _, s := range []string{
		`{"message":{"text":"t","html":"<b>h</b>"},"attachments":[{"caption":"c"},{},{"caption":null}],"quote":{"a":"q","b":"r"}}`,
		`{"message":{"text":"t"},"attachments":{"x":{"caption":"c"}},"quote":{"a":"1","A":"2"}}`,
		`{"message":{"text":"t","HTML":"h"},"attachments":[{"caption":1}]}`,
	} {
		f.Add([]byte(s), "手机 138****5678")
	}
	r := mustRoute(f, Route{Text: "/message/text", Conversation: "/conversation_id", Agent: "/agent/id", Role: "/role"})
	all := mustRoute(f, Route{Text: "/message/text", Texts: []string{"/message/html", "/attachments/*/caption", "/quote/*", "/message/*"}, Role: "/role"})
	f.Fuzz(func(t *testing.T, body []byte, x string) {
		fuzzExtractAll(t, all, body, x)
		m, err := r.Extract(body)
		if err != nil {
			if !errors.Is(err, ErrBadBody) {
				t.Fatalf("error %v does not wrap ErrBadBody", err)
			}
			var fe *FieldError
			textErr := !errors.As(err, &fe) || fe.Pointer == "/message/text"
			if _, werr := r.WithText(body, x); textErr && werr == nil {
				t.Fatalf("Extract failed (%v) but WithText succeeded", err)
			}
			return
		}
		out, err := r.WithText(body, x)
		if err != nil {
			t.Fatalf("Extract succeeded but WithText failed: %v", err)
		}
		if json.Valid(body) && !json.Valid(out) {
			t.Fatalf("WithText produced invalid JSON: %q", out)
		}
		m2, err := r.Extract(out)
		if err != nil {
			t.Fatalf("Extract after WithText: %v", err)
		}
		want := m
		want.Text = validUTF8(x)
		if m2 != want {
			t.Fatalf("after WithText got %+v, want %+v", m2, want)
		}
	})
}

// fuzzExtractAll checks ExtractAll and WithTexts on one input: errors wrap
// ErrBadBody; WithTexts with the texts unchanged gives an equivalent body;
// with every text replaced by x, ExtractAll finds x at every path.
func fuzzExtractAll(t *testing.T, r *Compiled, body []byte, x string) {
	m, texts, err := r.ExtractAll(body)
	if err != nil {
		if !errors.Is(err, ErrBadBody) {
			t.Fatalf("ExtractAll error %v does not wrap ErrBadBody", err)
		}
		if _, werr := r.WithTexts(body, nil); werr == nil {
			t.Fatalf("ExtractAll failed (%v) but WithTexts succeeded", err)
		}
		return
	}
	if len(texts) == 0 || texts[0].Text != m.Text || texts[0].Path != "/message/text" {
		t.Fatalf("first text %q is not the draft %q", texts, m.Text)
	}
	same, err := r.WithTexts(body, texts)
	if err != nil {
		t.Fatalf("WithTexts(unchanged texts): %v", err)
	}
	var a, b any
	if err := json.Unmarshal(body, &a); err != nil {
		return // valid for fastjson, not for encoding/json (e.g. deep nesting)
	}
	if err := json.Unmarshal(same, &b); err != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("WithTexts(unchanged texts) = %q, not equivalent to %q (%v)", same, body, err)
	}
	masked := slices.Clone(texts)
	for i := range masked {
		masked[i].Text = x
	}
	out, err := r.WithTexts(body, masked)
	if err != nil {
		t.Fatalf("WithTexts(masked): %v", err)
	}
	if !json.Valid(out) {
		t.Fatalf("WithTexts produced invalid JSON: %q", out)
	}
	_, got, err := r.ExtractAll(out)
	if err != nil {
		t.Fatalf("ExtractAll after WithTexts: %v", err)
	}
	if len(got) != len(texts) {
		t.Fatalf("after masking %d texts, got %d: %q", len(texts), len(got), got)
	}
	for i, g := range got {
		if g.Path != texts[i].Path || g.Text != validUTF8(x) {
			t.Fatalf("text %d after masking = %q at %s, want %q at %s", i, g.Text, g.Path, x, texts[i].Path)
		}
	}
}

func TestMessageLogValueMasksText(t *testing.T) {
	m := Message{Text: "SECRET draft", ConversationID: "c-1", AgentID: "a-1", Role: "agent"}
	got := m.LogValue().String()
	if strings.Contains(got, "SECRET") || !strings.Contains(got, "c-1") || !strings.Contains(got, "text_bytes=12") {
		t.Errorf("LogValue = %s", got)
	}
}
