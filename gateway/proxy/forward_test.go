package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
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

// received is what the test upstream saw.
type received struct {
	method, uri, host string
	header            http.Header
	body              string
}

// upstream is a fasthttp server on 127.0.0.1:0 that records requests and
// answers with handle (default: 201, X-Upstream header, echo of the body).
type upstream struct {
	addr string
	mu   sync.Mutex // guards got
	got  []received
}

func startUpstream(t *testing.T, handle fasthttp.RequestHandler) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: ln.Addr().String()}
	if handle == nil {
		handle = func(ctx *fasthttp.RequestCtx) {
			ctx.SetStatusCode(fasthttp.StatusCreated)
			ctx.Response.Header.Set("X-Upstream", "yes")
			ctx.SetContentType("application/json")
			ctx.SetBody(ctx.PostBody())
		}
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		rec := received{
			method: string(ctx.Method()), uri: string(ctx.RequestURI()), host: string(ctx.Host()),
			header: http.Header{}, body: string(ctx.PostBody()),
		}
		for k, v := range ctx.Request.Header.All() {
			rec.header.Add(string(k), string(v))
		}
		u.mu.Lock()
		u.got = append(u.got, rec)
		u.mu.Unlock()
		handle(ctx)
	}}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = srv.Shutdown() })
	return u
}

func (u *upstream) last(t *testing.T) received {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.got) == 0 {
		t.Fatal("upstream received nothing")
	}
	return u.got[len(u.got)-1]
}

// parseRequest reads a raw HTTP/1.1 request as fasthttp's server does.
func parseRequest(t *testing.T, raw string) *fasthttp.Request {
	t.Helper()
	req := &fasthttp.Request{}
	if err := req.Read(bufio.NewReader(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")))); err != nil {
		t.Fatalf("parse request: %v", err)
	}
	return req
}

const clientRequest = `POST /api/messages/send?x=1&y=a%20b HTTP/1.1
Host: gw.example
Content-Type: application/json
User-Agent: agent-client/1.0
Connection: keep-alive, X-Hop
X-Hop: drop-me
Keep-Alive: timeout=5
Proxy-Authorization: Basic Zm9vOmJhcg==
Proxy-Connection: keep-alive
Te: trailers
Upgrade: websocket
Expect: 100-continue
Authorization: Bearer gateway-token
X-API-Key: gateway-key
X-Forwarded-For: 10.0.0.1
X-Custom: keep
Cookie: a=b
Content-Length: 22

{"text":"original 1"}
`

func newRoute(t *testing.T, rt Route) *Compiled {
	t.Helper()
	return newRouteOpts(t, rt, Options{})
}

// newRouteOpts is newRoute on a Proxy built with opts.
func newRouteOpts(t *testing.T, rt Route, opts Options) *Compiled {
	t.Helper()
	if rt.Path == "" {
		rt.Path = "/api/messages/send"
	}
	if rt.Text == "" {
		rt.Text = "/text"
	}
	return mustRouteOpts(t, rt, opts)
}

func TestForwardRequestAndResponse(t *testing.T) {
	up := startUpstream(t, nil)
	// The query parameters are declared and 192.0.2.7 is a trusted proxy:
	// an undeclared query is refused and an untrusted client's
	// X-Forwarded-For dropped (TestForwardHeadersUntrusted).
	r := newRouteOpts(t, Route{Upstream: "http://" + up.addr + "/base", Query: []string{"x", "y"}},
		Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	req := parseRequest(t, clientRequest)
	body := []byte(`{"text":"masked ***"}`)
	var resp fasthttp.Response
	if err := r.Forward(context.Background(), req, net.ParseIP("192.0.2.7"), body, &resp); err != nil {
		t.Fatalf("Forward: %v", err)
	}

	got := up.last(t)
	if got.method != "POST" || got.uri != "/base/api/messages/send?x=1&y=a%20b" {
		t.Errorf("upstream got %s %s", got.method, got.uri)
	}
	if got.host != up.addr {
		t.Errorf("Host = %q, want the upstream's %q", got.host, up.addr)
	}
	if got.body != string(body) {
		t.Errorf("body = %q, want %q", got.body, body)
	}
	for k, want := range map[string]string{
		"Content-Type":    "application/json",
		"User-Agent":      "agent-client/1.0",
		"X-Custom":        "keep",
		"Cookie":          "a=b",
		"X-Forwarded-For": "10.0.0.1, 192.0.2.7",
		"Content-Length":  fmt.Sprint(len(body)),
	} {
		if v := got.header.Values(k); len(v) != 1 || v[0] != want {
			t.Errorf("upstream header %s = %q, want %q", k, v, want)
		}
	}
	for _, k := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection",
		"Te", "Upgrade", "Expect", "Authorization", "X-Api-Key", "Transfer-Encoding", "Trailer"} {
		if v := got.header.Values(k); len(v) > 0 {
			t.Errorf("upstream got %s: %q, want it stripped", k, v)
		}
	}

	if resp.StatusCode() != fasthttp.StatusCreated || string(resp.Header.Peek("X-Upstream")) != "yes" ||
		string(resp.Body()) != string(body) || string(resp.Header.ContentType()) != "application/json" {
		t.Errorf("response = %d %q %q", resp.StatusCode(), resp.Header.Peek("X-Upstream"), resp.Body())
	}
}

func TestForwardAuthAndNoClientIP(t *testing.T) {
	up := startUpstream(t, nil)
	r := newRoute(t, Route{Upstream: "http://" + up.addr, ForwardAuth: true})
	req := parseRequest(t, "POST /api/messages/send HTTP/1.1\nHost: gw\nAuthorization: Bearer t\nX-API-Key: k\nContent-Length: 2\n\n{}")
	var resp fasthttp.Response
	if err := r.Forward(context.Background(), req, nil, []byte(`{"text":"x"}`), &resp); err != nil {
		t.Fatal(err)
	}
	got := up.last(t)
	if got.header.Get("Authorization") != "Bearer t" || got.header.Get("X-Api-Key") != "k" {
		t.Errorf("ForwardAuth: credentials not forwarded: %v", got.header)
	}
	if v := got.header.Values("X-Forwarded-For"); len(v) != 0 {
		t.Errorf("X-Forwarded-For = %q with no client IP and none before", v)
	}
	if got.uri != "/api/messages/send" {
		t.Errorf("uri = %q", got.uri)
	}
}

// rawUpstream answers every request with resp verbatim (to send headers a
// fasthttp server would not).
func rawUpstream(t *testing.T, resp string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, strings.ReplaceAll(resp, "\n", "\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestForwardStripsResponseHopHeaders(t *testing.T) {
	addr := rawUpstream(t, "HTTP/1.1 202 Accepted\nContent-Type: application/json\nConnection: X-Resp-Hop\n"+
		"X-Resp-Hop: drop\nKeep-Alive: timeout=5\nProxy-Authenticate: Basic\nUpgrade: h2c\nX-Upstream: kept\n"+
		"Transfer-Encoding: chunked\n\n5\n{\"ok\"\n6\n:true}\n0\n\n")
	r := newRoute(t, Route{Upstream: "http://" + addr})

	// Through a gateway-like fasthttp server, so the client sees the framing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if err := r.Forward(ctx, &ctx.Request, ctx.RemoteIP(), ctx.PostBody(), &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}}
	go front.Serve(ln) //nolint:errcheck // ends with Shutdown
	defer front.Shutdown()

	res, err := http.Post("http://"+ln.Addr().String()+"/api/messages/send", "application/json", strings.NewReader(`{"text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 202 || string(b) != `{"ok":true}` || res.Header.Get("X-Upstream") != "kept" {
		t.Errorf("client got %d %q %v", res.StatusCode, b, res.Header)
	}
	if res.ContentLength != int64(len(`{"ok":true}`)) {
		t.Errorf("Content-Length = %d", res.ContentLength)
	}
	for _, k := range []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Authenticate", "Upgrade"} {
		if v := res.Header.Values(k); len(v) > 0 {
			t.Errorf("client got %s: %q, want it stripped", k, v)
		}
	}
	if res.Close {
		t.Error("upstream's Connection header made the gateway close the client connection")
	}
}

func TestForwardErrors(t *testing.T) {
	// A closed port: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	slow := startUpstream(t, func(ctx *fasthttp.RequestCtx) { time.Sleep(time.Second) })

	tests := []struct {
		name     string
		upstream string
		timeout  time.Duration
		ctx      func() (context.Context, context.CancelFunc)
		want     error
		maxDur   time.Duration
	}{
		{"upstream down", "http://" + closed, 0, nil, ErrUpstreamUnavailable, 2 * time.Second},
		{"upstream slower than Timeout", "http://" + slow.addr, 200 * time.Millisecond, nil, ErrUpstreamTimeout, 800 * time.Millisecond},
		{"ctx deadline earlier than Timeout", "http://" + slow.addr, 5 * time.Second, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 150*time.Millisecond)
		}, ErrUpstreamTimeout, 800 * time.Millisecond},
		{"ctx already canceled", "http://" + slow.addr, 0, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled, 100 * time.Millisecond},
		{"ctx already past deadline", "http://" + slow.addr, 0, func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, ErrUpstreamTimeout, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRoute(t, Route{Upstream: tc.upstream, Timeout: duration.Duration(tc.timeout)})
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			req := parseRequest(t, "POST /api/messages/send HTTP/1.1\nHost: gw\nContent-Length: 2\n\n{}")
			var resp fasthttp.Response
			start := time.Now()
			err := r.Forward(ctx, req, nil, []byte(`{"text":"x"}`), &resp)
			if d := time.Since(start); d > tc.maxDur {
				t.Errorf("took %v, want < %v", d, tc.maxDur)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), "route POST /api/messages/send") {
				t.Errorf("error does not name the route: %v", err)
			}
		})
	}
}

func TestForwardConcurrent(t *testing.T) {
	up := startUpstream(t, nil)
	r := newRoute(t, Route{Upstream: "http://" + up.addr, MaxConns: 16})
	const workers, each = 32, 25
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			req := parseRequest(t, "POST /api/messages/send HTTP/1.1\nHost: gw\nContent-Length: 2\n\n{}")
			var resp fasthttp.Response
			for i := range each {
				body := fmt.Appendf(nil, `{"text":"w%d-%d"}`, w, i)
				if err := r.Forward(context.Background(), req, net.IPv4(10, 0, 0, byte(w)), body, &resp); err != nil {
					errc <- err
					return
				}
				if resp.StatusCode() != 201 || string(resp.Body()) != string(body) {
					errc <- fmt.Errorf("worker %d: got %d %q, want echo of %q", w, resp.StatusCode(), resp.Body(), body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.got) != workers*each {
		t.Errorf("upstream got %d requests, want %d", len(up.got), workers*each)
	}
}
