package notify

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// Caps on single texts before a message is laid out, in characters, so
// that one long turn never crowds out the others; the platform's limit is
// then met by showing fewer turns (see fit).
const (
	maxMessageRunes = 1000
	maxTurnRunes    = 500
	maxValueRunes   = 200
	maxTitleRunes   = 80
)

// words are one language's words of a message.
type words struct {
	product, digest                        string
	levels                                 [5]string // by Level
	level, kind, tenant, team, agent, conv string
	at, risk, window, total                string
	recent, byKind, gravest                string
	agentRole, customerRole                string
	notDelivered                           string
	actions                                map[string]string
	open, openAlerts                       string
	more                                   func(n int) string
	sep, colon, markOpen, markClose        string
}

var zh = words{
	product:      "巡检告警",
	digest:       "巡检告警摘要（限流合并）",
	levels:       [5]string{"", "低", "中", "高", "严重"},
	level:        "级别",
	kind:         "类型",
	tenant:       "租户",
	team:         "团队",
	agent:        "坐席",
	conv:         "会话",
	at:           "时间",
	risk:         "投诉风险",
	window:       "时段",
	total:        "告警数",
	recent:       "最近对话",
	byKind:       "按类型与级别",
	gravest:      "级别最高的告警",
	agentRole:    "坐席",
	customerRole: "客户",
	notDelivered: "未送达",
	actions:      map[string]string{"warn": "提醒", "redact": "已脱敏", "confirm": "待确认", "block": "已拦截"},
	open:         "在控制台查看会话",
	openAlerts:   "在控制台查看全部告警",
	more:         func(n int) string { return fmt.Sprintf("另有 %d 条，请在控制台查看", n) },
	sep:          "·",
	colon:        "：",
	markOpen:     "〔",
	markClose:    "〕",
}

var en = words{
	product:      "Xunjian alert",
	digest:       "Xunjian alert digest (throttled)",
	levels:       [5]string{"", "low", "medium", "high", "critical"},
	level:        "Level",
	kind:         "Kind",
	tenant:       "Tenant",
	team:         "Team",
	agent:        "Agent",
	conv:         "Conversation",
	at:           "Time",
	risk:         "Complaint risk",
	window:       "Window",
	total:        "Alerts",
	recent:       "Recent turns",
	byKind:       "By kind and level",
	gravest:      "Gravest alerts",
	agentRole:    "Agent",
	customerRole: "Customer",
	notDelivered: "not delivered",
	actions:      map[string]string{"warn": "warned", "redact": "redacted", "confirm": "held for confirmation", "block": "blocked"},
	open:         "Open the conversation in the console",
	openAlerts:   "Open all alerts in the console",
	more:         func(n int) string { return fmt.Sprintf("%d more in the console", n) },
	sep:          " · ",
	colon:        ": ",
	markOpen:     "[",
	markClose:    "]",
}

// wordsFor returns the words of lang: English for "en", else Chinese.
func wordsFor(lang string) *words {
	if lang == "en" {
		return &en
	}
	return &zh
}

// lineKind is what a line of a view is.
type lineKind uint8

const (
	lineField   lineKind = iota // label: text
	lineText                    // text, on its own
	lineSection                 // a section's heading, in label
	lineTurn                    // a turn: label (who, when, marks): text
	lineItem                    // a list item: label, text, maybe href
	lineLink                    // a link: text → href
)

// line is one line of a view. label is the package's own words (or
// built from them and ids); text is the event's, masked, and escaped by
// each flavour.
type line struct {
	kind  lineKind
	label string
	text  string
	href  string
}

// view is a message laid out independently of any platform.
type view struct {
	title string // plain text: product, level, kind
	level Level
	lines []line
}

// renderer lays out notifications and digests as views.
type renderer struct {
	consoleURL string // without a trailing slash; "" for no links
	loc        *time.Location
}

// conversationURL returns the console's view of the conversation, "" when
// there is no console URL.
func (r *renderer) conversationURL(n *Notification) string {
	if r.consoleURL == "" || n.ConversationID == "" {
		return ""
	}
	return r.consoleURL + "/conversations/" + url.PathEscape(n.ConversationID) + "?event=" + url.QueryEscape(n.EventID)
}

// alertsURL returns the console's alert list, "" when there is no console
// URL.
func (r *renderer) alertsURL() string {
	if r.consoleURL == "" {
		return ""
	}
	return r.consoleURL + "/alerts"
}

// title returns the title of an alert of level and kind.
func (w *words) title(l Level, kind string) string {
	return w.product + w.sep + w.levelName(l) + w.sep + cut(kind, 64)
}

func (w *words) levelName(l Level) string {
	if l.Valid() {
		return w.levels[l]
	}
	return l.String()
}

// alert lays out n in lang with its last turns (at most turns of them).
func (r *renderer) alert(n *Notification, lang string, turns int) view {
	w := wordsFor(lang)
	v := view{title: cut(w.title(n.Level, n.Kind), maxTitleRunes), level: n.Level}
	field := func(label, text string) {
		if text != "" {
			v.lines = append(v.lines, line{kind: lineField, label: label, text: cut(text, maxValueRunes)})
		}
	}
	v.lines = append(v.lines, line{kind: lineText, text: cut(n.Message, maxMessageRunes)})
	field(w.level, w.levelName(n.Level))
	field(w.kind, n.Kind)
	field(w.tenant, n.Tenant)
	field(w.team, n.Team)
	field(w.agent, n.AgentID)
	field(w.conv, n.ConversationID)
	if !n.Time.IsZero() {
		field(w.at, n.Time.In(r.loc).Format("2006-01-02 15:04:05"))
	}
	if n.Risk > 0 {
		field(w.risk, strconv.FormatFloat(n.Risk, 'f', 2, 64))
	}
	ctx := n.Context
	if turns < len(ctx) {
		ctx = ctx[len(ctx)-max(turns, 0):]
	}
	if len(ctx) > 0 {
		v.lines = append(v.lines, line{kind: lineSection, label: w.recent})
		for i := range ctx {
			v.lines = append(v.lines, line{kind: lineTurn, label: r.turnLabel(w, &ctx[i]), text: cut(flatten(ctx[i].TextMasked), maxTurnRunes)})
		}
	}
	if u := r.conversationURL(n); u != "" {
		v.lines = append(v.lines, line{kind: lineLink, text: w.open, href: u})
	}
	return v
}

// turnLabel returns who wrote t, when, and what became of it: the
// gateway's action on an agent draft other than allow, and "not
// delivered" when the customer never saw it.
func (r *renderer) turnLabel(w *words, t *event.Turn) string {
	who := w.customerRole
	if t.Role == event.RoleAgent {
		who = w.agentRole
	}
	s := who
	if !t.TS.IsZero() {
		s += " " + t.TS.In(r.loc).Format("15:04:05")
	}
	var marks []string
	if a, ok := w.actions[t.Action]; ok {
		marks = append(marks, a)
	} else if t.Action != "" && t.Action != "allow" {
		marks = append(marks, cut(t.Action, 16))
	}
	if !t.Delivered {
		marks = append(marks, w.notDelivered)
	}
	if len(marks) > 0 {
		s += " " + w.markOpen + strings.Join(marks, w.sep) + w.markClose
	}
	return s
}

// digest lays out d in lang with at most top of its gravest
// notifications.
func (r *renderer) digest(d *Digest, lang string, top int) view {
	w := wordsFor(lang)
	v := view{title: w.digest, level: d.maxLevel()}
	v.lines = append(v.lines,
		line{kind: lineField, label: w.window, text: d.Start.In(r.loc).Format("2006-01-02 15:04:05") + " – " + d.End.In(r.loc).Format("15:04:05")},
		line{kind: lineField, label: w.total, text: strconv.Itoa(d.Total)},
		line{kind: lineSection, label: w.byKind})
	for _, c := range d.Counts {
		v.lines = append(v.lines, line{kind: lineItem, label: cut(c.Kind, 64) + w.sep + w.levelName(c.Level), text: "× " + strconv.Itoa(c.N)})
	}
	shown := d.Top[:min(max(top, 0), len(d.Top))]
	if len(shown) > 0 {
		v.lines = append(v.lines, line{kind: lineSection, label: w.gravest})
	}
	for i := range shown {
		n := &shown[i]
		text := strings.Join(nonEmpty(n.Tenant, n.AgentID, cut(n.Message, maxTurnRunes)), w.sep)
		v.lines = append(v.lines, line{kind: lineItem, label: w.levelName(n.Level) + w.sep + cut(n.Kind, 64), text: text, href: r.conversationURL(n)})
	}
	if rest := d.Total - len(shown); rest > 0 {
		v.lines = append(v.lines, line{kind: lineText, text: w.more(rest)})
	}
	if u := r.alertsURL(); u != "" {
		v.lines = append(v.lines, line{kind: lineLink, text: w.openAlerts, href: u})
	}
	return v
}

// fit returns the first of build(n), build(n-1), … build(0) that ok
// accepts, or build(0) when none is: a message shows fewer turns (or
// digest items) until it meets its platform's limit. The caller still
// cuts what build(0) returns when it is too long.
func fit[T any](n int, build func(int) T, ok func(T) bool) T {
	for ; n > 0; n-- {
		if v := build(n); ok(v) {
			return v
		}
	}
	return build(0)
}

// nonEmpty returns the strings of ss that are not empty.
func nonEmpty(ss ...string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// flatten puts s on one line: line breaks and tabs become spaces, so that
// a turn stays one line (and one quote) in every markup.
func flatten(s string) string {
	if !strings.ContainsAny(s, "\r\n\t\v\f\u2028\u2029") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '\r', '\n', '\t', '\v', '\f', '\u2028', '\u2029':
			return ' '
		}
		return r
	}, s)
}

// cut returns s cut to at most n characters, ending with "…" when cut.
// Invalid UTF-8 is replaced, so that no platform refuses the message.
func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	i, k := 0, 0
	for i = range s {
		if k == n-1 {
			break
		}
		k++
	}
	return s[:i] + "…"
}

// cutBytes returns s cut to at most n bytes on a character boundary,
// ending with "…" when cut, and never ending in a lone backslash (half of
// an escape).
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	i := max(n-len(ell), 0)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	s = s[:i]
	if k := len(s) - len(strings.TrimRight(s, `\`)); k%2 == 1 {
		s = s[:len(s)-1]
	}
	return s + ell
}

// mdEscaper escapes the characters of CommonMark's inline syntax that
// masked text may hold (emphasis, code, links, HTML, strike-through) with
// a backslash, which CommonMark defines for every ASCII punctuation
// character: a mask such as 138****5678 then shows as written instead of
// opening emphasis with the next mask of the line.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `\<`, `>`, `\>`, `~`, `\~`, `|`, `\|`,
)

// md escapes s for markdown: on one line, inline syntax escaped.
func md(s string) string { return mdEscaper.Replace(flatten(s)) }

// markdown renders v in markdown for DingTalk and WeCom: a heading, bold
// labels, quoted turns, a link. nl separates lines (DingTalk needs a blank
// line between paragraphs; WeCom keeps single line breaks).
func markdown(v view, nl string) string {
	var b strings.Builder
	b.WriteString("### " + md(v.title))
	for _, l := range v.lines {
		b.WriteString(nl)
		switch l.kind {
		case lineField:
			b.WriteString("**" + md(l.label) + "**: " + md(l.text))
		case lineText:
			b.WriteString(md(l.text))
		case lineSection:
			b.WriteString("**" + md(l.label) + "**")
		case lineTurn:
			b.WriteString("> " + md(l.label) + ": " + md(l.text))
		case lineItem:
			b.WriteString("- " + md(l.label) + " " + md(l.text))
			if l.href != "" {
				b.WriteString(" [↗](" + l.href + ")")
			}
		case lineLink:
			b.WriteString("[" + md(l.text) + "](" + l.href + ")")
		}
	}
	return b.String()
}

// slackEscaper escapes the three characters Slack's mrkdwn reserves for
// its own markup (&, <, >), as its formatting reference asks.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// mrkdwn escapes s for Slack, on one line.
func mrkdwn(s string) string { return slackEscaper.Replace(flatten(s)) }

// plain renders v as plain text, nothing escaped: the generic webhook's
// text field and logs' previews.
func plain(v view) string {
	var b strings.Builder
	b.WriteString(v.title)
	for _, l := range v.lines {
		b.WriteString("\n")
		switch l.kind {
		case lineField:
			b.WriteString(l.label + ": " + l.text)
		case lineText:
			b.WriteString(l.text)
		case lineSection:
			b.WriteString(l.label)
		case lineTurn:
			b.WriteString("> " + l.label + ": " + l.text)
		case lineItem:
			b.WriteString("- " + l.label + " " + l.text)
			if l.href != "" {
				b.WriteString(" " + l.href)
			}
		case lineLink:
			b.WriteString(l.text + ": " + l.href)
		}
	}
	return b.String()
}
