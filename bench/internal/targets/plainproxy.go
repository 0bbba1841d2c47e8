package targets

import (
	"time"

	"github.com/valyala/fasthttp"
)

// PlainProxy is a plain fasthttp reverse proxy with no inspection: every
// request goes to the upstream as it came, minus hop-by-hop headers, and
// the answer comes back the same way. It is the limit for any inspecting
// proxy on the same stack. It is safe for concurrent use.
type PlainProxy struct {
	client *fasthttp.HostClient
}

// plainHopHeaders are the hop-by-hop headers (RFC 9110 section 7.6.1) a
// proxy must not forward.
var plainHopHeaders = []string{
	fasthttp.HeaderConnection, "Proxy-Connection", fasthttp.HeaderKeepAlive, fasthttp.HeaderProxyAuthenticate,
	fasthttp.HeaderProxyAuthorization, fasthttp.HeaderTE, fasthttp.HeaderTrailer, fasthttp.HeaderTransferEncoding, fasthttp.HeaderUpgrade,
}

// NewPlainProxy returns a proxy to the upstream at addr (host:port), with
// the same connection pool size as the gateway's routes (512).
func NewPlainProxy(addr string) *PlainProxy {
	return &PlainProxy{client: &fasthttp.HostClient{
		Addr:                     addr,
		MaxConns:                 512,
		ReadTimeout:              5 * time.Second,
		WriteTimeout:             5 * time.Second,
		MaxIdleConnDuration:      5 * time.Second,
		NoDefaultUserAgentHeader: true,
	}}
}

// Handle forwards one request.
func (p *PlainProxy) Handle(ctx *fasthttp.RequestCtx) {
	req := &ctx.Request
	for _, h := range plainHopHeaders {
		req.Header.Del(h)
	}
	req.SetHost(p.client.Addr)
	if err := p.client.DoTimeout(req, &ctx.Response, 5*time.Second); err != nil {
		ctx.Response.Reset()
		ctx.Response.Header.SetContentType("application/json")
		ctx.SetStatusCode(fasthttp.StatusBadGateway)
		ctx.SetBodyString(`{"error":{"code":"upstream_unavailable","message":"the chat backend did not answer"}}`)
		return
	}
	for _, h := range plainHopHeaders {
		ctx.Response.Header.Del(h)
	}
}

// Close releases idle upstream connections.
func (p *PlainProxy) Close() { p.client.CloseIdleConnections() }
