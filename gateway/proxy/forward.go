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
// 504 for ErrUpstreamTimeout and 502 for ErrUpstreamUnavailable. Every
// upstream error also wraps exactly one of ErrNotSent and
// ErrDeliveryUnknown, which say what the gateway may tell the agent about
// the message. The wrapped fasthttp error says more (never any body bytes).
var (
	// ErrNotSent: no byte of the request reached the upstream (the dial
	// failed or timed out, no connection was free in time, the deadline had
	// passed, or Forward refused the request): the message was not sent,
	// and sending it again cannot duplicate it.
	ErrNotSent = errors.New("request not sent")
	// ErrDeliveryUnknown: the request was written to the upstream, fully or
	// in part, and then the response timed out, broke off or was unusable.
	// The upstream may have taken the message: the agent must not be told
	// it was not sent, and a retry may duplicate it.
	ErrDeliveryUnknown = errors.New("request sent, delivery unknown")
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
	hdrXForwarded    = []byte("X-Forwarded-") // prefix
	hdrXXunjian      = []byte("X-Xunjian-")   // prefix
)

// clientClaimHeaders say who the client is or how it reached the gateway.
// Only a trusted proxy may send them (Options.TrustedProxies); from anyone
// else they are stripped, with every X-Forwarded-* header. Read-only.
var clientClaimHeaders = [...]string{
	"Forwarded",
	"X-Real-Ip",
	"X-Client-Ip",
	"True-Client-Ip",
	"X-Cluster-Client-Ip",
	"Cf-Connecting-Ip",
	"Fastly-Client-Ip",
}

// overrideHeaders make some frameworks route or treat a request as another
// URL or method than the one the route matched and the gateway inspected
// for. Always stripped; so is every X-Xunjian-* header, the gateway's own
// (the ack token is for the gateway, and response headers of that name are
// the gateway's to set). Read-only.
var overrideHeaders = [...]string{
	"X-Original-Url",
	"X-Rewrite-Url",
	"X-Http-Method-Override",
	"X-Http-Method",
	"X-Method-Override",
}

// Forward is ForwardQuery with req's own raw query string: for requests
// whose query texts needed no masking.
func (r *Compiled) Forward(ctx context.Context, req *fasthttp.Request, clientIP net.IP, body []byte, resp *fasthttp.Response) error {
	return r.ForwardQuery(ctx, req, clientIP, req.URI().QueryString(), body, resp)
}

// ForwardQuery sends req to the route's upstream and copies the answer
// into resp, like httputil.ReverseProxy:
//
//   - method and path are the route's (equal to req's when Match chose the
//     route; see Route.Path), with the raw query string query (req's, or
//     QueryWithTexts' masked one), which must pass Route.Query's checks;
//   - headers are req's minus the hop-by-hop ones (hopHeaders and any named
//     by Connection), Expect (the gateway has read the body already),
//     Content-Length (recomputed), Content-Encoding (req must have none
//     but identity), the X-Xunjian-* headers and URL or method overrides
//     (overrideHeaders), and, unless Route.ForwardAuth, the gateway's own
//     credentials Authorization and X-API-Key; Host is the upstream's;
//   - if clientIP is in Options.TrustedProxies, req's X-Forwarded-For gets
//     clientIP appended and its Forwarded, X-Real-IP, X-Forwarded-* are
//     kept; otherwise those are the client's own claims and are dropped,
//     and X-Forwarded-For is clientIP alone (none if clientIP is nil);
//   - the body is body, not req's, so the caller can send a masked draft.
//
// On success resp holds the upstream's status, headers minus hop-by-hop
// ones, and body. On error resp is unspecified: write a fresh answer.
// Errors wrap ErrUpstreamTimeout or ErrUpstreamUnavailable and, whichever
// it is, ErrNotSent or ErrDeliveryUnknown; or, before sending, ctx.Err(),
// ErrQueryNotAllowed or ErrUnsupportedEncoding, with ErrNotSent.
//
// The exchange is bounded by the earlier of ctx's deadline and the route's
// Timeout. fasthttp cannot abort an exchange in flight, so a cancellation
// without a deadline is only noticed before sending. A request of which any
// byte was written is never retried, whatever its method, so that a
// message is never sent twice.
//
// ForwardQuery does not retain req, query, body or resp after it returns.
// It is safe for concurrent use.
func (r *Compiled) ForwardQuery(ctx context.Context, req *fasthttp.Request, clientIP net.IP, query, body []byte, resp *fasthttp.Response) error {
	if err := ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("route %s: %w: %w: %w", r.name, ErrUpstreamTimeout, ErrNotSent, err)
		}
		return fmt.Errorf("route %s: %w: %w", r.name, ErrNotSent, err)
	}
	if _, err := r.parseQuery(query); err != nil {
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	if err := checkEncoding(&req.Header); err != nil {
		return fmt.Errorf("route %s: %w: %w", r.name, ErrNotSent, err)
	}
	deadline := time.Now().Add(r.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	out := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(out)
	r.prepare(out, req, clientIP, query, body)
	x := exchange{deadline: deadline}
	if err := r.shared.transport.do(r.client, out, resp, &x); err != nil {
		return r.upstreamError(err, x.written > 0)
	}
	cleanResponse(resp)
	return nil
}

// prepare fills out, a fresh request, from req as ForwardQuery documents.
func (r *Compiled) prepare(out, req *fasthttp.Request, clientIP net.IP, query, body []byte) {
	req.Header.CopyTo(&out.Header)
	trusted := r.trusts(clientIP)

	// One pass over req's headers: delete from out what Connection names
	// (RFC 9110 section 7.6.1), X-Xunjian-* and, from an untrusted client,
	// X-Forwarded-*, and gather prior X-Forwarded-For values of a trusted
	// one. Deleting from out while iterating req is fine.
	var xffBuf [128]byte
	xff := xffBuf[:0]
	for k, v := range req.Header.All() {
		switch {
		case bytes.EqualFold(k, hdrConnection):
			for tok := range connectionTokens(v) {
				out.Header.DelBytes(tok)
			}
		case hasPrefixFold(k, hdrXXunjian):
			out.Header.DelBytes(k)
		case bytes.EqualFold(k, hdrXForwardedFor):
			if trusted {
				if len(xff) > 0 {
					xff = append(xff, ',', ' ')
				}
				xff = append(xff, v...)
			}
		case !trusted && hasPrefixFold(k, hdrXForwarded):
			out.Header.DelBytes(k)
		}
	}
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	if !trusted {
		for _, h := range clientClaimHeaders {
			out.Header.Del(h)
		}
	}
	for _, h := range overrideHeaders {
		out.Header.Del(h)
	}
	out.Header.Del(fasthttp.HeaderExpect)
	out.Header.Del(fasthttp.HeaderContentLength)
	out.Header.Del(fasthttp.HeaderContentEncoding)
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
	if r.tmpl == nil {
		out.SetRequestURI(r.target)
	} else {
		var buf [256]byte
		out.SetRequestURIBytes(r.tmpl.appendPath(append(buf[:0], r.base...), req.URI().Path()))
	}
	if len(query) > 0 {
		out.URI().SetQueryStringBytes(query)
	}
	out.SetBodyRaw(body)
}

// trusts reports whether ip is in Options.TrustedProxies.
func (r *Compiled) trusts(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	for _, p := range r.shared.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hasPrefixFold reports whether s starts with prefix, ASCII case-folded.
func hasPrefixFold(s, prefix []byte) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], prefix)
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

// upstreamError classifies a fasthttp error; written says whether any byte
// of the request reached the connection.
func (r *Compiled) upstreamError(err error, written bool) error {
	delivery := ErrNotSent
	if written {
		delivery = ErrDeliveryUnknown
	}
	var ne net.Error
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("route %s: %w: %w: %w", r.name, ErrUpstreamTimeout, delivery, err)
	}
	return fmt.Errorf("route %s: %w: %w: %w", r.name, ErrUpstreamUnavailable, delivery, err)
}
