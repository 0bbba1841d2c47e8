package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// QuotaRow is one agent's line of the quota report of a day.
type QuotaRow struct {
	AgentID string `json:"agent_id"`
	// Team is the agent's team on that day's rows (the last one, if it
	// changed); empty for none.
	Team string `json:"team"`
	// Sampled counts the agent's conversations sampled that day (UTC);
	// Reviewed, those of them with a submitted review.
	Sampled  int `json:"sampled"`
	Reviewed int `json:"reviewed"`
	// Minimum is the policy minimum; Met reports Reviewed ≥ Minimum.
	Minimum int  `json:"minimum"`
	Met     bool `json:"met"`
}

// Quota returns, for the UTC day holding day, each agent of the tenant who
// had an event or a sampled conversation that day: the conversations
// sampled, those reviewed, the minimum, and whether it is met (reviewed ≥
// minimum). teams selects as TaskFilter.Teams. Agents are in id order.
func (s *Store) Quota(ctx context.Context, tenant string, teams []string, day time.Time, minimum int) ([]QuotaRow, error) {
	if tenant == "" {
		return nil, errors.New("store: quota: empty tenant")
	}
	if teams != nil && len(teams) == 0 {
		return []QuotaRow{}, nil
	}
	from := ms(day) - ms(day)%msPerDay
	byAgent := map[string]*QuotaRow{}
	run := func(what, query string) error {
		a := args{tenant, from, from + msPerDay}
		where := ""
		if teams != nil {
			where = " AND " + a.teams(teams)
		}
		rows, err := s.db.QueryContext(ctx, fmt.Sprintf(query, where), a...)
		if err != nil {
			return fmt.Errorf("store: quota: %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				agent, team       string
				sampled, reviewed int64
			)
			if err := rows.Scan(&agent, &team, &sampled, &reviewed); err != nil {
				return fmt.Errorf("store: quota: %s: %w", what, err)
			}
			r := byAgent[agent]
			if r == nil {
				r = &QuotaRow{AgentID: agent, Team: team, Minimum: minimum}
				byAgent[agent] = r
			}
			if team != "" {
				r.Team = team
			}
			r.Sampled += int(sampled)
			r.Reviewed += int(reviewed)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: quota: %s: %w", what, err)
		}
		return nil
	}
	if err := run("events", `SELECT agent_id, COALESCE(MAX(team), ''), 0, 0 FROM events
		WHERE tenant = $1 AND ts_ms >= $2 AND ts_ms < $3 AND agent_id <> ''%s GROUP BY agent_id`); err != nil {
		return nil, err
	}
	if err := run("tasks", `SELECT agent_id, COALESCE(MAX(team), ''), COUNT(DISTINCT conversation_id),
			COUNT(DISTINCT CASE WHEN state = 'done' THEN conversation_id END) FROM qa_tasks
		WHERE tenant = $1 AND sampled_ms >= $2 AND sampled_ms < $3%s GROUP BY agent_id`); err != nil {
		return nil, err
	}
	out := make([]QuotaRow, 0, len(byAgent))
	for _, agent := range slices.Sorted(maps.Keys(byAgent)) {
		r := byAgent[agent]
		r.Met = r.Reviewed >= r.Minimum
		out = append(out, *r)
	}
	return out, nil
}

// The dimensions of PrecisionRow.By.
const (
	ByRule    = "rule"
	ByLexicon = "lexicon"
	ByModel   = "model"
	ByKind    = "kind"
)

// VerdictCounts are the verdicts and missed findings of a precision row, or of
// one of its days.
type VerdictCounts struct {
	Correct       int `json:"correct"`
	FalsePositive int `json:"false_positive"`
	WrongKind     int `json:"wrong_kind"`
	Missed        int `json:"missed"`
}

// Precision is Correct over the verdicts; nil without verdicts.
func (c VerdictCounts) Precision() *float64 {
	n := c.Correct + c.FalsePositive + c.WrongKind
	if n == 0 {
		return nil
	}
	p := float64(c.Correct) / float64(n)
	return &p
}

func (c *VerdictCounts) add(v Verdict) {
	switch v {
	case VerdictCorrect:
		c.Correct++
	case VerdictFalsePositive:
		c.FalsePositive++
	case VerdictWrongKind:
		c.WrongKind++
	}
}

// DayCounts are the VerdictCounts of one UTC day.
type DayCounts struct {
	Day string `json:"day"` // YYYY-MM-DD
	VerdictCounts
}

// PrecisionRow is the precision of one rule, lexicon entry, model version
// or finding kind.
type PrecisionRow struct {
	// By is ByRule (a finding's detector rule), ByLexicon, ByModel (a rule
	// "model:<version>") or ByKind ("detector.kind": every verdict of that
	// kind, and the missed findings, which have no rule).
	By   string `json:"by"`
	Rule string `json:"rule"`
	VerdictCounts
	// Days are the counts per UTC day of submission, oldest first, the
	// days without a count left out.
	Days []DayCounts `json:"days"`
	// Disputes counts the disputes of the row's findings by state.
	Disputes map[DisputeState]int `json:"disputes"`
}

// Precision returns the precision of the tenant's rules (and lexicon
// entries, model versions and kinds) over the reviews submitted since
// since, teams selecting as TaskFilter.Teams. A verdict whose finding an
// accepted dispute overturned is left out. Rows are ordered by By, then
// Rule.
func (s *Store) Precision(ctx context.Context, tenant string, teams []string, since time.Time) ([]PrecisionRow, error) {
	if tenant == "" {
		return nil, errors.New("store: precision: empty tenant")
	}
	if teams != nil && len(teams) == 0 {
		return []PrecisionRow{}, nil
	}
	type key struct{ by, name string }
	rows := map[key]*PrecisionRow{}
	days := map[key]map[string]*VerdictCounts{}
	row := func(k key) *PrecisionRow {
		r := rows[k]
		if r == nil {
			r = &PrecisionRow{By: k.by, Rule: k.name, Days: []DayCounts{}, Disputes: map[DisputeState]int{}}
			rows[k] = r
			days[k] = map[string]*VerdictCounts{}
		}
		return r
	}
	dayOf := func(k key, at int64) *VerdictCounts {
		d := fromMS(at).Format(time.DateOnly)
		c := days[k][d]
		if c == nil {
			c = &VerdictCounts{}
			days[k][d] = c
		}
		return c
	}
	keysOf := func(kind, rule, lexicon string) []key {
		ks := []key{{ByKind, kind}}
		switch {
		case strings.HasPrefix(rule, "model:"):
			ks = append(ks, key{ByModel, rule})
		case rule != "":
			ks = append(ks, key{ByRule, rule})
		}
		if lexicon != "" {
			ks = append(ks, key{ByLexicon, lexicon})
		}
		return ks
	}
	a := args{tenant, ms(since)}
	scope := ""
	if teams != nil {
		scope = " AND " + a.teams(teams)
	}
	q, err := s.db.QueryContext(ctx, `SELECT v.verdict, v.kind, v.rule, v.lexicon, r.submitted_ms
		FROM qa_verdicts v JOIN qa_reviews r ON r.id = v.review_id JOIN qa_tasks t ON t.id = r.task_id
		WHERE r.tenant = $1 AND r.submitted_ms >= $2`+scope+`
		AND NOT EXISTS (SELECT 1 FROM qa_disputes d WHERE d.review_id = v.review_id AND d.event_id = v.event_id
			AND d.finding_index = v.finding_index AND d.state = 'accepted')`, a...)
	if err != nil {
		return nil, fmt.Errorf("store: precision: %w", err)
	}
	for q.Next() {
		var (
			verdict, kind, rule, lexicon string
			at                           int64
		)
		if err := q.Scan(&verdict, &kind, &rule, &lexicon, &at); err != nil {
			q.Close()
			return nil, fmt.Errorf("store: precision: %w", err)
		}
		for _, k := range keysOf(kind, rule, lexicon) {
			row(k).add(Verdict(verdict))
			dayOf(k, at).add(Verdict(verdict))
		}
	}
	if err := errors.Join(q.Err(), q.Close()); err != nil {
		return nil, fmt.Errorf("store: precision: %w", err)
	}
	q, err = s.db.QueryContext(ctx, `SELECT m.kind, r.submitted_ms
		FROM qa_missed m JOIN qa_reviews r ON r.id = m.review_id JOIN qa_tasks t ON t.id = r.task_id
		WHERE r.tenant = $1 AND r.submitted_ms >= $2`+scope, a...)
	if err != nil {
		return nil, fmt.Errorf("store: precision: missed: %w", err)
	}
	for q.Next() {
		var (
			kind string
			at   int64
		)
		if err := q.Scan(&kind, &at); err != nil {
			q.Close()
			return nil, fmt.Errorf("store: precision: missed: %w", err)
		}
		k := key{ByKind, kind}
		row(k).Missed++
		dayOf(k, at).Missed++
	}
	if err := errors.Join(q.Err(), q.Close()); err != nil {
		return nil, fmt.Errorf("store: precision: missed: %w", err)
	}
	q, err = s.db.QueryContext(ctx, `SELECT v.kind, v.rule, v.lexicon, d.state
		FROM qa_disputes d JOIN qa_verdicts v ON v.review_id = d.review_id AND v.event_id = d.event_id AND v.finding_index = d.finding_index
		JOIN qa_reviews r ON r.id = d.review_id JOIN qa_tasks t ON t.id = r.task_id
		WHERE d.tenant = $1 AND d.created_ms >= $2`+scope, a...)
	if err != nil {
		return nil, fmt.Errorf("store: precision: disputes: %w", err)
	}
	for q.Next() {
		var kind, rule, lexicon, state string
		if err := q.Scan(&kind, &rule, &lexicon, &state); err != nil {
			q.Close()
			return nil, fmt.Errorf("store: precision: disputes: %w", err)
		}
		for _, k := range keysOf(kind, rule, lexicon) {
			row(k).Disputes[DisputeState(state)]++
		}
	}
	if err := errors.Join(q.Err(), q.Close()); err != nil {
		return nil, fmt.Errorf("store: precision: disputes: %w", err)
	}
	out := make([]PrecisionRow, 0, len(rows))
	for k, r := range rows {
		for _, d := range slices.Sorted(maps.Keys(days[k])) {
			r.Days = append(r.Days, DayCounts{Day: d, VerdictCounts: *days[k][d]})
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b PrecisionRow) int {
		return cmp.Or(cmp.Compare(a.By, b.By), cmp.Compare(a.Rule, b.Rule))
	})
	return out, nil
}

// Spread is what several auditors gave one thing: their scores, the
// median and the spread (highest minus lowest).
type Spread struct {
	Scores map[string]float64 `json:"scores"`
	Median float64            `json:"median"`
	Spread float64            `json:"spread"`
}

func spreadOf(scores map[string]float64) Spread {
	vs := slices.Sorted(maps.Values(scores))
	return Spread{Scores: scores, Median: median(vs), Spread: vs[len(vs)-1] - vs[0]}
}

// median returns the median of sorted, which is not empty.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// CalibrationGroup is the agreement of the auditors of one calibration
// group.
type CalibrationGroup struct {
	Group          string `json:"group"`
	ConversationID string `json:"conversation_id"`
	// Categories are the category scores per category id.
	Categories map[string]Spread `json:"categories"`
	// Score is the review scores (0..100).
	Score Spread `json:"score"`
}

// AuditorAgreement is one auditor's agreement with the others, and the
// disputes of its reviews.
type AuditorAgreement struct {
	Auditor string `json:"auditor"`
	// Reviews counts the auditor's submitted reviews; Groups, those of
	// them in a calibration group counted in the report.
	Reviews int `json:"reviews"`
	Groups  int `json:"groups"`
	// MeanAbsDiff is the mean absolute difference of the auditor's
	// category scores to their group's median, over its groups and their
	// categories (0 is perfect agreement, 1 the worst); Agreement is 1
	// minus it. Both nil without a group.
	MeanAbsDiff *float64 `json:"mean_abs_diff"`
	Agreement   *float64 `json:"agreement"`
	// Disputes counts the disputes of the auditor's reviews by state.
	Disputes map[DisputeState]int `json:"disputes"`
}

// CalibrationReport is what Calibration returns.
type CalibrationReport struct {
	Groups   []CalibrationGroup `json:"groups"`
	Auditors []AuditorAgreement `json:"auditors"`
}

// Calibration returns the agreement of the tenant's calibration groups
// whose reviews were submitted since since (a group counts once two of
// its reviews are submitted), and per auditor of a review submitted since
// then: its agreement with its groups' medians and the disputes of its
// reviews. teams selects as TaskFilter.Teams.
func (s *Store) Calibration(ctx context.Context, tenant string, teams []string, since time.Time) (CalibrationReport, error) {
	out := CalibrationReport{Groups: []CalibrationGroup{}, Auditors: []AuditorAgreement{}}
	if tenant == "" {
		return CalibrationReport{}, errors.New("store: calibration: empty tenant")
	}
	if teams != nil && len(teams) == 0 {
		return out, nil
	}
	a := args{tenant, ms(since)}
	scope := ""
	if teams != nil {
		scope = " AND " + a.teams(teams)
	}
	type review struct {
		auditor    string
		categories map[string]float64
		score      float64
	}
	groups := map[string][]review{}
	convs := map[string]string{}
	auditors := map[string]*AuditorAgreement{}
	auditor := func(name string) *AuditorAgreement {
		if auditors[name] == nil {
			auditors[name] = &AuditorAgreement{Auditor: name, Disputes: map[DisputeState]int{}}
		}
		return auditors[name]
	}
	q, err := s.db.QueryContext(ctx, `SELECT COALESCE(t.calibration_group, ''), t.conversation_id, r.auditor, r.categories, COALESCE(r.score, 0)
		FROM qa_reviews r JOIN qa_tasks t ON t.id = r.task_id
		WHERE r.tenant = $1 AND r.submitted_ms >= $2`+scope+` ORDER BY r.id`, a...)
	if err != nil {
		return CalibrationReport{}, fmt.Errorf("store: calibration: %w", err)
	}
	for q.Next() {
		var (
			group, conv, cats string
			rv                review
		)
		if err := q.Scan(&group, &conv, &rv.auditor, &cats, &rv.score); err != nil {
			q.Close()
			return CalibrationReport{}, fmt.Errorf("store: calibration: %w", err)
		}
		if err := json.Unmarshal([]byte(cats), &rv.categories); err != nil {
			q.Close()
			return CalibrationReport{}, fmt.Errorf("store: calibration: %w", err)
		}
		auditor(rv.auditor).Reviews++
		if group != "" {
			groups[group] = append(groups[group], rv)
			convs[group] = conv
		}
	}
	if err := errors.Join(q.Err(), q.Close()); err != nil {
		return CalibrationReport{}, fmt.Errorf("store: calibration: %w", err)
	}
	diffs := map[string][]float64{}
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		rvs := groups[g]
		if len(rvs) < 2 {
			continue
		}
		cg := CalibrationGroup{Group: g, ConversationID: convs[g], Categories: map[string]Spread{}}
		byCategory := map[string]map[string]float64{}
		scores := map[string]float64{}
		for _, rv := range rvs {
			scores[rv.auditor] = rv.score
			for c, v := range rv.categories {
				if byCategory[c] == nil {
					byCategory[c] = map[string]float64{}
				}
				byCategory[c][rv.auditor] = v
			}
			auditor(rv.auditor).Groups++
		}
		cg.Score = spreadOf(scores)
		for c, sc := range byCategory {
			sp := spreadOf(sc)
			cg.Categories[c] = sp
			if len(sc) < 2 {
				continue
			}
			for who, v := range sc {
				diffs[who] = append(diffs[who], math.Abs(v-sp.Median))
			}
		}
		out.Groups = append(out.Groups, cg)
	}
	q, err = s.db.QueryContext(ctx, `SELECT r.auditor, d.state FROM qa_disputes d JOIN qa_reviews r ON r.id = d.review_id
		JOIN qa_tasks t ON t.id = r.task_id WHERE d.tenant = $1 AND d.created_ms >= $2`+scope, a...)
	if err != nil {
		return CalibrationReport{}, fmt.Errorf("store: calibration: disputes: %w", err)
	}
	for q.Next() {
		var who, state string
		if err := q.Scan(&who, &state); err != nil {
			q.Close()
			return CalibrationReport{}, fmt.Errorf("store: calibration: disputes: %w", err)
		}
		auditor(who).Disputes[DisputeState(state)]++
	}
	if err := errors.Join(q.Err(), q.Close()); err != nil {
		return CalibrationReport{}, fmt.Errorf("store: calibration: disputes: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(auditors)) {
		aa := auditors[name]
		if d := diffs[name]; len(d) > 0 {
			var sum float64
			for _, x := range d {
				sum += x
			}
			mad := sum / float64(len(d))
			agreement := 1 - mad
			aa.MeanAbsDiff, aa.Agreement = &mad, &agreement
		}
		out.Auditors = append(out.Auditors, *aa)
	}
	return out, nil
}

// Export filters of ExportCases.
const (
	ExportFalsePositive = "false_positive"
	ExportMissed        = "missed"
	ExportAll           = "all"
)

// MaxExportCases bounds the cases of one export.
const MaxExportCases = 2000

// ExportCase is a reviewed conversation: its task, its submitted review
// (without the verdicts an accepted dispute overturned), its masked turns
// and the sealed texts the store holds of its events.
type ExportCase struct {
	Task         Task
	Review       Review
	Conversation Conversation
	// Sealed are the sealed raw texts by event id (events of the samples
	// topic only).
	Sealed map[string]event.TextEnc
}

// ExportCases returns the tenant's reviews submitted since since, oldest
// first, at most MaxExportCases (truncated reports more): all of them
// (ExportAll), those with a false positive or a wrong kind
// (ExportFalsePositive), or those with a missed finding (ExportMissed).
// teams selects as TaskFilter.Teams.
func (s *Store) ExportCases(ctx context.Context, tenant string, teams []string, since time.Time, filter string) (cases []ExportCase, truncated bool, err error) {
	wrap := func(err error) error { return fmt.Errorf("store: export: %w", err) }
	if tenant == "" {
		return nil, false, wrap(errors.New("empty tenant"))
	}
	if teams != nil && len(teams) == 0 {
		return []ExportCase{}, false, nil
	}
	a := args{tenant, ms(since)}
	where := "r.tenant = $1 AND r.submitted_ms >= $2"
	if teams != nil {
		where += " AND " + a.teams(teams)
	}
	switch filter {
	case ExportAll:
	case ExportFalsePositive:
		where += " AND EXISTS (SELECT 1 FROM qa_verdicts v WHERE v.review_id = r.id AND v.verdict IN ('false_positive', 'wrong_kind'))"
	case ExportMissed:
		where += " AND EXISTS (SELECT 1 FROM qa_missed m WHERE m.review_id = r.id)"
	default:
		return nil, false, wrap(fmt.Errorf("unknown filter %q", filter))
	}
	q, err := s.db.QueryContext(ctx, `SELECT r.id FROM qa_reviews r JOIN qa_tasks t ON t.id = r.task_id WHERE `+where+
		` ORDER BY r.submitted_ms, r.id LIMIT `+a.add(int64(MaxExportCases+1)), a...)
	if err != nil {
		return nil, false, wrap(err)
	}
	var ids []int64
	for q.Next() {
		var id int64
		if err := q.Scan(&id); err != nil {
			q.Close()
			return nil, false, wrap(err)
		}
		ids = append(ids, id)
	}
	if err := errors.Join(q.Err(), q.Close()); err != nil {
		return nil, false, wrap(err)
	}
	if len(ids) > MaxExportCases {
		ids, truncated = ids[:MaxExportCases], true
	}
	cases = make([]ExportCase, 0, len(ids))
	for _, id := range ids {
		c, err := s.exportCase(ctx, tenant, id)
		if err != nil {
			return nil, false, wrap(err)
		}
		cases = append(cases, c)
	}
	return cases, truncated, nil
}

// exportCase reads the case of the tenant's review id.
func (s *Store) exportCase(ctx context.Context, tenant string, id int64) (ExportCase, error) {
	rv, err := s.review(ctx, s.db, tenant, "id", id)
	if err != nil {
		return ExportCase{}, fmt.Errorf("review %d: %w", id, err)
	}
	accepted, err := s.ListDisputes(ctx, DisputeFilter{Tenant: tenant, ReviewID: id, States: []DisputeState{DisputeAccepted}, Limit: MaxLimit})
	if err != nil {
		return ExportCase{}, err
	}
	rv.Verdicts = slices.DeleteFunc(rv.Verdicts, func(v FindingVerdict) bool {
		return slices.ContainsFunc(accepted, func(d Dispute) bool {
			return d.Finding != nil && d.Finding.EventID == v.EventID && d.Finding.Index == v.FindingIndex
		})
	})
	t, err := s.Task(ctx, tenant, rv.TaskID)
	if err != nil {
		return ExportCase{}, err
	}
	conv, err := s.Conversation(ctx, tenant, t.ConversationID)
	if err != nil {
		return ExportCase{}, err
	}
	sealed, err := s.SealedTexts(ctx, tenant, t.ConversationID)
	if err != nil {
		return ExportCase{}, err
	}
	c := ExportCase{Task: t, Review: rv, Conversation: conv, Sealed: map[string]event.TextEnc{}}
	for _, st := range sealed {
		c.Sealed[st.EventID] = st.TextEnc
	}
	return c, nil
}
