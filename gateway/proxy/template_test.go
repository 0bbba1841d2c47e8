package proxy

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestTemplateRoutesValidate(t *testing.T) {
	for _, tc := range []struct {
		path string
		want string // "" for valid
	}{
		{"/conversations/{conversation_id}/messages", ""},
		{"/shops/{shop}/conversations/{conversation_id}/agents/{agent_id}/send", ""},
		{"/conversations/{conversation_id}", ""},
		{"/conversations/x{conversation_id}/messages", "a parameter is a whole segment"},
		{"/conversations/{conversation_id/messages", "a parameter is a whole segment"},
		{"/conversations/{}/messages", "a parameter is a whole segment"},
		{"/conversations/{Conversation}/messages", "a parameter is a whole segment"},
		{"/a/{id}/b/{id}", "parameter {id} twice"},
		{"/a/}/b", "a parameter is a whole segment"},
	} {
		_, err := New([]Route{{Path: tc.path, Upstream: "http://h", Text: "/t"}})
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("path %s: err %v, want %q", tc.path, err, tc.want)
		}
	}
	_, err := New([]Route{
		{Path: "/c/{conversation_id}/messages", Upstream: "http://h", Text: "/t"},
		{Path: "/c/{id}/messages", Upstream: "http://h", Text: "/t"},
	})
	if err == nil || !strings.Contains(err.Error(), "matches the same paths") {
		t.Errorf("two templates of one shape: err %v, want refused", err)
	}
}

func TestTemplateMatch(t *testing.T) {
	p, err := New([]Route{
		{Name: "exact", Path: "/conversations/system/messages", Upstream: "http://h", Text: "/t"},
		{Name: "tmpl", Path: "/conversations/{conversation_id}/messages", Upstream: "http://h", Text: "/t"},
		{Name: "deep", Path: "/shops/{shop}/conversations/{conversation_id}/messages", Upstream: "http://h", Text: "/t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"/conversations/c-1/messages", "tmpl"},
		{"/conversations/会话42/messages", "tmpl"},
		{"/conversations/system/messages", "exact"},
		{"/shops/7/conversations/c-1/messages", "deep"},
		{"/conversations//messages", ""},
		{"/conversations/c-1/messages/", ""},
		{"/conversations/c-1/messages/x", ""},
		{"/conversations/c-1", ""},
		{"/conversations/a/b/messages", ""},
		{"/", ""},
	} {
		got := p.Match([]byte("POST"), []byte(tc.path))
		if (got == nil) != (tc.want == "") || (got != nil && got.Name() != tc.want) {
			t.Errorf("Match(%s) = %v, want %q", tc.path, got, tc.want)
		}
	}
	m, path := []byte("POST"), []byte("/shops/7/conversations/c-1/messages")
	if n := testing.AllocsPerRun(100, func() { p.Match(m, path) }); n != 0 {
		t.Errorf("template Match allocs = %v, want 0", n)
	}
}

func TestTemplateIDsFromThePath(t *testing.T) {
	r := newRoute(t, Route{Path: "/conversations/{conversation_id}/agents/{agent_id}/messages", Upstream: "http://h",
		Text: "/text", Conversation: "/conversation_id"})
	for _, tc := range []struct {
		name, path, body string
		conv, agent      string
		err              string
	}{
		{"from the path", "/conversations/c-9/agents/a-1/messages", `{"text":"您好"}`, "c-9", "a-1", ""},
		{"body agrees", "/conversations/c-9/agents/a-1/messages", `{"text":"您好","conversation_id":"c-9"}`, "c-9", "a-1", ""},
		{"body names another conversation", "/conversations/c-9/agents/a-1/messages", `{"text":"您好","conversation_id":"c-other"}`, "", "", "differs from the path's {conversation_id}"},
		{"control character", "/conversations/c%0A9/agents/a-1/messages", `{"text":"您好"}`, "", "", "not an id"},
		{"invalid utf-8", "/conversations/c%FF9/agents/a-1/messages", `{"text":"您好"}`, "", "", "not an id"},
		{"too long", "/conversations/" + strings.Repeat("c", maxParamBytes+1) + "/agents/a-1/messages", `{"text":"您好"}`, "", "", "not an id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := parseRequest(t, "POST "+tc.path+" HTTP/1.1\nHost: gw\nContent-Type: application/json\nContent-Length: "+
				strconv.Itoa(len(tc.body))+"\n\n"+tc.body)
			m, _, err := r.ExtractRequest(req)
			if tc.err != "" {
				var fe *FieldError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &fe) || !errors.Is(err, ErrBadBody) {
					t.Fatalf("err %v, want a field error %q", err, tc.err)
				}
				return
			}
			if err != nil || m.ConversationID != tc.conv || m.AgentID != tc.agent {
				t.Errorf("got %+v, %v; want conversation %q agent %q", m, err, tc.conv, tc.agent)
			}
		})
	}
}

// TestTemplateForwardPath: the upstream gets the route's path with the
// matched segments escaped again, under the upstream's base path, so the id
// it decodes is the one the gateway matched.
func TestTemplateForwardPath(t *testing.T) {
	up := startUpstream(t, nil)
	r := newRoute(t, Route{Path: "/conversations/{conversation_id}/messages", Upstream: "http://" + up.addr + "/base"})
	for _, tc := range []struct{ path, want string }{
		{"/conversations/c-1/messages", "/base/conversations/c-1/messages"},
		{"/conversations/%E4%BC%9A%E8%AF%9D/messages", "/base/conversations/%E4%BC%9A%E8%AF%9D/messages"},
		{"/conversations/a%20b/messages", "/base/conversations/a%20b/messages"},
		{"/conversations/a%3Fb/messages", "/base/conversations/a%3Fb/messages"},
	} {
		req := parseRequest(t, "POST "+tc.path+" HTTP/1.1\nHost: gw\nContent-Type: application/json\nContent-Length: 13\n\n{\"text\":\"hi\"}")
		if _, _, err := r.ExtractRequest(req); err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		var resp fasthttp.Response
		if err := r.Forward(context.Background(), req, net.ParseIP("127.0.0.1"), req.Body(), &resp); err != nil {
			t.Fatalf("%s: Forward: %v", tc.path, err)
		}
		if got := up.last(t).uri; got != tc.want {
			t.Errorf("%s: upstream got %s, want %s", tc.path, got, tc.want)
		}
	}
}
