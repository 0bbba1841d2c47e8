package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

func TestNewValidates(t *testing.T) {
	good := Route{Path: "/a", Upstream: "http://127.0.0.1:9000", Text: "/text"}
	with := func(f func(*Route)) Route { r := good; f(&r); return r }
	tests := []struct {
		name   string
		routes []Route
		want   string // substring of the error; "" means success
	}{
		{"ok", []Route{good}, ""},
		{"ok https, base path, all pointers", []Route{with(func(r *Route) {
			r.Upstream, r.Conversation, r.Agent, r.Role = "https://chat.example.com/base/", "/c", "/a/~0id", "/r"
		})}, ""},
		{"bad method", []Route{with(func(r *Route) { r.Method = "PO ST" })}, "routes[0].method:"},
		{"path without slash", []Route{with(func(r *Route) { r.Path = "a" })}, "routes[0].path:"},
		{"path with dot segment", []Route{with(func(r *Route) { r.Path = "/a/../b" })}, "routes[0].path:"},
		{"path with query", []Route{with(func(r *Route) { r.Path = "/a?b" })}, "routes[0].path:"},
		{"upstream missing", []Route{with(func(r *Route) { r.Upstream = "" })}, "routes[0].upstream: required"},
		{"upstream scheme", []Route{with(func(r *Route) { r.Upstream = "ftp://h" })}, "routes[0].upstream: scheme"},
		{"upstream no host", []Route{with(func(r *Route) { r.Upstream = "http:///x" })}, "routes[0].upstream: host"},
		{"upstream with query", []Route{with(func(r *Route) { r.Upstream = "http://h/?a=1" })}, "routes[0].upstream: must not"},
		{"upstream with user", []Route{with(func(r *Route) { r.Upstream = "http://u:p@h" })}, "routes[0].upstream: must not"},
		{"text missing", []Route{with(func(r *Route) { r.Text = "" })}, "routes[0].text: required"},
		{"text bad pointer", []Route{with(func(r *Route) { r.Text = "text" })}, `routes[0].text: JSON pointer must start with "/"`},
		{"bad tilde", []Route{with(func(r *Route) { r.Role = "/a~2" })}, "routes[0].role: JSON pointer has"},
		{"trailing tilde", []Route{with(func(r *Route) { r.Agent = "/a~" })}, "routes[0].agent:"},
		{"negative timeout", []Route{with(func(r *Route) { r.Timeout = duration.Duration(-time.Second) })}, "routes[0].timeout:"},
		{"duplicate", []Route{good, with(func(r *Route) { r.Method = "post" })}, "routes[1].path: duplicate route POST /a"},
		{"same path other method", []Route{good, with(func(r *Route) { r.Method = "PUT" })}, ""},
		{"errors joined", []Route{with(func(r *Route) { r.Text = "" }), with(func(r *Route) { r.Path = "x" })},
			"routes[0].text: required\nroutes[1].path:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.routes)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNewDefaultsAndSharedClients(t *testing.T) {
	p, err := New([]Route{
		{Path: "/a", Upstream: "http://h", Text: "/t", MaxConns: 10},
		{Name: "b", Method: "put", Path: "/b", Upstream: "http://h:80/", Text: "/t", MaxConns: 20, Timeout: duration.Duration(time.Second)},
		{Path: "/c", Upstream: "https://h/base", Text: "/t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := p.Match([]byte("POST"), []byte("/a")), p.Match([]byte("PUT"), []byte("/b")), p.Match([]byte("POST"), []byte("/c"))
	if a == nil || b == nil || c == nil {
		t.Fatal("routes not matched")
	}
	if a.Name() != "POST /a" || b.Name() != "b" {
		t.Errorf("names %q %q", a.Name(), b.Name())
	}
	if a.timeout != DefaultTimeout || b.timeout != time.Second {
		t.Errorf("timeouts %v %v", a.timeout, b.timeout)
	}
	if a.client != b.client || a.client == c.client || len(p.clients) != 2 {
		t.Errorf("want one client per scheme and host, got %d", len(p.clients))
	}
	if a.client.MaxConns != 20 || c.client.MaxConns != DefaultMaxConns || !c.client.IsTLS || c.client.Addr != "h:443" {
		t.Errorf("client config: %d %d %v %q", a.client.MaxConns, c.client.MaxConns, c.client.IsTLS, c.client.Addr)
	}
	if a.target != "http://h:80/a" || c.target != "https://h:443/base/c" {
		t.Errorf("targets %q %q", a.target, c.target)
	}
}

func TestMatch(t *testing.T) {
	p, err := New([]Route{
		{Path: "/api/messages/send", Upstream: "http://h", Text: "/t"},
		{Method: "PUT", Path: "/api/messages/send", Upstream: "http://h", Text: "/t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		want         string
	}{
		{"POST", "/api/messages/send", "POST /api/messages/send"},
		{"PUT", "/api/messages/send", "PUT /api/messages/send"},
		{"GET", "/api/messages/send", ""},
		{"post", "/api/messages/send", ""},
		{"POST", "/api/messages/send/", ""},
		{"POST", "/api/messages", ""},
	} {
		got := p.Match([]byte(tc.method), []byte(tc.path))
		if (got == nil) != (tc.want == "") || (got != nil && got.Name() != tc.want) {
			t.Errorf("Match(%s %s) = %v, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	m, path := []byte("POST"), []byte("/api/messages/send")
	if n := testing.AllocsPerRun(100, func() { p.Match(m, path) }); n != 0 {
		t.Errorf("Match allocs = %v, want 0", n)
	}
}
