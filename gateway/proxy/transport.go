package proxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// transport is the fasthttp.RoundTripper of a Proxy's upstream clients. It
// does what fasthttp's default transport does for a buffered (not
// streamed) exchange, and also records in the request's exchange whether
// any byte of it was written to the connection, so that Forward can tell
// "not sent" from "delivery unknown". fasthttp gives a RoundTripper no
// per-request context, so exchanges are found by the *fasthttp.Request,
// which Forward owns for the duration of the call.
type transport struct {
	exchanges sync.Map // *fasthttp.Request → *exchange
}

// exchange is the state of one Forward call. It is used by one goroutine
// at a time: HostClient.Do calls RoundTrip on the caller's goroutine.
type exchange struct {
	deadline time.Time
	written  int64 // bytes of the request the connection accepted
}

// do runs req through hc with x as its exchange.
func (t *transport) do(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response, x *exchange) error {
	t.exchanges.Store(req, x)
	defer t.exchanges.Delete(req)
	return hc.Do(req, resp)
}

// errNoExchange is a request that did not come through do: a bug.
var errNoExchange = errors.New("proxy: request without an exchange")

// RoundTrip implements fasthttp.RoundTripper. It retries (if the client's
// retry policy allows) only an attempt that wrote nothing.
func (t *transport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (retry bool, err error) {
	v, ok := t.exchanges.Load(req)
	if !ok {
		return false, errNoExchange
	}
	x := v.(*exchange)
	timeout := time.Until(x.deadline)
	if timeout <= 0 {
		return false, fasthttp.ErrTimeout
	}
	cc, err := hc.AcquireConn(timeout, req.ConnectionClose())
	if err != nil {
		return false, err
	}
	conn := cc.Conn()
	resp.ParseNetConn(conn)

	if err := conn.SetWriteDeadline(x.deadline); err != nil {
		hc.CloseConn(cc)
		return true, err
	}
	closeConn := req.ConnectionClose()
	if hc.MaxConnDuration > 0 && time.Since(cc.CreatedTime()) > hc.MaxConnDuration && !closeConn {
		// req is Forward's own copy: no need to restore the header.
		req.SetConnectionClose()
		closeConn = true
	}
	before := x.written
	bw := hc.AcquireWriter(recordingConn{Conn: conn, x: x})
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		hc.CloseConn(cc)
		return x.written == before, timeoutOr(err)
	}

	if err := conn.SetReadDeadline(x.deadline); err != nil {
		hc.CloseConn(cc)
		return false, err
	}
	if req.Header.IsHead() {
		resp.SkipBody = true
	}
	br := hc.AcquireReader(conn)
	err = resp.ReadLimitBody(br, hc.MaxResponseBodySize)
	hc.ReleaseReader(br)
	if err != nil {
		hc.CloseConn(cc)
		if errors.Is(err, io.EOF) {
			err = fasthttp.ErrConnectionClosed
		}
		return false, timeoutOr(err)
	}
	if closeConn || resp.ConnectionClose() {
		hc.CloseConn(cc)
	} else {
		hc.ReleaseConn(cc)
	}
	return false, nil
}

// timeoutOr returns fasthttp.ErrTimeout for a timeout error, as fasthttp's
// own transport does, else err.
func timeoutOr(err error) error {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return fasthttp.ErrTimeout
	}
	return err
}

// recordingConn counts the bytes the connection accepts into x.written.
type recordingConn struct {
	net.Conn
	x *exchange
}

// Write writes p to the connection and records how much of it went.
func (c recordingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.x.written += int64(n)
	return n, err
}
