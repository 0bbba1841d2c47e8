package proxy

import (
	"strings"
	"testing"
	"time"
)

// TestRouteDefaultsAndValidate: Defaults fills what a configuration file
// may leave out (not the method, which the file must name), and Validate
// names each fault by its YAML path under the path it is given.
func TestRouteDefaultsAndValidate(t *testing.T) {
	r := Route{Method: "post", Path: "/send", Upstream: "http://127.0.0.1:9000", Text: "/t"}
	r.Defaults()
	if r.Method != "POST" || r.Name != "POST /send" || r.Timeout.D() != 5*time.Second {
		t.Errorf("Defaults = %+v", r)
	}
	if err := r.Validate("routes[0]"); err != nil {
		t.Errorf("Validate = %v", err)
	}
	bad := Route{Path: "send", Texts: []string{"/ok", "html"}, Roles: []string{"agent", "admin"}, Conversation: "cid"}
	bad.Defaults()
	err := bad.Validate("routes[3]")
	for _, want := range []string{
		"routes[3].method: missing", `routes[3].path: "send": want a path starting with /`, "routes[3].upstream: missing",
		"routes[3].text: missing", `routes[3].conversation: "cid" is not a JSON pointer`, `routes[3].texts[1]: "html" is not a JSON pointer`,
		`routes[3].roles[1]: "admin": want agent or customer`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to contain %q", err, want)
		}
	}
}
