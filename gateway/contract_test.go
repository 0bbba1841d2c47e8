//go:build !contractoff

package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/xunjian/xunjian/gateway/errcode"
)

// The contract test: every reply the gateway tests receive over HTTP is
// validated against docs/openapi.yaml (status, headers, body), so the
// document a client generates code from says what the server does.

// openAPI is the validator of docs/openapi.yaml, built once.
var openAPI = sync.OnceValues(func() (validator.Validator, error) {
	spec, err := os.ReadFile(filepath.Join("..", "docs", "openapi.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, fmt.Errorf("parse docs/openapi.yaml: %w", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("build the validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		var msgs []string
		for _, e := range verrs {
			msgs = append(msgs, e.Error())
		}
		return nil, fmt.Errorf("docs/openapi.yaml is not a valid OpenAPI 3.1 document: %s", strings.Join(msgs, "; "))
	}
	return v, nil
})

// specPaths are the paths the document lists as they are; any other
// request path (a configured proxy route, or a path no route serves) is
// validated as the /{proxy_route} operation, which stands for them all.
var specPaths = map[string]string{
	"/v1/check": "POST", "/v1/events": "POST", "/healthz": "GET", "/readyz": "GET", "/metrics": "GET",
	"/v1/policy": "GET", "/v1/policy/reload": "POST", "/v1/policy/rollback": "POST",
}

// checkContract validates one exchange; raw is the reply's body.
func checkContract(t testing.TB, req *http.Request, resp *http.Response, raw []byte) {
	t.Helper()
	v, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	u := *req.URL
	method := req.Method
	doc, known := specPaths[u.Path]
	switch {
	case strings.HasPrefix(u.Path, "/debug/pprof/"):
		return // Go's own profiles, documented as opaque
	case !known:
		u.Path, u.RawPath, method = "/proxy_route", "", "POST"
	case resp.StatusCode == http.StatusMethodNotAllowed:
		// 405 is documented on the operation the path serves.
		method = doc
	}
	vreq, _ := http.NewRequest(method, (&url.URL{Scheme: "http", Host: "gateway", Path: u.Path, RawQuery: u.RawQuery}).String(), nil)
	vreq.Header = req.Header.Clone()
	vresp := &http.Response{StatusCode: resp.StatusCode, Header: resp.Header.Clone(), Body: io.NopCloser(bytes.NewReader(raw)), Request: vreq}
	if ok, errs := v.ValidateHttpResponse(vreq, vresp); !ok {
		for _, e := range errs {
			detail := e.Reason
			for _, f := range e.SchemaValidationErrors {
				detail += "; " + f.Reason + " at " + f.FieldPath
			}
			t.Errorf("reply to %s %s breaks docs/openapi.yaml: %s: %s (%s)\nreply %d %s", req.Method, req.URL.Path, e.Message, detail, e.HowToFix, resp.StatusCode, truncate(raw))
		}
	}
	if resp.StatusCode >= 400 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		// Statuses as the error table has them.
		if code, ok := errcode.Parse(errorCodeOf(raw)); ok && !code.Allows(resp.StatusCode) {
			t.Errorf("%s %s: code %s with status %d; the table gives %v", req.Method, req.URL.Path, code, resp.StatusCode, code.Statuses())
		}
	}
}

func errorCodeOf(raw []byte) string {
	var b errorBody
	_ = json.Unmarshal(raw, &b)
	return b.Error.Code
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// contractTransport validates every reply it carries.
type contractTransport struct {
	t    testing.TB
	base http.RoundTripper
}

func (c contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	checkContract(c.t, req, resp, raw)
	return resp, nil
}

// contractClient is an HTTP client whose every reply is checked against
// the OpenAPI document; base nil means http.DefaultTransport.
func contractClient(t testing.TB, base *http.Transport) *http.Client {
	var rt http.RoundTripper = http.DefaultTransport
	if base != nil {
		rt = base
	}
	return &http.Client{Transport: contractTransport{t: t, base: rt}}
}

// TestOpenAPIDocument: the document is valid OpenAPI 3.1 and lists exactly
// the error code table.
func TestOpenAPIDocument(t *testing.T) {
	if _, err := openAPI(); err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile(filepath.Join("..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := m.Model.Components.Schemas.Get("ErrorCode")
	if !ok {
		t.Fatal("no ErrorCode schema")
	}
	var listed []string
	for _, n := range s.Schema().Enum {
		listed = append(listed, n.Value)
	}
	var table []string
	for _, c := range errcode.All() {
		table = append(table, c.String())
	}
	if strings.Join(listed, " ") != strings.Join(table, " ") {
		t.Errorf("ErrorCode enum in docs/openapi.yaml:\n%s\nthe table (gateway/errcode), in its order:\n%s", strings.Join(listed, ", "), strings.Join(table, ", "))
	}
	for _, h := range []string{HeaderAction, HeaderDecision, HeaderRules, HeaderRedacted, HeaderRedactedOmitted, HeaderFailOpen, AckHeader} {
		if !bytes.Contains(spec, []byte(h+":")) {
			t.Errorf("docs/openapi.yaml does not document the header %s", h)
		}
	}
}

// TestContractCatchesDrift: the check fails a reply the document does not
// allow, so the contract test can fail.
func TestContractCatchesDrift(t *testing.T) {
	req, _ := http.NewRequest("POST", "http://gateway/v1/check", nil)
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"unknown field in a verdict", 200, `{"decision_id":"d","action":"allow","findings":[],"reasons":[],"policy_revision":"r","latency_us":1,"surprise":1}`},
		{"unknown action", 200, `{"decision_id":"d","action":"maybe","findings":[],"reasons":[],"policy_revision":"r","latency_us":1}`},
		{"error code not in the table", 400, `{"error":{"code":"too_large","message":"m"}}`},
		{"undocumented status", 418, `{"error":{"code":"internal","message":"m"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{"Content-Type": {"application/json"}}}
			checkContract(rec, req, resp, []byte(tc.body))
			if !rec.failed {
				t.Errorf("%s passed the contract", tc.body)
			}
		})
	}
}

// recordingTB records failures instead of failing the test.
type recordingTB struct {
	testing.TB
	failed bool
}

func (r *recordingTB) Errorf(string, ...any) { r.failed = true }
func (r *recordingTB) Helper()               {}
