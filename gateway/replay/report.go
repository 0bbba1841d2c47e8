package replay

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream/scrub"
	"github.com/xunjian/xunjian/rules"
)

// Report is what changed between the two policy versions over one input:
// the outcome of Run. It holds no raw private data (see the package
// comment). Its JSON form is the `xunjian replay --json` output.
type Report struct {
	// Baseline and New identify the two policy versions.
	Baseline Version `json:"baseline"`
	New      Version `json:"new"`
	// Messages counts the non-blank input lines, Replayed those replayed
	// through both versions and Skipped the others, by reason in
	// SkipReasons (most frequent first).
	Messages    int    `json:"messages"`
	Replayed    int    `json:"replayed"`
	Skipped     int    `json:"skipped"`
	SkipReasons []Skip `json:"skip_reasons"`
	// Changed counts the replayed messages whose outcome changed: their
	// action, the rules that fired or the alerts raised. ActionChanged
	// counts those whose action changed.
	Changed       int `json:"changed"`
	ActionChanged int `json:"action_changed"`
	// Transitions counts the replayed messages by baseline action and new
	// action, unchanged pairs (allow→allow) included, ordered by the
	// baseline action, then the new one.
	Transitions []Transition `json:"transitions"`
	// Rules counts how often each rule fired (Verdict.Reasons[].Rule: one
	// per reason, so a message may count twice) under each version; Alerts
	// counts alerts by "kind/level". Largest change first, then by name.
	Rules  []Count `json:"rules"`
	Alerts []Count `json:"alerts"`
	// Changes lists the first changed messages in input order, at most
	// Options.Show of them.
	Changes []Change `json:"changes"`
	// Gate is the verdict of Options.FailOn; nil when it was zero.
	Gate *Gate `json:"gate,omitempty"`
	// Opinions counts the second opinions asked about the new version's
	// verdicts; nil when Options.Opinion was.
	Opinions *Opinions `json:"opinions,omitempty"`
}

// Opinions counts the second opinions of a replay, and where they
// disagree with the new policy: what a tenant would see before enforcing
// them.
type Opinions struct {
	// Asked counts the messages a second opinion was asked about.
	Asked int `json:"asked"`
	// Results counts them by result: ok, harmful, or why there was none
	// (timeout, busy, unavailable, bad_answer, …).
	Results map[string]int `json:"results"`
	// Applied counts the opinions that changed the new action (tenants
	// that enforce them).
	Applied int `json:"applied"`
	// HarmfulReleased counts harmful opinions on drafts the new policy
	// released (allow, warn, redact); OKHeld ok opinions on drafts it held
	// or blocked.
	HarmfulReleased int `json:"harmful_released"`
	OKHeld          int `json:"ok_held"`
}

// Version identifies one policy version of a replay.
type Version struct {
	// Revision is the bundle's revision (rules.Policy.Revision).
	Revision string `json:"revision"`
	// Source is where the bundle came from, as the caller names it (a
	// path, "built-in"); Run leaves it empty.
	Source string `json:"source,omitempty"`
}

// Skip counts the lines skipped for one reason.
type Skip struct {
	// Reason is one of the Skip* codes.
	Reason string `json:"reason"`
	Count  int    `json:"count"`
	// Lines are the first few skipped line numbers (1-based).
	Lines []int `json:"lines"`
}

// Transition counts the messages whose action went from From to To.
type Transition struct {
	From  rules.Action `json:"from"`
	To    rules.Action `json:"to"`
	Count int          `json:"count"`
	// Direction is "same", "stricter" or "looser".
	Direction string `json:"direction"`
	// Gated is set when Options.FailOn matches this transition.
	Gated bool `json:"gated,omitempty"`
}

// String renders the transition as "from→to".
func (t Transition) String() string { return t.From.String() + "→" + t.To.String() }

// Count is how often one rule (or alert) fired under each version.
type Count struct {
	Name     string `json:"name"`
	Baseline int    `json:"baseline"`
	New      int    `json:"new"`
	// Delta is New − Baseline.
	Delta int `json:"delta"`
}

func (c *Count) add(version int) {
	if version == 0 {
		c.Baseline++
	} else {
		c.New++
	}
	c.Delta = c.New - c.Baseline
}

// Change is one message whose outcome changed.
type Change struct {
	// Line is the 1-based input line; ID the line's id or the event_id.
	Line           int    `json:"line"`
	ID             string `json:"id,omitempty"`
	Tenant         string `json:"tenant"`
	ConversationID string `json:"conversation_id,omitempty"`
	AgentID        string `json:"agent_id,omitempty"`
	Role           string `json:"role"`
	// TextMasked is the message with its private data masked.
	TextMasked string  `json:"text_masked"`
	Baseline   Outcome `json:"baseline"`
	New        Outcome `json:"new"`
}

// Outcome is one version's verdict on a changed message, without raw text.
type Outcome struct {
	Action   rules.Action  `json:"action"`
	Reasons  []Reason      `json:"reasons"`
	Alerts   []rules.Alert `json:"alerts"`
	Findings []Finding     `json:"findings"`
	// Opinion is the second opinion on the message, if one was asked.
	Opinion *Opinion `json:"opinion,omitempty"`
}

// Opinion is a second opinion as a replay reports it.
type Opinion struct {
	// Result is ok, harmful, or why there was none.
	Result string   `json:"result"`
	Kinds  []string `json:"kinds,omitempty"`
	// Reason is the opinion's reason, scrubbed.
	Reason  string `json:"reason,omitempty"`
	Mode    string `json:"mode"`
	Applied bool   `json:"applied,omitempty"`
}

// Reason is one rule that fired, as Verdict.Reasons has it.
type Reason struct {
	Rule    string       `json:"rule"`
	Action  rules.Action `json:"action"`
	Message string       `json:"message"`
}

// Finding is one detector finding of a changed message: its taxonomy name,
// severity, span and masked evidence.
type Finding struct {
	// Name is "detector.kind".
	Name     string             `json:"name"`
	Severity detectors.Severity `json:"severity"`
	Start    int                `json:"start"`
	End      int                `json:"end"`
	Evidence string             `json:"evidence"`
}

// Gate is the outcome of Options.FailOn.
type Gate struct {
	// FailOn is the list of classes, as given.
	FailOn string `json:"fail_on"`
	// Failed is set when at least one message made a gated transition.
	Failed bool `json:"failed"`
	// Messages counts the messages that made a gated transition;
	// Transitions lists those transitions.
	Messages    int          `json:"messages"`
	Transitions []Transition `json:"transitions"`
}

// Failed reports whether a gated transition occurred.
func (r *Report) Failed() bool { return r.Gate != nil && r.Gate.Failed }

func outcome(v *inspect.Verdict) Outcome {
	o := Outcome{
		Action:   v.Action,
		Reasons:  make([]Reason, len(v.Reasons)),
		Alerts:   make([]rules.Alert, len(v.Alerts)),
		Findings: make([]Finding, len(v.Findings)),
	}
	for i, r := range v.Reasons {
		o.Reasons[i] = Reason{Rule: r.Rule, Action: r.Action, Message: scrub.Text(r.Message)}
	}
	for i, a := range v.Alerts {
		o.Alerts[i] = rules.Alert{Level: a.Level, Kind: a.Kind, Message: scrub.Text(a.Message)}
	}
	for i, f := range v.Findings {
		o.Findings[i] = Finding{Name: f.Name(), Severity: f.Severity, Start: f.Start, End: f.End, Evidence: scrub.Text(f.Evidence)}
	}
	if op := v.Opinion; op != nil {
		o.Opinion = &Opinion{Result: opinionResult(op), Kinds: op.Kinds, Reason: scrub.Text(op.Reason), Mode: op.Mode, Applied: op.Applied}
	}
	return o
}

// opinionResult is an opinion's verdict, or its error when it has none.
func opinionResult(op *inspect.Opinion) string {
	if op.Verdict != "" {
		return op.Verdict
	}
	return op.Error
}

// count adds the new version's second opinion, if any, to o.
func (o *Opinions) count(v *inspect.Verdict) {
	op := v.Opinion
	if o == nil || op == nil {
		return
	}
	o.Asked++
	o.Results[opinionResult(op)]++
	if op.Applied {
		o.Applied++
	}
	switch {
	case op.Verdict == inspect.OpinionHarmful && v.Action < rules.Confirm:
		o.HarmfulReleased++
	case op.Verdict == inspect.OpinionOK && v.Action >= rules.Confirm:
		o.OKHeld++
	}
}

// finish sorts the counts into the report.
func (rp *replayer) finish() *Report {
	r := &rp.report
	for _, s := range rp.skipped {
		r.Skipped += s.Count
		r.SkipReasons = append(r.SkipReasons, *s)
	}
	slices.SortFunc(r.SkipReasons, func(a, b Skip) int {
		return cmp.Or(b.Count-a.Count, strings.Compare(a.Reason, b.Reason))
	})
	for pair, n := range rp.trans {
		t := Transition{From: pair[0], To: pair[1], Count: n, Direction: direction(pair[0], pair[1]), Gated: rp.opts.FailOn.Match(pair[0], pair[1])}
		r.Transitions = append(r.Transitions, t)
	}
	byPair := func(a, b Transition) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) }
	slices.SortFunc(r.Transitions, byPair)
	r.Rules, r.Alerts = sortedCounts(rp.rules), sortedCounts(rp.alerts)
	if !rp.opts.FailOn.IsZero() {
		g := &Gate{FailOn: rp.opts.FailOn.String(), Transitions: []Transition{}}
		for _, t := range r.Transitions {
			if t.Gated {
				g.Messages += t.Count
				g.Transitions = append(g.Transitions, t)
			}
		}
		g.Failed = g.Messages > 0
		r.Gate = g
	}
	// JSON consumers get [] rather than null.
	if r.SkipReasons == nil {
		r.SkipReasons = []Skip{}
	}
	if r.Transitions == nil {
		r.Transitions = []Transition{}
	}
	if r.Changes == nil {
		r.Changes = []Change{}
	}
	return r
}

func direction(from, to rules.Action) string {
	switch {
	case to > from:
		return "stricter"
	case to < from:
		return "looser"
	}
	return "same"
}

func sortedCounts(m map[string]*Count) []Count {
	out := make([]Count, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	abs := func(n int) int { return max(n, -n) }
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(abs(b.Delta)-abs(a.Delta), strings.Compare(a.Name, b.Name))
	})
	return out
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("replay: write report: %w", err)
	}
	return nil
}

// WriteText writes the report for a person: a summary, skipped lines,
// transitions, rule and alert counts in aligned columns, the changed
// messages, and the gate's verdict.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	name := func(v Version) string {
		if v.Source != "" {
			return v.Revision + " (" + v.Source + ")"
		}
		return v.Revision
	}
	ew.printf("baseline  %s\nnew       %s\n", name(r.Baseline), name(r.New))
	if r.Baseline.Revision == r.New.Revision {
		ew.printf("          (same revision string; the bundles may still differ)\n")
	}
	ew.printf("\n")
	ew.printf("messages %d: replayed %d, skipped %d; changed %d (action changed %d)\n",
		r.Messages, r.Replayed, r.Skipped, r.Changed, r.ActionChanged)

	if len(r.SkipReasons) > 0 {
		ew.printf("\nskipped\n")
		width := 0
		for _, s := range r.SkipReasons {
			width = max(width, len(s.Reason))
		}
		for _, s := range r.SkipReasons {
			lines := make([]string, len(s.Lines))
			for i, l := range s.Lines {
				lines[i] = fmt.Sprint(l)
			}
			if s.Count > len(s.Lines) {
				lines = append(lines, "…")
			}
			label := "lines"
			if s.Count == 1 {
				label = "line"
			}
			ew.printf("  %-*s %6d  %s (%s %s)\n", width, s.Reason, s.Count, SkipHelp(s.Reason), label, strings.Join(lines, ", "))
		}
	}

	if len(r.Transitions) > 0 {
		ew.printf("\nactions (baseline → new)\n")
		for _, t := range r.Transitions {
			note := ""
			if t.Direction != "same" {
				note = "  " + t.Direction
			}
			if t.Gated {
				note += "  (fail-on)"
			}
			ew.printf("  %-7s → %-7s %6d%s\n", t.From, t.To, t.Count, note)
		}
	}

	counts := func(title string, cs []Count) {
		if len(cs) == 0 {
			return
		}
		width := len(title)
		for _, c := range cs {
			width = max(width, len(c.Name)+2)
		}
		ew.printf("\n%-*s %8s %8s %8s\n", width, title, "baseline", "new", "delta")
		for _, c := range cs {
			delta := "0"
			if c.Delta != 0 {
				delta = fmt.Sprintf("%+d", c.Delta)
			}
			ew.printf("  %-*s %8d %8d %8s\n", width-2, c.Name, c.Baseline, c.New, delta)
		}
	}
	counts("rules fired", r.Rules)
	counts("alerts", r.Alerts)

	if r.Changed > 0 {
		ew.printf("\nchanged messages (first %d of %d)\n", len(r.Changes), r.Changed)
		for _, c := range r.Changes {
			writeChange(ew, c)
		}
	}

	if o := r.Opinions; o != nil {
		ew.printf("\nsecond opinions on the new version: asked %d, applied %d; harmful on a released draft %d, ok on a held one %d\n",
			o.Asked, o.Applied, o.HarmfulReleased, o.OKHeld)
		for _, k := range slices.Sorted(maps.Keys(o.Results)) {
			ew.printf("  %-12s %6d\n", k, o.Results[k])
		}
	}

	if g := r.Gate; g != nil {
		ew.printf("\nfail-on %s: ", g.FailOn)
		if !g.Failed {
			ew.printf("ok, no gated transition\n")
		} else {
			parts := make([]string, len(g.Transitions))
			for i, t := range g.Transitions {
				parts[i] = fmt.Sprintf("%s %d", t, t.Count)
			}
			ew.printf("FAILED, %d messages (%s)\n", g.Messages, strings.Join(parts, ", "))
		}
	}
	return ew.err
}

func writeChange(ew *errWriter, c Change) {
	ew.printf("\n  line %d", c.Line)
	if c.ID != "" {
		ew.printf("  id %s", c.ID)
	}
	ew.printf("  tenant %s", c.Tenant)
	if c.ConversationID != "" {
		ew.printf("  conversation %s", c.ConversationID)
	}
	if c.AgentID != "" {
		ew.printf("  agent %s", c.AgentID)
	}
	ew.printf("  %s\n", c.Role)
	ew.printf("    %s → %s\n", c.Baseline.Action, c.New.Action)
	ew.printf("    text      %s\n", oneLine(c.TextMasked))
	findings := func(label string, fs []Finding) {
		if len(fs) == 0 {
			ew.printf("    %s  (none)\n", label)
			return
		}
		parts := make([]string, len(fs))
		for i, f := range fs {
			parts[i] = fmt.Sprintf("%s %q (%s)", f.Name, oneLine(f.Evidence), f.Severity)
		}
		ew.printf("    %s  %s\n", label, strings.Join(parts, "; "))
	}
	if slices.Equal(c.Baseline.Findings, c.New.Findings) {
		findings("findings", c.Baseline.Findings)
	} else {
		findings("findings (baseline)", c.Baseline.Findings)
		findings("findings (new)     ", c.New.Findings)
	}
	outcomeLine := func(label string, o Outcome) {
		parts := make([]string, 0, len(o.Reasons)+len(o.Alerts))
		for _, r := range o.Reasons {
			parts = append(parts, fmt.Sprintf("%s: %s", r.Rule, oneLine(r.Message)))
		}
		for _, a := range o.Alerts {
			parts = append(parts, fmt.Sprintf("alert %s/%s: %s", a.Kind, a.Level, oneLine(a.Message)))
		}
		if len(parts) == 0 {
			parts = append(parts, "(no rule fired)")
		}
		ew.printf("    %s  %s\n", label, strings.Join(parts, "; "))
	}
	outcomeLine("baseline", c.Baseline)
	outcomeLine("new     ", c.New)
	if op := c.New.Opinion; op != nil {
		applied := ""
		if op.Applied {
			applied = ", applied"
		}
		ew.printf("    opinion   %s (%s%s) %s %s\n", op.Result, op.Mode, applied, strings.Join(op.Kinds, ","), oneLine(op.Reason))
	}
}

// oneLine keeps a text on one line of the report and out of the
// terminal's control: line breaks become ⏎, other control characters �.
func oneLine(s string) string {
	s = strings.NewReplacer("\r\n", " ⏎ ", "\n", " ⏎ ", "\r", " ⏎ ").Replace(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '\uFFFD'
		}
		return r
	}, s)
}

// errWriter remembers the first write error, so WriteText checks once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("replay: write report: %w", err)
	}
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}
