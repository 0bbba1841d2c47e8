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

// WriteTable prints the report as one Markdown table of the targets, the
// ratios and budget checks under it, then the notes and, if present, the
// PII comparison.
func (r *Report) WriteTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Machine: %d cores, %s, %s, Go %s, OPA %s, commit %s (load average at start: %s)\n",
		m.Cores, m.CPUModel, m.OS, strings.TrimPrefix(m.Go, "go"), orDash(m.OPA), orDash(m.Commit), orDash(m.LoadAvg))
	s := r.Settings
	fmt.Fprintf(w, "Load: %s messages from %s (%d conversations, %d agents; planted %s).\n",
		thousands(float64(s.Messages)), strings.Join(s.Corpora, ", "), s.Conversations, s.Agents, plantedString(s.Planted))
	fmt.Fprintf(w, "Peak: closed loop, %d connections, %s per target after a %s warm-up, in %d interleaved rounds (median round). Latency: open loop at %s req/s (%s), %d connections, %s per target in the same rounds, measured from the intended send time.\n\n",
		s.Conns, s.Duration, s.Warmup, s.Rounds, thousands(s.Rate), s.RateRule, s.OpenConns, s.Duration)

	fmt.Fprintln(w, "| target | peak req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | answers at the fixed rate |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|")
	for _, t := range r.Targets {
		l := t.Fixed.Latency
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", t.Name, thousands(t.Peak.Throughput),
			ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max), answers(t))
	}
	fmt.Fprintln(w)
	for _, c := range r.Budget {
		verdict := "met"
		if !c.Met {
			verdict = "MISSED"
		}
		v := fmt.Sprintf("%.2f", c.Value)
		if strings.Contains(c.Name, "µs") {
			v = fmt.Sprintf("%.0f µs", c.Value)
		}
		fmt.Fprintf(w, "- %s: %s (budget %s: %s)\n", strings.TrimSuffix(c.Name, " (µs)"), v, c.Target, verdict)
	}
	if r.Ratios.NoCacheOverProxy > 0 || r.Ratios.NoCacheAddedP99 != 0 {
		fmt.Fprintf(w, "- xunjian-nocache: throughput / proxy %.2f, added p99 %.0f µs\n", r.Ratios.NoCacheOverProxy, r.Ratios.NoCacheAddedP99)
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
