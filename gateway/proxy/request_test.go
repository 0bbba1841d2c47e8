package proxy

import (
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestCheckHeaders(t *testing.T) {
	jsonRoute := Route{Text: "/text"}
	extRoute := Route{Text: "/text", ContentTypes: []string{"application/json", "application/vnd.chat+json"}}
	tests := []struct {
		name    string
		route   Route
		headers string // raw header lines
		body    string
		want    error // nil: accepted
	}{
		{"json", jsonRoute, "Content-Type: application/json", `{}`, nil},
		{"json utf-8", jsonRoute, "Content-Type: application/json; charset=utf-8", `{}`, nil},
		{"case and quoted charset", jsonRoute, `Content-Type: Application/JSON; Charset="UTF-8"`, `{}`, nil},
		{"declared +json type", extRoute, "Content-Type: application/vnd.chat+json", `{}`, nil},
		{"identity encoding", jsonRoute, "Content-Type: application/json\nContent-Encoding: identity", `{}`, nil},
		{"no type, empty body", jsonRoute, "", ``, nil},

		// curl -d sends JSON as a form; a form-decoding upstream reads
		// message[text]=... that the JSON parse never sees.
		{"form", jsonRoute, "Content-Type: application/x-www-form-urlencoded", `{"text":"x"}`, ErrUnsupportedMediaType},
		{"multipart", jsonRoute, "Content-Type: multipart/form-data; boundary=x", `{}`, ErrUnsupportedMediaType},
		{"text/plain", jsonRoute, "Content-Type: text/plain", `{}`, ErrUnsupportedMediaType},
		{"undeclared +json", jsonRoute, "Content-Type: application/vnd.chat+json", `{}`, ErrUnsupportedMediaType},
		{"gbk charset", jsonRoute, "Content-Type: application/json; charset=gbk", `{}`, ErrUnsupportedMediaType},
		{"utf-16 charset", jsonRoute, "Content-Type: application/json; charset=utf-16", `{}`, ErrUnsupportedMediaType},
		{"malformed", jsonRoute, "Content-Type: application/json; ;", `{}`, ErrUnsupportedMediaType},
		{"two types in one", jsonRoute, "Content-Type: application/json, text/html", `{}`, ErrUnsupportedMediaType},
		{"missing on a body", jsonRoute, "", `{"text":"x"}`, ErrUnsupportedMediaType},
		{"gzip", jsonRoute, "Content-Type: application/json\nContent-Encoding: gzip", `{}`, ErrUnsupportedEncoding},
		{"br uppercase", jsonRoute, "Content-Type: application/json\nContent-Encoding: BR", `{}`, ErrUnsupportedEncoding},
		{"identity then deflate", jsonRoute, "Content-Type: application/json\nContent-Encoding: identity, deflate", `{}`, ErrUnsupportedEncoding},
		{"second header", jsonRoute, "Content-Type: application/json\nContent-Encoding: identity\nContent-Encoding: gzip", `{}`, ErrUnsupportedEncoding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRoute(t, tc.route)
			req := &fasthttp.Request{}
			req.Header.SetMethod("POST")
			req.SetRequestURI("/api/messages/send")
			for line := range strings.SplitSeq(tc.headers, "\n") {
				if k, v, ok := strings.Cut(line, ": "); ok {
					req.Header.Add(k, v)
				}
			}
			req.SetBodyString(tc.body)
			err := r.CheckHeaders(&req.Header, len(req.Body()))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("CheckHeaders = %v, want %v", err, tc.want)
			}
			_, _, xerr := r.ExtractRequest(req)
			if tc.want != nil && !errors.Is(xerr, tc.want) {
				t.Errorf("ExtractRequest = %v, want %v", xerr, tc.want)
			}
		})
	}
}

func TestQueryTexts(t *testing.T) {
	withQuery := Route{Text: "/text", Query: []string{"q", "lang"}}
	tests := []struct {
		name  string
		route Route
		query string
		want  []Text
		ok    bool
	}{
		{"none", Route{Text: "/text"}, "", nil, true},
		{"declared", withQuery, "q=%E5%8A%A0%E6%88%91%E5%BE%AE%E4%BF%A1&lang=zh",
			[]Text{{"?q", "?q", "加我微信"}, {"?lang", "?lang", "zh"}}, true},
		{"plus is a space, empty pairs skipped", withQuery, "q=a+b&&lang", []Text{{"?q", "?q", "a b"}, {"?lang", "?lang", ""}}, true},

		{"any query on a route without Query", Route{Text: "/text"}, "x=1", nil, false},
		{"hidden draft in message[text]", withQuery, "message%5Btext%5D=%E5%8A%A0%E6%88%91%E5%BE%AE%E4%BF%A1", nil, false},
		{"undeclared beside declared", withQuery, "q=hi&text=evil", nil, false},
		{"case variant of a declared name", withQuery, "Q=evil", nil, false},
		{"twice", withQuery, "q=benign&q=evil", nil, false},
		{"twice, once encoded", withQuery, "q=benign&%71=evil", nil, false},
		{"semicolon separator", withQuery, "q=hi;text=evil", nil, false},
		{"bad escape", withQuery, "q=%zz", nil, false},
		{"not UTF-8", withQuery, "q=%ff", nil, false},
		{"empty name", withQuery, "=x", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRoute(t, tc.route)
			got, err := r.QueryTexts([]byte(tc.query))
			if !tc.ok {
				if !errors.Is(err, ErrQueryNotAllowed) {
					t.Fatalf("err = %v, want ErrQueryNotAllowed", err)
				}
				if strings.Contains(err.Error(), "evil") || strings.Contains(err.Error(), "%") {
					t.Errorf("error quotes the query: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("texts = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestQueryWithTexts(t *testing.T) {
	r := mustRoute(t, Route{Text: "/text", Query: []string{"q", "lang", "tag"}})
	q := []byte("lang=zh&q=%E6%89%8B%E6%9C%BA+13812345678&tag=a%2Fb")
	texts, err := r.QueryTexts(q)
	if err != nil {
		t.Fatal(err)
	}
	masked := append([]Text{{Pointer: "/text", Path: "/text", Text: "body text is skipped"}},
		Text{Pointer: "?q", Path: "?q", Text: strings.ReplaceAll(texts[1].Text, "1234", "****")})
	out, err := r.QueryWithTexts(q, masked)
	if err != nil {
		t.Fatal(err)
	}
	if want := "lang=zh&q=%E6%89%8B%E6%9C%BA+138%2A%2A%2A%2A5678&tag=a%2Fb"; string(out) != want {
		t.Errorf("QueryWithTexts = %s, want %s", out, want)
	}
	back, err := r.QueryTexts(out)
	if err != nil || back[1].Text != "手机 138****5678" {
		t.Errorf("masked query decodes to %q, %v", back, err)
	}
	if _, err := r.QueryWithTexts([]byte("lang=zh"), []Text{{Pointer: "?q", Path: "?q"}}); !errors.Is(err, ErrQueryNotAllowed) {
		t.Errorf("masking an absent parameter: err = %v", err)
	}
	if _, err := r.QueryWithTexts([]byte("x=1"), nil); !errors.Is(err, ErrQueryNotAllowed) {
		t.Errorf("undeclared parameter: err = %v", err)
	}
}

func TestExtractRequest(t *testing.T) {
	r := mustRoute(t, Route{Text: "/message/text", Texts: []string{"/message/html"}, Query: []string{"q"}, Role: "/role"})
	body := `{"role":"agent","message":{"text":"t","html":"h"}}`
	req := parseRequest(t, "POST /api/messages/send?q=x HTTP/1.1\nHost: gw\nContent-Type: application/json\nContent-Length: "+
		strconv.Itoa(len(body))+"\n\n"+body)
	m, texts, err := r.ExtractRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	want := []Text{{"/message/text", "/message/text", "t"}, {"/message/html", "/message/html", "h"}, {"?q", "?q", "x"}}
	if m.Text != "t" || m.Role != "agent" || !reflect.DeepEqual(texts, want) {
		t.Errorf("ExtractRequest = %+v %q", m, texts)
	}
	req.URI().SetQueryString("message%5Btext%5D=x")
	if _, _, err := r.ExtractRequest(req); !errors.Is(err, ErrQueryNotAllowed) {
		t.Errorf("undeclared query: err = %v", err)
	}
}

func TestNewValidatesChannels(t *testing.T) {
	good := Route{Path: "/a", Upstream: "http://127.0.0.1:9000", Text: "/text"}
	with := func(f func(*Route)) Route { r := good; f(&r); return r }
	tests := []struct {
		name  string
		route Route
		opts  Options
		want  string // substring of the error; "" means success
	}{
		{"all channels", with(func(r *Route) {
			r.Texts, r.Query = []string{"/html", "/attachments/*/caption"}, []string{"q"}
			r.ContentTypes, r.Roles = []string{"Application/JSON", "application/vnd.x+json"}, []string{"agent", "customer"}
		}), Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, ""},
		{"bad text pointer", with(func(r *Route) { r.Texts = []string{"html"} }), Options{}, "routes[0].texts[0]: JSON pointer"},
		{"duplicate text pointer", with(func(r *Route) { r.Texts = []string{"/text"} }), Options{}, "routes[0].texts[0]: duplicate"},
		{"wildcard in the draft", with(func(r *Route) { r.Text = "/m/*/text" }), Options{}, "routes[0].text:"},
		{"empty query name", with(func(r *Route) { r.Query = []string{""} }), Options{}, "routes[0].query[0]:"},
		{"duplicate query name", with(func(r *Route) { r.Query = []string{"q", "q"} }), Options{}, "routes[0].query[1]: duplicate"},
		{"form content type", with(func(r *Route) { r.ContentTypes = []string{"application/x-www-form-urlencoded"} }), Options{}, "routes[0].content_types[0]:"},
		{"content type with charset", with(func(r *Route) { r.ContentTypes = []string{"application/json; charset=gbk"} }), Options{}, "routes[0].content_types[0]:"},
		{"not a media type", with(func(r *Route) { r.ContentTypes = []string{"json"} }), Options{}, "routes[0].content_types[0]:"},
		{"unknown role", with(func(r *Route) { r.Roles = []string{"agent", "admin"} }), Options{}, "routes[0].roles[1]:"},
		{"role case", with(func(r *Route) { r.Roles = []string{"Agent"} }), Options{}, "routes[0].roles[0]:"},
		{"invalid trusted prefix", good, Options{TrustedProxies: []netip.Prefix{{}}}, "trusted_proxies[0]:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWithOptions([]Route{tc.route}, tc.opts)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		roles []string
		want  []string
	}{
		{nil, []string{"agent"}},
		{[]string{"customer"}, []string{"customer"}},
		{[]string{"agent", "customer", "agent"}, []string{"agent", "customer"}},
	}
	for _, tc := range tests {
		r := mustRoute(t, Route{Text: "/text", Roles: tc.roles})
		got := r.Roles()
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Roles(%q) = %q, want %q", tc.roles, got, tc.want)
		}
		for _, role := range []string{"agent", "customer", "", "Agent", "admin"} {
			want := false
			for _, w := range tc.want {
				want = want || w == role
			}
			if r.AllowsRole(role) != want {
				t.Errorf("roles %q: AllowsRole(%q) = %v", tc.want, role, !want)
			}
		}
		got[0] = "mutated"
		if r.Roles()[0] == "mutated" {
			t.Error("Roles returns the route's own slice")
		}
	}
}
