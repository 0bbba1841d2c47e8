package loopback

import "testing"

func TestAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:1": true, "127.3.4.5:1": true, "127.0.0.1:80": true, "[::1]:9092": true, "localhost:80": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.1:80": false, "10.1.1.1:80": false, "0.0.0.0:80": false, ":80": false, "[::]:80": false,
		"example.com:80": false, "127.0.0.1": false, "": false,
	} {
		if got := Addr(addr); got != want {
			t.Errorf("Addr(%q) = %v, want %v", addr, got, want)
		}
	}
}
