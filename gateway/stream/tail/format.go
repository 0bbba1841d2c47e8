package tail

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/width"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// DefaultWidth is how many terminal columns one free-text field (evidence,
// message, masked text, context turn) may take before it is cut with "…".
const DefaultWidth = 72

// Format lays out one event as a compact plain-text block for a person
// reading a terminal:
//
//	12:03:28.123 acme/conv-17 agent a7  BLOCK  risk 0.85  sampled
//	  text 您好 138****5678
//	  privacy.phone high 138****5678
//	  rule privacy.phone.block block: 请勿发送手机号; suggest: 改用平台内联系方式
//	  shadow tone.shadow confirm: 语气偏硬
//	  ALERT high complaint: 顾客威胁投诉或升级
//	    customer 12:02:11 我要投诉，电话 138****5678
//	    agent    12:03:28 您好 138****5678
//
// The first line is the time of day, tenant/conversation, who wrote the
// message (for a customer message, the agent of the conversation in
// parentheses), the action in capitals, then the risk (when not zero) and
// the sampled and fail-open marks. Then, each only when present: the masked
// text, one line per finding (name, severity, masked evidence), per reason
// (rule, action, message, suggestion), per shadow reason, per alert, and
// the alert's context turns. Nothing else of the event is shown: --json
// has it all.
//
// Every string from the event is printed on one line: control characters,
// line and paragraph separators and bidirectional overrides are written as
// Go escapes (\n, \u2028), so a crafted value cannot break the layout or
// move the terminal's cursor. The output is deterministic for a given
// event and Format. A Format is a value; its zero value uses the defaults,
// and it may be used concurrently.
type Format struct {
	// Location is the time zone of the timestamps; nil means time.Local.
	Location *time.Location
	// Width bounds each free-text field, in terminal columns (East Asian
	// wide characters count two); 0 means DefaultWidth, negative means
	// no limit. Identifiers (tenant, conversation, rule) are bounded too.
	Width int
}

func (f Format) loc() *time.Location {
	if f.Location == nil {
		return time.Local
	}
	return f.Location
}

func (f Format) width() int {
	switch {
	case f.Width == 0:
		return DefaultWidth
	case f.Width < 0:
		return -1
	}
	return f.Width
}

// Append appends the block of e, ending with a newline, to dst and returns
// the extended slice.
func (f Format) Append(dst []byte, e *event.Event) []byte {
	w := f.width()
	b := e.TS.In(f.loc()).AppendFormat(dst, "15:04:05.000")
	b = append(b, ' ')
	b = appendClean(b, orDash(e.Tenant), w)
	b = append(b, '/')
	b = appendClean(b, orDash(e.ConversationID), w)
	b = append(b, ' ')
	switch e.Role {
	case event.RoleCustomer:
		b = append(b, "customer (agent "...)
		b = appendClean(b, orDash(e.AgentID), w)
		b = append(b, ')')
	default:
		b = appendClean(b, orDash(e.Role), w)
		b = append(b, ' ')
		b = appendClean(b, orDash(e.AgentID), w)
	}
	b = append(b, "  "...)
	b = append(b, strings.ToUpper(actionName(e))...)
	if e.Risk > 0 {
		b = append(b, "  risk "...)
		b = strconv.AppendFloat(b, e.Risk, 'f', 2, 64)
	}
	if e.Sampled {
		b = append(b, "  sampled"...)
	}
	if e.FailOpen {
		b = append(b, "  fail-open"...)
	}
	if e.Degraded {
		b = append(b, "  degraded"...)
	}
	b = append(b, '\n')

	if e.TextMasked != "" {
		b = append(b, "  text "...)
		b = appendClean(b, e.TextMasked, w)
		b = append(b, '\n')
	}
	for i := range e.Findings {
		fd := &e.Findings[i]
		b = append(b, "  "...)
		b = appendClean(b, fd.Name(), w)
		b = append(b, ' ')
		b = append(b, fd.Severity.String()...)
		if fd.Evidence != "" {
			b = append(b, ' ')
			b = appendClean(b, fd.Evidence, w)
		}
		b = append(b, '\n')
	}
	b = appendReasons(b, "rule", e.Reasons, w)
	b = appendReasons(b, "shadow", e.Shadow, w)
	for i := range e.Alerts {
		a := &e.Alerts[i]
		b = append(b, "  ALERT "...)
		b = appendClean(b, orDash(a.Level), w)
		b = append(b, ' ')
		b = appendClean(b, orDash(a.Kind), w)
		if a.Message != "" {
			b = append(b, ": "...)
			b = appendClean(b, a.Message, w)
		}
		b = append(b, '\n')
	}
	for i := range e.Context {
		t := &e.Context[i]
		b = append(b, "    "...)
		start := len(b)
		b = appendClean(b, orDash(t.Role), w)
		for n := utf8.RuneCount(b[start:]); n < len(event.RoleCustomer); n++ {
			b = append(b, ' ')
		}
		b = append(b, ' ')
		b = t.TS.In(f.loc()).AppendFormat(b, "15:04:05")
		b = append(b, ' ')
		b = appendClean(b, t.TextMasked, w)
		if t.Action != "" && !t.Delivered {
			// A draft the customer never saw: blocked, held, or not
			// taken by the chat backend.
			b = append(b, "  ["...)
			b = appendClean(b, t.Action, w)
			b = append(b, ", not delivered]"...)
		}
		b = append(b, '\n')
	}
	return b
}

// AppendDay appends the line that opens a new day in the output, such as
// "-- 2026-11-23 +08:00", for the day of t.
func (f Format) AppendDay(dst []byte, t time.Time) []byte {
	dst = append(dst, "-- "...)
	dst = t.In(f.loc()).AppendFormat(dst, "2006-01-02 -07:00")
	return append(dst, '\n')
}

// day returns t's calendar day in the Format's time zone, comparable with
// ==.
func (f Format) day(t time.Time) [3]int {
	y, m, d := t.In(f.loc()).Date()
	return [3]int{y, int(m), d}
}

func appendReasons(b []byte, label string, rs []event.Reason, w int) []byte {
	for i := range rs {
		r := &rs[i]
		b = append(b, "  "...)
		b = append(b, label...)
		b = append(b, ' ')
		b = appendClean(b, orDash(r.Rule), w)
		b = append(b, ' ')
		if r.Action.Valid() {
			b = append(b, r.Action.String()...)
		} else {
			b = append(b, '?')
		}
		if r.Message != "" {
			b = append(b, ": "...)
			b = appendClean(b, r.Message, w)
		}
		if r.Suggestion != "" {
			b = append(b, "; suggest: "...)
			b = appendClean(b, r.Suggestion, w)
		}
		b = append(b, '\n')
	}
	return b
}

func actionName(e *event.Event) string {
	if !e.Action.Valid() {
		return "?"
	}
	return e.Action.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendClean appends s on one line, escaping what could break the layout
// or drive the terminal, cut with a final "…" so that it takes at most w
// columns (w < 0: no limit).
func appendClean(b []byte, s string, w int) []byte {
	limit := -1
	if w >= 0 && cleanWidth(s) > w {
		limit = max(w-1, 0) // one column for the ellipsis
	}
	cols := 0
	for _, r := range s {
		esc, rw := escape(r)
		if limit >= 0 && cols+rw > limit {
			return append(b, "…"...)
		}
		cols += rw
		if esc != "" {
			b = append(b, esc...)
		} else {
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// cleanWidth is how many columns appendClean needs for all of s.
func cleanWidth(s string) int {
	n := 0
	for _, r := range s {
		_, rw := escape(r)
		n += rw
	}
	return n
}

// escape returns the escape sequence that stands for r ("" when r is
// printed as is) and the columns it takes.
func escape(r rune) (string, int) {
	var esc string
	switch {
	case r == '\n':
		esc = `\n`
	case r == '\r':
		esc = `\r`
	case r == '\t':
		esc = `\t`
	case needsEscape(r):
		q := strconv.QuoteRuneToASCII(r) // 'x' around the escape
		esc = q[1 : len(q)-1]
	default:
		return "", runeWidth(r)
	}
	return esc, len(esc)
}

// needsEscape reports whether r must not reach a terminal raw: C0 and C1
// controls, DEL, the line and paragraph separators, bidirectional
// formatting characters (CVE-2021-42574).
func needsEscape(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

// runeWidth is how many terminal columns r takes: two for wide East Asian
// characters, one otherwise.
func runeWidth(r rune) int {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}
