//go:build contractoff

package gateway

import (
	"net/http"
	"testing"
)

// The fuzz smoke of FuzzAgentRequest builds this package's tests with
// coverage instrumentation, which takes minutes for the OpenAPI validator
// and its dependencies; it runs with -tags contractoff, which swaps the
// contract check (contract_test.go) for this pass-through. Every other run
// of the package's tests validates every reply.

func checkContract(testing.TB, *http.Request, *http.Response, []byte) {}

func contractClient(_ testing.TB, base *http.Transport) *http.Client {
	if base == nil {
		return http.DefaultClient
	}
	return &http.Client{Transport: base}
}
