package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// WriteTable prints the report: the machine and pinning, one line per
// scenario, one Markdown table with a line per target and scenario (the
// headline first) and the cache hit rates beside each phase's figures, the
// ratios and budget checks under it, then the notes and, if present, the
// PII comparison.
func (r *Report) WriteTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Machine: %d cores, %s, %s, Go %s, OPA %s, commit %s (load average at start: %s)\n",
		m.Cores, m.CPUModel, m.OS, strings.TrimPrefix(m.Go, "go"), orDash(m.OPA), orDash(m.Commit), orDash(m.LoadAvg))
	fmt.Fprintf(w, "Pinning: %s\n", r.Pinning.describe())
	s := r.Settings
	if len(s.GatewayEnv) > 0 {
		fmt.Fprintf(w, "Gateways' environment: %s (the deployment's Go runtime settings, deploy/k8s/gateway-deployment.yaml).\n", strings.Join(s.GatewayEnv, " "))
	}
	fmt.Fprintf(w, "Peak: closed loop, %d connections, %s per target after a %s warm-up, in %d interleaved rounds (median round). Latency: open loop at the scenario's fixed rate, %d connections, %s per target in the same rounds, measured from the intended send time. Cache hits: the gateway's findings / decision cache hit rate in that phase, from its /metrics before and after each run.\n",
		s.Conns, s.Duration, s.Warmup, s.Rounds, s.OpenConns, s.Duration)
	for i, sc := range r.Scenarios {
		tag := ""
		if i == 0 && len(r.Scenarios) > 1 {
			tag = " (headline)"
		}
		fmt.Fprintf(w, "- %s%s: %s Fixed rate %s req/s (%s).\n", sc.Name, tag, sc.Load.describe(), thousands(sc.Rate), sc.RateRule)
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "| target | scenario | peak req/s | cache hits at peak (findings / decision) | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | cache hits at the fixed rate | answers at the fixed rate |")
	fmt.Fprintln(w, "|---|---|---:|---|---:|---:|---:|---:|---:|---|---|")
	if h := r.Headline(); h != nil {
		for _, ht := range h.Targets {
			for i, sc := range r.Scenarios {
				t := sc.Target(ht.Name)
				if t == nil {
					continue
				}
				name := t.Name
				if i > 0 {
					name = ""
				}
				l := t.Fixed.Latency
				var peak, fixed *PhaseCache
				if t.Cache != nil {
					peak, fixed = t.Cache.Peak, t.Cache.Fixed
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, sc.Name, thousands(t.Peak.Throughput),
					cacheString(t, peak), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max), cacheString(t, fixed), answers(*t))
			}
		}
	}
	fmt.Fprintln(w)
	for _, c := range r.Budget {
		verdict := "met"
		if !c.Met {
			verdict = "MISSED"
		}
		line := fmt.Sprintf("- %s: %s (budget %s: %s)", strings.TrimSuffix(c.Name, " (µs)"), checkValue(c), c.Target, verdict)
		for _, sc := range r.Scenarios[1:] {
			for _, o := range sc.Budget {
				if o.Name == c.Name {
					line += fmt.Sprintf("; %s: %s", sc.Name, checkValue(o))
				}
			}
		}
		fmt.Fprintln(w, line)
	}
	for _, sc := range r.Scenarios {
		if sc.Ratios.NoCacheOverProxy > 0 || sc.Ratios.NoCacheAddedP99 != 0 {
			fmt.Fprintf(w, "- xunjian-nocache (%s): throughput / proxy %.2f, added p99 %.0f µs\n", sc.Name, sc.Ratios.NoCacheOverProxy, sc.Ratios.NoCacheAddedP99)
		}
	}
	for _, sc := range r.Scenarios {
		for _, n := range sc.Notes {
			fmt.Fprintf(w, "- %s: %s\n", sc.Name, n)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(r.Profiles) > 0 {
		fmt.Fprintf(w, "- profiles: %s\n", strings.Join(r.Profiles, ", "))
	}
	if r.PII != nil {
		fmt.Fprintln(w)
		r.PII.WriteTable(w)
	}
}

// describe says what a scenario's messages are, in a sentence or two.
func (l LoadInfo) describe() string {
	if t := l.Traffic; t != nil {
		return fmt.Sprintf("%s messages from %s: %s conversations (%d open at once), %d agents; %s agent drafts and %s customer messages (%s follow-ups before an answer, %s complaints); unique: all but %s quick replies (%.1f%% of agent drafts); planted %s.",
			thousands(float64(l.Messages)), strings.Join(l.Corpora, ", "), thousands(float64(l.Conversations)), t.Open, l.Agents,
			thousands(float64(t.Agent)), thousands(float64(t.Customer)), thousands(float64(t.FollowUps)), thousands(float64(t.Complaints)),
			thousands(float64(t.Quick)), 100*float64(t.Quick)/float64(max(t.Agent, 1)), plantedString(l.Planted))
	}
	return fmt.Sprintf("%s agent drafts from %s (%d conversations, %d agents; planted %s), %s.",
		thousands(float64(l.Messages)), strings.Join(l.Corpora, ", "), l.Conversations, l.Agents, plantedString(l.Planted), l.Sequence)
}

// cacheString is a phase's cache hit rates: findings / decision, "off"
// for a cache with no look-ups; "none" for a target without caches, "–"
// for one that inspects nothing.
func cacheString(t *TargetResult, p *PhaseCache) string {
	switch {
	case t.Name == Direct || t.Name == Proxy:
		return "–"
	case t.Cache == nil:
		return "none"
	case p == nil:
		return "?"
	}
	rate := func(c CacheCount) string {
		if c.HitRate == nil {
			return "off"
		}
		return fmt.Sprintf("%.1f%%", 100**c.HitRate)
	}
	return rate(p.Findings) + " / " + rate(p.Decision)
}

func checkValue(c Check) string {
	if strings.Contains(c.Name, "µs") {
		return fmt.Sprintf("%.0f µs", c.Value)
	}
	return fmt.Sprintf("%.2f", c.Value)
}

// WriteJSON writes the report, indented, to path (creating its folder).
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// answers summarizes the fixed-rate phase's answers by status, with
// failures and drops.
func answers(t TargetResult) string {
	res := t.Fixed
	total := float64(res.Requests)
	var parts []string
	for _, st := range res.StatusList() {
		n := res.Statuses[st]
		if pct := 100 * float64(n) / total; pct >= 0.1 {
			parts = append(parts, fmt.Sprintf("%d: %.1f%%", st, pct))
		} else {
			parts = append(parts, fmt.Sprintf("%d: %d", st, n))
		}
	}
	if res.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", res.Errors))
	}
	if res.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d not sent (overloaded)", res.Dropped))
	}
	if res.Rate > 0 && res.Throughput < 0.95*res.Rate {
		parts = append(parts, fmt.Sprintf("achieved %s req/s", thousands(res.Throughput)))
	}
	return strings.Join(parts, ", ")
}

func ms(us float64) string { return fmt.Sprintf("%.3f", us/1000) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// thousands formats v rounded to an integer with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func plantedString(p map[string]int) string {
	if len(p) == 0 {
		return "nothing"
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, p[k])
	}
	return strings.Join(parts, ", ")
}
