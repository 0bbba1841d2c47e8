package deploy

import (
	"os"
	"strings"
	"testing"
)

// TestEnvoy: deploy/lb/envoy.yaml hashes on the conversation header onto
// the gateways' agent port, by ring hash or Maglev, and checks /readyz on
// the admin port of the Kubernetes gateways.
func TestEnvoy(t *testing.T) {
	docs := decodeYAML(t, "lb/envoy.yaml")
	if len(docs) != 1 {
		t.Fatalf("%d documents", len(docs))
	}
	e := docs[0]
	r := render(t)
	d := r.deployment(t, "xunjian-gateway")
	agent, admin := d.port("agent"), d.port("admin")

	clusters := map[string]obj{}
	for _, c := range list(e, "static_resources", "clusters") {
		clusters[str(c, "name")] = c.(obj)
	}
	routes := 0
	for _, l := range list(e, "static_resources", "listeners") {
		for _, fc := range list(l, "filter_chains") {
			for _, f := range list(fc, "filters") {
				for _, vh := range list(f, "typed_config", "route_config", "virtual_hosts") {
					for _, rt := range list(vh, "routes") {
						routes++
						c := clusters[str(rt, "route", "cluster")]
						if c == nil {
							t.Fatalf("route to cluster %q, which is not defined", str(rt, "route", "cluster"))
						}
						if p := str(c, "lb_policy"); p != "RING_HASH" && p != "MAGLEV" {
							t.Errorf("cluster %s: lb_policy %q, want RING_HASH or MAGLEV", str(c, "name"), p)
						}
						hp := list(rt, "route", "hash_policy")
						if strings.ToLower(str(hp, 0, "header", "header_name")) != "x-conversation-id" {
							t.Errorf("route: the first hash_policy must be the header X-Conversation-Id, got %v", get(hp, 0))
						}
						for _, ep := range list(c, "load_assignment", "endpoints", 0, "lb_endpoints") {
							if p := num(ep, "endpoint", "address", "socket_address", "port_value"); p != agent {
								t.Errorf("endpoint port %d, want the agent port %d", p, agent)
							}
							if p := num(ep, "endpoint", "health_check_config", "port_value"); p != admin {
								t.Errorf("health check port %d, want the admin port %d", p, admin)
							}
							if a := str(ep, "endpoint", "address", "socket_address", "address"); !strings.HasPrefix(a, "xunjian-gateway-pods.") || r.find("Service", "xunjian-gateway-pods") == nil {
								t.Errorf("endpoint address %q: want the headless Service xunjian-gateway-pods", a)
							}
						}
						if str(c, "health_checks", 0, "http_health_check", "path") != "/readyz" {
							t.Errorf("cluster %s: want an HTTP health check of /readyz", str(c, "name"))
						}
					}
				}
			}
		}
	}
	if routes == 0 {
		t.Fatal("no route")
	}
}

// TestNginx: deploy/lb/nginx.conf hashes consistently on the
// conversation, the header first. (nginx -t checks the syntax where nginx
// is installed; deploy/README.md.)
func TestNginx(t *testing.T) {
	b, err := os.ReadFile("lb/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, want := range []string{
		"hash $xunjian_conversation consistent;",
		"map $http_x_conversation_id $xunjian_conversation {",
		"default                                    $request_id;",
		"proxy_pass http://xunjian_gateways;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("lb/nginx.conf lacks %q", want)
		}
	}
	if strings.Count(conf, "{") != strings.Count(conf, "}") {
		t.Error("lb/nginx.conf: unbalanced braces")
	}
}
