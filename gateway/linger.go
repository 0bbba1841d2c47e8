package gateway

import (
	"io"
	"net"
	"sync/atomic"
	"time"
)

// Lingering close. When the gateway refuses a request before reading its
// body (413 for a body over the limit), the client may still be sending:
// Python's urllib, curl without Expect and many others write the whole body
// before they read a byte of the reply. Closing the socket with unread data
// in it makes the kernel answer with a reset, and the client sees
// "connection reset" instead of the 413 JSON. So such a connection shuts
// its write side after the reply, reads and discards what the client still
// sends (bounded in bytes and time), and only then closes, as Apache's and
// nginx's lingering_close do.
const (
	lingerTimeout = 2 * time.Second
	lingerBytes   = 64 << 20
	// maxLingering bounds the connections lingering at once; past it a
	// connection closes at once, so a flood of oversized requests cannot
	// pin goroutines and sockets.
	maxLingering = 256
)

// lingerListener wraps accepted connections in lingerConns.
type lingerListener struct {
	net.Listener
	active *atomic.Int64 // lingering connections, shared by the listener's conns
}

func newLingerListener(ln net.Listener) net.Listener {
	return &lingerListener{Listener: ln, active: new(atomic.Int64)}
}

// Accept implements net.Listener.
func (l *lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c, active: l.active}, nil
}

// lingerConn is a connection that can be asked to close lingeringly.
type lingerConn struct {
	net.Conn
	linger atomic.Bool
	active *atomic.Int64
}

// lingerOnClose asks c, when it is a lingerConn, to close lingeringly.
func lingerOnClose(c net.Conn) {
	if lc, ok := c.(*lingerConn); ok {
		lc.linger.Store(true)
	}
}

// Close implements net.Conn: at once, or after draining the client's unread
// request when lingerOnClose asked for it.
func (c *lingerConn) Close() error {
	if !c.linger.Load() {
		return c.Conn.Close()
	}
	if c.active.Add(1) > maxLingering {
		c.active.Add(-1)
		return c.Conn.Close()
	}
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.Conn.(closeWriter); ok {
		_ = cw.CloseWrite() // the reply is flushed: send FIN, keep reading
	}
	go func() {
		defer c.active.Add(-1)
		_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTimeout))
		_, _ = io.CopyN(io.Discard, c.Conn, lingerBytes)
		_ = c.Conn.Close()
	}()
	return nil
}
