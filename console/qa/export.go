package qa

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// TextSource gives the text of an exported turn: the masked text, or the
// raw text when the export is raw and the turn's sealed text opens.
type TextSource func(c *store.ExportCase, t store.Turn) string

// MaskedText is the TextSource of a masked export.
func MaskedText(_ *store.ExportCase, t store.Turn) string { return t.TextMasked }

// RawText returns the TextSource of a raw export: each turn's sealed text
// opened with enc, the masked text when the console holds none for it
// (a turn that was not sampled) or it does not open. opened and failed
// count the turns of each outcome.
func RawText(enc *event.Encryptor, opened, failed *int) TextSource {
	return func(c *store.ExportCase, t store.Turn) string {
		sealed, ok := c.Sealed[t.EventID]
		if !ok || t.EventID == "" {
			return t.TextMasked
		}
		ev := event.Event{EventID: t.EventID, TextEnc: &sealed}
		text, err := ev.DecryptText(enc)
		if err != nil {
			*failed++
			return t.TextMasked
		}
		*opened++
		return text
	}
}

// jsonlLine is a line of `xunjian check --jsonl` (gateway/jsonl.Line,
// not imported: it would bring the inspection pipeline into the console).
type jsonlLine struct {
	ID             string    `json:"id,omitempty"`
	Text           string    `json:"text"`
	Role           string    `json:"role"`
	ConversationID string    `json:"conversation_id"`
	AgentID        string    `json:"agent_id,omitempty"`
	TS             time.Time `json:"ts"`
}

// WriteJSONL writes the turns of cases as `xunjian check --jsonl` lines,
// which `xunjian replay` reads too (check-format lines: replay them with
// --tenant, the lines carry none): one line per turn, the turns of a
// conversation in order, its conversations in the order of cases, each
// once. A line's id is its event id (none for a turn known only from an
// alert's context). text is what text gives: masked text replays as it
// is, its private data already masked, so a detector of that data finds
// nothing in it.
func WriteJSONL(w io.Writer, cases []store.ExportCase, text TextSource) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	seen := map[string]bool{}
	for i := range cases {
		c := &cases[i]
		if seen[c.Task.ConversationID] {
			continue
		}
		seen[c.Task.ConversationID] = true
		for _, t := range c.Conversation.Turns {
			agent := t.AgentID
			if agent == "" {
				agent = c.Task.AgentID
			}
			if err := enc.Encode(jsonlLine{ID: t.EventID, Text: text(c, t), Role: t.Role, ConversationID: c.Task.ConversationID,
				AgentID: agent, TS: t.TS.UTC()}); err != nil {
				return fmt.Errorf("qa: export jsonl: %w", err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("qa: export jsonl: %w", err)
	}
	return nil
}

// RegoPackage is the package of the exported Rego tests: under
// xunjian_test, one of the default bundle's manifest roots, so that the
// file loads beside the bundle (a bundle whose .manifest names other roots
// must include xunjian_test).
const RegoPackage = "xunjian_test.qa"

// RegoHeader is what WriteRego writes in the comment atop the file.
type RegoHeader struct {
	Tenant  string
	Actor   string
	At      time.Time
	Since   time.Time
	Verdict string
}

// regoInput is the policy's input document (rules.Input, not imported:
// it would bring OPA into the console) for one exported event.
type regoInput struct {
	Draft        regoDraft       `json:"draft"`
	Findings     []event.Finding `json:"findings"`
	Conversation regoConv        `json:"conversation"`
	Agent        regoID          `json:"agent"`
	Tenant       regoID          `json:"tenant"`
}

type regoDraft struct {
	Text       string `json:"text"`
	Normalized string `json:"normalized"`
	Role       string `json:"role"`
	Lang       string `json:"lang"`
}

type regoConv struct {
	ID                  string  `json:"id"`
	Turns               int     `json:"turns"`
	CustomerEscalations int     `json:"customer_escalations"`
	Risk                float64 `json:"risk"`
	WaitSeconds         float64 `json:"wait_seconds"`
}

type regoID struct {
	ID string `json:"id"`
}

// regoHelpers are the helper rules of the exported tests.
const regoHelpers = `# no_reason_for holds when the decision gives no reason about finding i.
no_reason_for(d, i) if {
	count([r | some r in d.reasons; r.finding == i]) == 0
}

# no_reason_of_kind_for holds when the decision gives no reason of kind
# ("detector.kind") about finding i.
no_reason_of_kind_for(d, i, kind) if {
	count([r | some r in d.reasons; r.finding == i; startswith(r.rule, concat("", [kind, "."]))]) == 0
}

# caught holds when the decision gives a reason of kind ("detector.kind"),
# or does not let the message through as it is.
caught(d, kind) if {
	some r in d.reasons
	startswith(r.rule, concat("", [kind, "."]))
}

caught(d, _) if d.action != "allow"
`

// WriteRego writes cases as a Rego test file of package RegoPackage that
// imports data.xunjian: one test per verdict false_positive (the
// decision on the event's findings gives no reason about that finding),
// wrong_kind (no reason of the finding's kind about it, and the correct
// kind caught) and missed finding (its kind caught: a reason of that
// kind, or an action other than allow). Each test's input is the
// decision input of the event: its findings, its text as text gives it
// (in draft.text and draft.normalized), its role, the conversation's
// language, risk and position, the agent and the tenant. Put the file
// beside the bundle and run its tests (`xunjian rules test`, `opa test`):
// a case fails until the policy (or, for a miss, a detector) changes.
// It returns how many tests it wrote.
func WriteRego(w io.Writer, cases []store.ExportCase, text TextSource, hdr RegoHeader) (int, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Cases of the Xunjian console's quality audits (docs/qa.md), exported\n")
	fmt.Fprintf(&b, "# %s by %s, tenant %s, reviews submitted since %s, verdict=%s.\n",
		hdr.At.UTC().Format(time.RFC3339), oneLine(hdr.Actor), oneLine(hdr.Tenant), hdr.Since.UTC().Format(time.RFC3339), hdr.Verdict)
	b.WriteString("# Run beside the bundle: xunjian rules test DIR (or opa test DIR).\n")
	fmt.Fprintf(&b, "package %s\n\nimport data.xunjian\n\n%s", RegoPackage, regoHelpers)
	tests := 0
	for i := range cases {
		c := &cases[i]
		turns := map[string]int{}
		for j, t := range c.Conversation.Turns {
			if t.EventID != "" {
				turns[t.EventID] = j
			}
		}
		input := func(eventID string) (string, store.Turn, bool) {
			j, ok := turns[eventID]
			if !ok {
				return "", store.Turn{}, false
			}
			t := c.Conversation.Turns[j]
			findings := t.Findings
			if findings == nil {
				findings = []event.Finding{}
			}
			txt := text(c, t)
			in := regoInput{
				Draft:        regoDraft{Text: txt, Normalized: txt, Role: t.Role, Lang: c.Task.Lang},
				Findings:     findings,
				Conversation: regoConv{ID: c.Task.ConversationID, Turns: j + 1, Risk: t.Risk},
				Agent:        regoID{ID: c.Task.AgentID}, Tenant: regoID{ID: c.Task.Tenant},
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(in); err != nil {
				return "", store.Turn{}, false
			}
			return strings.TrimSpace(buf.String()), t, true
		}
		for _, v := range c.Review.Verdicts {
			if v.Verdict == store.VerdictCorrect {
				continue
			}
			in, t, ok := input(v.EventID)
			if !ok || v.FindingIndex >= len(t.Findings) {
				continue
			}
			f := t.Findings[v.FindingIndex]
			name := fmt.Sprintf("test_%s_review%d_%s_finding%d", v.Verdict, c.Review.ID, identifier(v.EventID), v.FindingIndex)
			fmt.Fprintf(&b, "\n# Review %d of task %d (conversation %s, auditor %s): finding %d of event %s,\n",
				c.Review.ID, c.Task.ID, oneLine(c.Task.ConversationID), oneLine(c.Review.Auditor), v.FindingIndex, oneLine(v.EventID))
			fmt.Fprintf(&b, "# %s (rule %q, lexicon %q), judged %s", f.Name(), f.Rule, f.Lexicon, v.Verdict)
			if v.Verdict == store.VerdictWrongKind {
				fmt.Fprintf(&b, " (it is %s)", oneLine(v.CorrectKind))
			}
			fmt.Fprintf(&b, ".\n%s if {\n\td := xunjian.decision with input as %s\n", name, in)
			switch v.Verdict {
			case store.VerdictFalsePositive:
				fmt.Fprintf(&b, "\tno_reason_for(d, %d)\n", v.FindingIndex)
			case store.VerdictWrongKind:
				fmt.Fprintf(&b, "\tno_reason_of_kind_for(d, %d, %s)\n", v.FindingIndex, regoString(f.Name()))
				if v.CorrectKind != "" {
					fmt.Fprintf(&b, "\tcaught(d, %s)\n", regoString(v.CorrectKind))
				}
			}
			b.WriteString("}\n")
			tests++
		}
		for j, m := range c.Review.Missed {
			in, _, ok := input(m.EventID)
			if !ok {
				continue
			}
			name := fmt.Sprintf("test_missed_review%d_%d", c.Review.ID, j)
			fmt.Fprintf(&b, "\n# Review %d of task %d (conversation %s, auditor %s): %s missed in event %s\n# at [%d, %d).\n",
				c.Review.ID, c.Task.ID, oneLine(c.Task.ConversationID), oneLine(c.Review.Auditor), oneLine(m.Kind), oneLine(m.EventID), m.Start, m.End)
			fmt.Fprintf(&b, "%s if {\n\td := xunjian.decision with input as %s\n\tcaught(d, %s)\n}\n", name, in, regoString(m.Kind))
			tests++
		}
	}
	if tests == 0 {
		b.WriteString("\n# No case to test: the file has no test.\n")
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return 0, fmt.Errorf("qa: export rego: %w", err)
	}
	return tests, nil
}

// identifier turns s into a Rego identifier's part: letters and digits
// kept (lower case), anything else an underscore.
func identifier(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// regoString quotes s as a Rego (JSON) string.
func regoString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// oneLine keeps s on one comment line: an id or a name from an event or
// a credential cannot end the comment and write Rego.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}
