package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

// readingUpstream accepts connections, reads one whole request from each,
// records its body, and then does what after says: "hang" never answers,
// "close" closes the connection.
func readingUpstream(t *testing.T, after string) (addr string, bodies func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []string
		cs  []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			cs = append(cs, c)
			mu.Unlock()
			go func() {
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				b, _ := io.ReadAll(req.Body)
				mu.Lock()
				got = append(got, string(b))
				mu.Unlock()
				if after == "close" {
					c.Close()
				}
			}()
		}
	}()
	return ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

func TestForwardDelivery(t *testing.T) {
	hang, hangGot := readingUpstream(t, "hang")
	closing, closingGot := readingUpstream(t, "close")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name     string
		upstream string
		got      func() []string // what the upstream recorded; nil: nothing to check
		kind     error
		delivery error
	}{
		{"upstream reads and never answers", hang, hangGot, ErrUpstreamTimeout, ErrDeliveryUnknown},
		{"upstream reads and closes", closing, closingGot, ErrUpstreamUnavailable, ErrDeliveryUnknown},
		{"nobody listens", nobody, nil, ErrUpstreamUnavailable, ErrNotSent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRoute(t, Route{Upstream: "http://" + tc.upstream, Timeout: duration.Duration(300 * time.Millisecond)})
			req := parseRequest(t, "POST /api/messages/send HTTP/1.1\nHost: gw\nContent-Type: application/json\nContent-Length: 2\n\n{}")
			var resp fasthttp.Response
			err := r.Forward(context.Background(), req, nil, []byte(`{"text":"已发出"}`), &resp)
			if !errors.Is(err, tc.kind) || !errors.Is(err, tc.delivery) {
				t.Fatalf("err = %v, want %v and %v", err, tc.kind, tc.delivery)
			}
			other := ErrNotSent
			if tc.delivery == ErrNotSent {
				other = ErrDeliveryUnknown
			}
			if errors.Is(err, other) {
				t.Errorf("err = %v wraps both ErrNotSent and ErrDeliveryUnknown", err)
			}
			if tc.got != nil {
				// The upstream has the message: "not sent" would be a lie.
				deadline := time.Now().Add(time.Second)
				for len(tc.got()) == 0 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if got := tc.got(); len(got) != 1 || got[0] != `{"text":"已发出"}` {
					t.Errorf("upstream recorded %q, want the message once (no retry)", got)
				}
			}
		})
	}
}

func TestForwardNoFreeConnIsNotSent(t *testing.T) {
	hang, got := readingUpstream(t, "hang")
	r := newRoute(t, Route{Upstream: "http://" + hang, Timeout: duration.Duration(300 * time.Millisecond), MaxConns: 1})
	req := parseRequest(t, "POST /api/messages/send HTTP/1.1\nHost: gw\nContent-Type: application/json\nContent-Length: 2\n\n{}")
	errc := make(chan error, 1)
	go func() { // holds the only connection until it times out
		var resp fasthttp.Response
		errc <- r.Forward(context.Background(), req, nil, []byte(`{"text":"first"}`), &resp)
	}()
	deadline := time.Now().Add(time.Second)
	for len(got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var resp fasthttp.Response
	req2 := parseRequest(t, "POST /api/messages/send HTTP/1.1\nHost: gw\nContent-Type: application/json\nContent-Length: 2\n\n{}")
	// It gives up waiting for the connection before the first lets it go.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := r.Forward(ctx, req2, nil, []byte(`{"text":"second"}`), &resp)
	if !errors.Is(err, ErrNotSent) {
		t.Errorf("second request: err = %v, want ErrNotSent", err)
	}
	if err := <-errc; !errors.Is(err, ErrDeliveryUnknown) {
		t.Errorf("first request: err = %v, want ErrDeliveryUnknown", err)
	}
	if g := got(); len(g) != 1 || g[0] != `{"text":"first"}` {
		t.Errorf("upstream recorded %q", g)
	}
}

func TestForwardRefusesBeforeSending(t *testing.T) {
	up := startUpstream(t, nil)
	r := newRoute(t, Route{Upstream: "http://" + up.addr, Query: []string{"q"}})
	tests := []struct {
		name, raw string
		want      error
	}{
		{"undeclared query", "POST /api/messages/send?message%5Btext%5D=x HTTP/1.1\nHost: gw\nContent-Length: 2\n\n{}", ErrQueryNotAllowed},
		{"gzip body", "POST /api/messages/send HTTP/1.1\nHost: gw\nContent-Encoding: gzip\nContent-Length: 2\n\n{}", ErrUnsupportedEncoding},
	}
	for _, tc := range tests {
		var resp fasthttp.Response
		err := r.Forward(context.Background(), parseRequest(t, tc.raw), nil, []byte(`{"text":"x"}`), &resp)
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrNotSent) {
			t.Errorf("%s: err = %v, want %v and ErrNotSent", tc.name, err, tc.want)
		}
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.got) != 0 {
		t.Errorf("upstream received %d requests", len(up.got))
	}
}

// spoofRequest is what an attacker sends to pass as someone else or to
// steer the upstream.
const spoofRequest = `POST /api/messages/send HTTP/1.1
Host: gw.example
Content-Type: application/json
X-Forwarded-For: 10.0.0.1
Forwarded: for=10.0.0.1;proto=https
X-Real-IP: 10.0.0.1
X-Forwarded-Host: admin.internal
X-Forwarded-Proto: https
X-Forwarded-Port: 443
True-Client-IP: 10.0.0.1
X-Xunjian-Ack: token
X-Xunjian-Action: allow
x-xunjian-decision: forged
X-Original-URL: /admin/delete
X-HTTP-Method-Override: DELETE
X-Custom: keep
Content-Length: 2

{}`

func TestForwardHeaders(t *testing.T) {
	up := startUpstream(t, nil)
	opts := Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}}
	r := newRouteOpts(t, Route{Upstream: "http://" + up.addr}, opts)
	always := []string{"X-Xunjian-Ack", "X-Xunjian-Action", "X-Xunjian-Decision", "X-Original-Url", "X-Http-Method-Override"}
	claims := map[string]string{"Forwarded": "for=10.0.0.1;proto=https", "X-Real-Ip": "10.0.0.1",
		"X-Forwarded-Host": "admin.internal", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443", "True-Client-Ip": "10.0.0.1"}
	tests := []struct {
		name     string
		clientIP net.IP
		trusted  bool
		wantXFF  []string
	}{
		{"untrusted client", net.ParseIP("198.51.100.9"), false, []string{"198.51.100.9"}},
		{"no client IP", nil, false, nil},
		{"trusted proxy", net.ParseIP("192.0.2.7"), true, []string{"10.0.0.1, 192.0.2.7"}},
		{"trusted proxy, IPv4-mapped", net.ParseIP("::ffff:192.0.2.7"), true, []string{"10.0.0.1, 192.0.2.7"}},
		{"trusted IPv6 proxy", net.ParseIP("2001:db8::1"), true, []string{"10.0.0.1, 2001:db8::1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var resp fasthttp.Response
			if err := r.Forward(context.Background(), parseRequest(t, spoofRequest), tc.clientIP, []byte(`{"text":"x"}`), &resp); err != nil {
				t.Fatal(err)
			}
			got := up.last(t)
			if v := got.header.Values("X-Forwarded-For"); strings.Join(v, "|") != strings.Join(tc.wantXFF, "|") {
				t.Errorf("X-Forwarded-For = %q, want %q", v, tc.wantXFF)
			}
			for _, k := range always {
				if v := got.header.Values(k); len(v) > 0 {
					t.Errorf("upstream got %s: %q", k, v)
				}
			}
			for k, want := range claims {
				v := got.header.Values(k)
				if tc.trusted && (len(v) != 1 || v[0] != want) {
					t.Errorf("from a trusted proxy, %s = %q, want %q", k, v, want)
				}
				if !tc.trusted && len(v) > 0 {
					t.Errorf("from an untrusted client, upstream got %s: %q", k, v)
				}
			}
			if got.header.Get("X-Custom") != "keep" || got.method != "POST" || got.uri != "/api/messages/send" {
				t.Errorf("upstream got %s %s, X-Custom %q", got.method, got.uri, got.header.Get("X-Custom"))
			}
		})
	}
}
