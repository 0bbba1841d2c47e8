// Package loopback tells whether a listening or dialling address stays on
// this machine: the gateway and the console refuse to listen beyond it
// without credentials, the built-in broker never leaves it, the load
// generator talks to nothing else, and a secret travels in clear (plain
// http) only to it.
package loopback

import (
	"net"
	"strings"
)

// Addr reports whether addr (host:port) names a loopback address only:
// 127.0.0.0/8, ::1 or localhost.
func Addr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && Host(host)
}

// Host reports whether host (no port) names a loopback address only:
// 127.0.0.0/8, ::1 or localhost (in any case).
func Host(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
