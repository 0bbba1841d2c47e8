// Package loopback tells whether a listening or dialling address stays on
// this machine: the gateway refuses to listen beyond it without
// credentials, the built-in broker never leaves it, and the load
// generator talks to nothing else.
package loopback

import "net"

// Addr reports whether addr (host:port) names a loopback address only:
// 127.0.0.0/8, ::1 or localhost.
func Addr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
