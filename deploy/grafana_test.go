package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// registered reports whether reg holds a metric named name, whatever its
// labels and whether it has any series yet (Gather omits a vector with
// none): registering a probe of that name fails exactly when a collector
// already describes one (same name with other labels or help, or the same
// descriptor).
func registered(reg *prometheus.Registry, name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: name, Help: "deploy's probe for a registered name", ConstLabels: prometheus.Labels{"deploy_probe": "1"},
	})
	if err := reg.Register(probe); err != nil {
		return true
	}
	reg.Unregister(probe)
	return false
}

// metricName matches the metric names the dashboard may use: the
// gateway's and the console's, Go's and the process's.
var metricName = regexp.MustCompile(`\b(?:xunjian|process|go)_[a-zA-Z0-9_:]*`)

// quoted strips PromQL string literals (label values, such as
// "$gateway_job").
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// TestDashboard: deploy/grafana/xunjian.json parses, its panels are well
// formed, and every metric name its queries use is one the gateway or the
// console built from the Kubernetes configuration registers.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/xunjian.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID, Title string
		Panels     []json.RawMessage
		Templating struct {
			List []struct {
				Name       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana/xunjian.json: %v", err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Error("the dashboard has no uid or title")
	}
	type panel struct {
		ID         int
		Type       string
		Title      string
		GridPos    struct{ H, W, X, Y int }
		Datasource *struct{ Type, UID string }
		Targets    []struct{ RefID, Expr string }
		Panels     []json.RawMessage
	}
	var exprs []string // "title: expr"
	ids := map[int]bool{}
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatal(err)
			}
			if ids[p.ID] {
				t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
				t.Errorf("panel %q: gridPos %+v off the 24-column grid", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no query", p.Title)
			}
			if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: datasource %+v, want the dashboard's Prometheus variable", p.Title, p.Datasource)
			}
			for _, tg := range p.Targets {
				if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
					t.Errorf("panel %q, query %s: unbalanced brackets: %s", p.Title, tg.RefID, tg.Expr)
				}
				exprs = append(exprs, p.Title+": "+tg.Expr)
			}
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			exprs = append(exprs, "variable "+v.Name+": "+v.Definition)
		}
	}

	r := render(t)
	_, gcfg, genv, _ := gatewayConfig(t, r)
	_, ccfg, cenv, _ := consoleConfig(t, r)
	regs := []*prometheus.Registry{startGateway(t, gcfg, genv).Metrics().Registry(), startConsole(t, ccfg, cenv).Registry()}
	known := func(name string) bool {
		for _, reg := range regs {
			if registered(reg, name) {
				return true
			}
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && registered(reg, base) {
					return true
				}
			}
		}
		return false
	}
	var used []string
	for _, e := range exprs {
		title, expr, _ := strings.Cut(e, ": ")
		names := metricName.FindAllString(quoted.ReplaceAllString(expr, `""`), -1)
		if len(names) == 0 {
			t.Errorf("%s: the query names no metric: %s", title, expr)
		}
		for _, n := range names {
			if !known(n) {
				t.Errorf("%s: %s is not a metric the gateway or the console registers", title, n)
			}
			used = append(used, n)
		}
	}
	if !slices.Contains(used, "xunjian_console_consumer_lag") || !slices.Contains(used, "xunjian_request_duration_seconds_bucket") {
		t.Error("the dashboard lost its latency or consumer-lag panel")
	}
	t.Logf("%d queries over %d metric names", len(exprs), len(slices.Compact(slices.Sorted(slices.Values(used)))))
}
