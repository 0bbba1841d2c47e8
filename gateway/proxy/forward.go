package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"
)

// Sentinels for Forward's errors; test with errors.Is. The gateway answers
// 504 for ErrUpstreamTimeout and 502 for ErrUpstreamUnavailable. The
// wrapped fasthttp error says more (never any body bytes).
var (
	// ErrUpstreamTimeout: the upstream did not answer within the route's
	// Timeout or the context's deadline, whichever came first (connecting
	// included).
	ErrUpstreamTimeout = errors.New("upstream timed out")
	// ErrUpstreamUnavailable: the upstream could not be reached or broke
	// the exchange (connection refused or reset, closed early, malformed or
	// oversized response, no free connection).
	ErrUpstreamUnavailable = errors.New("upstream unavailable")
)

// hopHeaders are the hop-by-hop headers (RFC 9110 section 7.6.1), removed
// from both the forwarded request and the returned response, as
// httputil.ReverseProxy does. Proxy-Connection is non-standard but sent by
// old clients. Read-only.
var hopHeaders = [...]string{
	fasthttp.HeaderConnection,
	"Proxy-Connection",
	fasthttp.HeaderKeepAlive,
	fasthttp.HeaderProxyAuthenticate,
	fasthttp.HeaderProxyAuthorization,
	fasthttp.HeaderTE,
	fasthttp.HeaderTrailer,
	fasthttp.HeaderTransferEncoding,
	fasthttp.HeaderUpgrade,
}

// Header names compared while scanning headers. Read-only.
var (
	hdrConnection    = []byte(fasthttp.HeaderConnection)
	hdrXForwardedFor = []byte(fasthttp.HeaderXForwardedFor)
)

// Forward sends req to the route's upstream and copies the answer into
// resp, like httputil.ReverseProxy:
//
//   - method and path are the route's (equal to req's when Match chose the
//     route; see Route.Path), with req's raw query string;
//   - headers are req's minus the hop-by-hop ones (hopHeaders and any named
//     by Connection), Expect (the gateway has read the body already),
//     Content-Length (recomputed) and, unless Route.ForwardAuth, the
//     gateway's own credentials Authorization and X-API-Key; Host is the
//     upstream's; clientIP (if not nil) is appended to X-Forwarded-For;
//   - the body is body, not req's, so the caller can send a masked draft.
//     The caller must drop Content-Encoding if body is not encoded as req's
//     header says.
//
// On success resp holds the upstream's status, headers minus hop-by-hop
// ones, and body. On error resp is unspecified: write a fresh answer.
// Errors wrap ErrUpstreamTimeout or ErrUpstreamUnavailable, or ctx.Err()
// if ctx was done before sending.
//
// The exchange is bounded by the earlier of ctx's deadline and the route's
// Timeout. fasthttp cannot abort an exchange in flight, so a cancellation
// without a deadline is only noticed before sending. Non-idempotent
// requests (POST) are not retried, so that a message is never sent twice.
//
// Forward does not retain req, body or resp after it returns. It is safe for
// concurrent use.
func (r *Compiled) Forward(ctx context.Context, req *fasthttp.Request, clientIP net.IP, body []byte, resp *fasthttp.Response) error {
	if err := ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("route %s: %w: %w", r.name, ErrUpstreamTimeout, err)
		}
		return fmt.Errorf("route %s: %w", r.name, err)
	}
	deadline := time.Now().Add(r.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	out := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(out)
	r.prepare(out, req, clientIP, body)
	if err := r.client.DoDeadline(out, resp, deadline); err != nil {
		return r.upstreamError(err)
	}
	cleanResponse(resp)
	return nil
}

// prepare fills out, a fresh request, from req as Forward documents.
func (r *Compiled) prepare(out, req *fasthttp.Request, clientIP net.IP, body []byte) {
	req.Header.CopyTo(&out.Header)

	// One pass over req's headers: delete from out what Connection names
	// (RFC 9110 section 7.6.1) and gather prior X-Forwarded-For values.
	var xffBuf [128]byte
	xff := xffBuf[:0]
	for k, v := range req.Header.All() {
		switch {
		case bytes.EqualFold(k, hdrConnection):
			for tok := range connectionTokens(v) {
				out.Header.DelBytes(tok)
			}
		case bytes.EqualFold(k, hdrXForwardedFor):
			if len(xff) > 0 {
				xff = append(xff, ',', ' ')
			}
			xff = append(xff, v...)
		}
	}
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Header.Del(fasthttp.HeaderExpect)
	out.Header.Del(fasthttp.HeaderContentLength)
	if !r.forwardAuth {
		out.Header.Del(fasthttp.HeaderAuthorization)
		out.Header.Del("X-Api-Key")
	}
	if ip, ok := netip.AddrFromSlice(clientIP); ok {
		if len(xff) > 0 {
			xff = append(xff, ',', ' ')
		}
		xff = ip.Unmap().AppendTo(xff)
	}
	out.Header.Del(fasthttp.HeaderXForwardedFor)
	if len(xff) > 0 {
		out.Header.SetBytesV(fasthttp.HeaderXForwardedFor, xff)
	}

	out.Header.SetMethod(r.method)
	out.Header.SetHostBytes(nil)
	out.SetRequestURI(r.target)
	if q := req.URI().QueryString(); len(q) > 0 {
		out.URI().SetQueryStringBytes(q)
	}
	out.SetBodyRaw(body)
}

// cleanResponse removes hop-by-hop headers from the upstream's response and
// makes its framing the gateway's own.
func cleanResponse(resp *fasthttp.Response) {
	if len(resp.Header.Peek(fasthttp.HeaderConnection)) > 0 {
		// Gather the names Connection lists before deleting anything: the
		// header must not change while it is iterated. Rare, so it may
		// allocate.
		var names []byte
		for k, v := range resp.Header.All() {
			if bytes.EqualFold(k, hdrConnection) {
				names = append(append(names, v...), ',')
			}
		}
		for tok := range connectionTokens(names) {
			resp.Header.DelBytes(tok)
		}
	}
	for _, h := range hopHeaders {
		resp.Header.Del(h)
	}
	// fasthttp de-chunked the body and read it whole; state its length.
	if resp.Header.ContentLength() < 0 && !resp.SkipBody {
		resp.Header.SetContentLength(len(resp.Body()))
	}
}

// connectionTokens yields the comma-separated, trimmed, non-empty tokens
// of a Connection header value.
func connectionTokens(v []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(v) > 0 {
			var tok []byte
			if i := bytes.IndexByte(v, ','); i >= 0 {
				tok, v = v[:i], v[i+1:]
			} else {
				tok, v = v, nil
			}
			tok = bytes.TrimSpace(tok)
			if len(tok) > 0 && !yield(tok) {
				return
			}
		}
	}
}

// upstreamError classifies a fasthttp error.
func (r *Compiled) upstreamError(err error) error {
	var ne net.Error
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("route %s: %w: %w", r.name, ErrUpstreamTimeout, err)
	}
	return fmt.Errorf("route %s: %w: %w", r.name, ErrUpstreamUnavailable, err)
}
