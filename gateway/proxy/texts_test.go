package proxy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// chatRoute is a route like a real chat backend's send API: the draft,
// its HTML rendering and attachment captions, and a quoted message.
var chatRoute = Route{
	Text:  "/message/text",
	Texts: []string{"/message/html", "/attachments/*/caption", "/quote/*"},
	Role:  "/role",
}

func TestExtractAll(t *testing.T) {
	tests := []struct {
		name    string
		route   Route
		body    string
		want    []Text
		wantErr string // substring; "" means success
	}{
		{"draft only", chatRoute, `{"message":{"text":"您好"}}`,
			[]Text{{"/message/text", "/message/text", "您好"}}, ""},
		{"html sibling and captions", chatRoute,
			`{"message":{"text":"稍等","html":"<b>加我微信 wxid_abc123</b>"},` +
				`"attachments":[{"url":"a.png","caption":"手机 13812345678"},{"url":"b.png"},{"caption":null},{"caption":"第三"}]}`,
			[]Text{
				{"/message/text", "/message/text", "稍等"},
				{"/message/html", "/message/html", "<b>加我微信 wxid_abc123</b>"},
				{"/attachments/*/caption", "/attachments/0/caption", "手机 13812345678"},
				{"/attachments/*/caption", "/attachments/3/caption", "第三"},
			}, ""},
		{"wildcard over object members", chatRoute,
			`{"message":{"text":"t"},"quote":{"body":"引用 138 1234 5678","a/b~":"x"}}`,
			[]Text{
				{"/message/text", "/message/text", "t"},
				{"/quote/*", "/quote/body", "引用 138 1234 5678"},
				{"/quote/*", "/quote/a~1b~0", "x"},
			}, ""},
		{"wildcard over empty and absent containers", chatRoute,
			`{"message":{"text":"t"},"attachments":[],"quote":{}}`,
			[]Text{{"/message/text", "/message/text", "t"}}, ""},
		{"wildcard over a scalar is no text", chatRoute,
			`{"message":{"text":"t"},"attachments":"none"}`,
			[]Text{{"/message/text", "/message/text", "t"}}, ""},
		{"a string two pointers reach is returned once", Route{Text: "/m/text", Texts: []string{"/m/*"}},
			`{"m":{"text":"a","html":"b"}}`,
			[]Text{{"/m/text", "/m/text", "a"}, {"/m/*", "/m/html", "b"}}, ""},
		{"nested wildcards", Route{Text: "/t", Texts: []string{"/cards/*/buttons/*/label"}},
			`{"t":"x","cards":[{"buttons":[{"label":"l00"},{"label":"l01"}]},{"buttons":[{"label":"l10"}]}]}`,
			[]Text{{"/t", "/t", "x"}, {"/cards/*/buttons/*/label", "/cards/0/buttons/0/label", "l00"},
				{"/cards/*/buttons/*/label", "/cards/0/buttons/1/label", "l01"}, {"/cards/*/buttons/*/label", "/cards/1/buttons/0/label", "l10"}}, ""},

		{"html not a string", chatRoute, `{"message":{"text":"t","html":{"p":"加我微信"}}}`, nil,
			"field /message/html: not a string"},
		{"caption not a string", chatRoute, `{"message":{"text":"t"},"attachments":[{"caption":["加我微信"]}]}`, nil,
			"field /attachments/*/caption: not a string"},
		{"quote member a number", chatRoute, `{"message":{"text":"t"},"quote":{"a":1}}`, nil,
			"field /quote/*: not a string"},
		{"duplicate html key", chatRoute, `{"message":{"text":"t","html":"ok","html":"加我微信"}}`, nil,
			"field /message/html: duplicate key"},
		{"html only in another case", chatRoute, `{"message":{"text":"t","HTML":"加我微信"}}`, nil,
			"field /message/html: key differs only in case"},
		{"duplicate attachments array", chatRoute,
			`{"message":{"text":"t"},"attachments":[],"attachments":[{"caption":"加我微信"}]}`, nil,
			"field /attachments/*/caption: duplicate key"},
		{"duplicate caption in one element", chatRoute,
			`{"message":{"text":"t"},"attachments":[{"caption":"a","Caption":"加我微信"}]}`, nil,
			"field /attachments/*/caption: duplicate key"},
		{"duplicate member under an object wildcard", chatRoute,
			`{"message":{"text":"t"},"quote":{"body":"a","Body":"加我微信"}}`, nil,
			"field /quote/*: duplicate key"},
		{"optional role only in another case", Route{Text: "/text", Role: "/role"}, `{"text":"t","Role":"customer"}`, nil,
			"field /role: key differs only in case"},
		{"draft still required", chatRoute, `{"message":{"html":"x"}}`, nil, "field /message/text: missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRoute(t, tc.route)
			m, got, err := r.ExtractAll([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				var fe *FieldError
				if !errors.Is(err, ErrBadBody) || !errors.As(err, &fe) {
					t.Errorf("err %v is not a *FieldError wrapping ErrBadBody", err)
				}
				if strings.Contains(err.Error(), "加我微信") {
					t.Errorf("error quotes the body: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ExtractAll: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("texts = %q\nwant    %q", got, tc.want)
			}
			if m.Text != tc.want[0].Text {
				t.Errorf("Message.Text = %q, want the draft %q", m.Text, tc.want[0].Text)
			}
			if old, err := r.Extract([]byte(tc.body)); err != nil || old != m {
				t.Errorf("Extract = %+v, %v; want ExtractAll's %+v", old, err, m)
			}
		})
	}
}

func TestWithTexts(t *testing.T) {
	r := mustRoute(t, chatRoute)
	body := `{ "message" : {"text":"手机 13812345678","html":"<p>手机 13812345678</p>"}, "n": 1.50,` +
		` "attachments":[{"caption":"\u624b\u673a 13812345678"},{"caption":"ok"}] }`
	_, texts, err := r.ExtractAll([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(texts) != 4 {
		t.Fatalf("texts = %q", texts)
	}
	for i := range texts {
		texts[i].Text = strings.ReplaceAll(texts[i].Text, "1234", "****")
	}
	texts = append(texts, Text{Pointer: "?q", Path: "?q", Text: "ignored"})
	out, err := r.WithTexts([]byte(body), texts)
	if err != nil {
		t.Fatal(err)
	}
	want := `{ "message" : {"text":"手机 138****5678","html":"<p>手机 138****5678</p>"}, "n": 1.50,` +
		` "attachments":[{"caption":"手机 138****5678"},{"caption":"ok"}] }`
	if string(out) != want {
		t.Errorf("WithTexts =\n%s\nwant\n%s", out, want)
	}

	// Only the texts passed are replaced.
	out, err = r.WithTexts([]byte(body), []Text{{Pointer: "/attachments/*/caption", Path: "/attachments/1/caption", Text: "OK"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `{"caption":"OK"}`) || !strings.Contains(string(out), `"text":"手机 13812345678"`) {
		t.Errorf("WithTexts one text = %s", out)
	}

	for _, tc := range []struct {
		name, body string
		texts      []Text
		want       string
	}{
		{"path not in body", body, []Text{{Pointer: "/attachments/*/caption", Path: "/attachments/7/caption"}}, "missing"},
		{"invalid JSON", `{"message":`, nil, "not valid JSON"},
		{"body fails the checks", `{"message":{"text":"a","html":1}}`, nil, "not a string"},
	} {
		if _, err := r.WithTexts([]byte(tc.body), tc.texts); err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBadBody) {
			t.Errorf("%s: err = %v, want %q wrapping ErrBadBody", tc.name, err, tc.want)
		}
	}
}

func TestTextLogValueMasksText(t *testing.T) {
	got := Text{Pointer: "/quote/*", Path: "/quote/13812345678", Text: "SECRET"}.LogValue().String()
	if strings.Contains(got, "SECRET") || strings.Contains(got, "13812345678") || !strings.Contains(got, "text_bytes=6") {
		t.Errorf("LogValue = %s", got)
	}
}
