// Command xunjian-probe asks an endpoint of the process beside it whether
// it is up, for probes that must carry a secret: the gateway's admin port
// answers /readyz and /metrics only to an admin key once admin keys are
// configured (which listening beyond loopback requires), and neither a
// Kubernetes httpGet probe nor Docker's HEALTHCHECK can take a header
// from a Secret. The image ships it beside xunjian (a distroless image
// has no curl):
//
//	xunjian-probe [--key-env NAME] [--timeout 2s] http://127.0.0.1:8081/readyz
//
// It sends GET with X-API-Key set to the value of the environment
// variable --key-env names (XUNJIAN_PROBE_KEY by default; unset or empty:
// no key), prints the status and the start of the body, and exits 0 on a
// 2xx answer, 1 on any other answer or none, 2 on a usage error. The URL
// must be plain http to a loopback address: the key never leaves the
// machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/xunjian/xunjian/internal/loopback"
)

func main() { os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }

// maxBody bounds what is read and printed of the answer.
const maxBody = 2048

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xunjian-probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyEnv := fs.String("key-env", "XUNJIAN_PROBE_KEY", "environment variable holding the admin key sent as X-API-Key (unset or empty: none is sent)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the whole answer")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xunjian-probe [--key-env NAME] [--timeout D] http://127.0.0.1:PORT/PATH")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	u, err := url.Parse(fs.Arg(0))
	if err != nil || u.Scheme != "http" || !loopback.Host(u.Hostname()) {
		fmt.Fprintf(stderr, "xunjian-probe: %q: want an http:// URL on a loopback address (the key stays on this machine)\n", fs.Arg(0))
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "xunjian-probe:", err)
		return 2
	}
	if key := getenv(*keyEnv); key != "" {
		req.Header.Set("X-API-Key", key)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stdout, "xunjian-probe:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	fmt.Fprintf(stdout, "%s %s\n", resp.Status, body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 1
	}
	return 0
}
