package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") != "k3y" {
			http.Error(w, `{"error":{"code":"no_credential"}}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"not ready","reason":"spool full"}`))
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	env := func(k string) func(string) string {
		return func(name string) string {
			if name == "XUNJIAN_PROBE_KEY" {
				return k
			}
			return ""
		}
	}
	for _, c := range []struct {
		name string
		args []string
		key  string
		want int
		out  string
	}{
		{"ok with the key", []string{srv.URL + "/healthz"}, "k3y", 0, "200 OK"},
		{"no key", []string{srv.URL + "/healthz"}, "", 1, "401"},
		{"not ready", []string{srv.URL + "/readyz"}, "k3y", 1, "spool full"},
		{"another variable", []string{"--key-env", "OTHER", srv.URL + "/healthz"}, "k3y", 1, "401"},
		{"nothing listening", []string{"http://127.0.0.1:1/healthz"}, "k3y", 1, "xunjian-probe:"},
		{"not loopback", []string{"http://192.0.2.1:8081/readyz"}, "k3y", 2, ""},
		{"https", []string{"https://127.0.0.1:8081/readyz"}, "k3y", 2, ""},
		{"no URL", nil, "k3y", 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if got := run(c.args, env(c.key), &out, &errb); got != c.want {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", got, c.want, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), c.out) {
				t.Errorf("stdout %q, want it to contain %q", out.String(), c.out)
			}
		})
	}
}
