package api

import (
	"time"

	"github.com/xunjian/xunjian/console/store"
)

// The JSON of docs/qa.md, every field of the contract present (null for
// what is absent) and nothing else.

// taskJSON is a Task.
type taskJSON struct {
	ID               int64     `json:"id"`
	Tenant           string    `json:"tenant"`
	ConversationID   string    `json:"conversation_id"`
	AgentID          string    `json:"agent_id"`
	Team             string    `json:"team"`
	Lang             string    `json:"lang"`
	Risk             float64   `json:"risk"`
	Reason           string    `json:"reason"`
	Assignee         string    `json:"assignee"`
	State            string    `json:"state"`
	DueAt            time.Time `json:"due_at"`
	CreatedAt        time.Time `json:"created_at"`
	CalibrationGroup *string   `json:"calibration_group"`
}

func taskOf(t store.Task) taskJSON {
	out := taskJSON{
		ID: t.ID, Tenant: t.Tenant, ConversationID: t.ConversationID, AgentID: t.AgentID, Team: t.Team, Lang: t.Lang,
		Risk: t.Risk, Reason: t.Reason, Assignee: t.Assignee, State: string(t.State), DueAt: t.DueAt.UTC(), CreatedAt: t.CreatedAt.UTC(),
	}
	if t.CalibrationGroup != "" {
		g := t.CalibrationGroup
		out.CalibrationGroup = &g
	}
	return out
}

// verdictJSON is a verdict of a Review: what the auditor said, and the
// finding's kind, rule and lexicon as they were when it was saved.
type verdictJSON struct {
	EventID      string  `json:"event_id"`
	FindingIndex int     `json:"finding_index"`
	Verdict      string  `json:"verdict"`
	CorrectKind  *string `json:"correct_kind"`
	Kind         string  `json:"kind"`
	Rule         string  `json:"rule"`
	Lexicon      string  `json:"lexicon"`
}

// missedJSON is a missed finding of a Review.
type missedJSON struct {
	EventID string `json:"event_id"`
	Start   int    `json:"start"`
	End     int    `json:"end"`
	Kind    string `json:"kind"`
	Note    string `json:"note"`
}

// reviewJSON is a Review.
type reviewJSON struct {
	ID          int64              `json:"id"`
	TaskID      int64              `json:"task_id"`
	Auditor     string             `json:"auditor"`
	Categories  map[string]float64 `json:"categories"`
	AutoFail    []string           `json:"auto_fail"`
	Verdicts    []verdictJSON      `json:"verdicts"`
	Missed      []missedJSON       `json:"missed"`
	Note        string             `json:"note"`
	Score       *float64           `json:"score"`
	AutoScore   *float64           `json:"auto_score"`
	Version     int64              `json:"version"`
	UpdatedAt   time.Time          `json:"updated_at"`
	SubmittedAt *time.Time         `json:"submitted_at"`
}

func reviewOf(rv store.Review) reviewJSON {
	out := reviewJSON{
		ID: rv.ID, TaskID: rv.TaskID, Auditor: rv.Auditor, Categories: rv.Categories, AutoFail: rv.AutoFail,
		Verdicts: make([]verdictJSON, len(rv.Verdicts)), Missed: make([]missedJSON, len(rv.Missed)), Note: rv.Note,
		Score: rv.Score, AutoScore: rv.AutoScore, Version: rv.Version, UpdatedAt: rv.UpdatedAt.UTC(),
	}
	if out.Categories == nil {
		out.Categories = map[string]float64{}
	}
	if out.AutoFail == nil {
		out.AutoFail = []string{}
	}
	for i, v := range rv.Verdicts {
		out.Verdicts[i] = verdictJSON{EventID: v.EventID, FindingIndex: v.FindingIndex, Verdict: string(v.Verdict),
			Kind: v.Kind, Rule: v.Rule, Lexicon: v.Lexicon}
		if v.CorrectKind != "" {
			k := v.CorrectKind
			out.Verdicts[i].CorrectKind = &k
		}
	}
	for i, m := range rv.Missed {
		out.Missed[i] = missedJSON{EventID: m.EventID, Start: m.Start, End: m.End, Kind: m.Kind, Note: m.Note}
	}
	if rv.Submitted() {
		at := rv.SubmittedAt.UTC()
		out.SubmittedAt = &at
	}
	return out
}

// disputeJSON is a Dispute.
type disputeJSON struct {
	ID             int64             `json:"id"`
	ReviewID       int64             `json:"review_id"`
	TaskID         int64             `json:"task_id"`
	ConversationID string            `json:"conversation_id"`
	AgentID        string            `json:"agent_id"`
	Team           string            `json:"team"`
	Auditor        string            `json:"auditor"`
	Finding        *store.FindingRef `json:"finding"`
	By             string            `json:"by"`
	ByRole         string            `json:"by_role"`
	Reason         string            `json:"reason"`
	State          string            `json:"state"`
	RulingNote     string            `json:"ruling_note"`
	RuledBy        string            `json:"ruled_by"`
	RuledAt        *time.Time        `json:"ruled_at"`
	CreatedAt      time.Time         `json:"created_at"`
}

func disputeOf(d store.Dispute) disputeJSON {
	out := disputeJSON{
		ID: d.ID, ReviewID: d.ReviewID, TaskID: d.TaskID, ConversationID: d.ConversationID, AgentID: d.AgentID, Team: d.Team,
		Auditor: d.Auditor, Finding: d.Finding, By: d.By, ByRole: d.ByRole, Reason: d.Reason, State: string(d.State),
		RulingNote: d.RulingNote, RuledBy: d.RuledBy, CreatedAt: d.CreatedAt.UTC(),
	}
	if !d.RuledAt.IsZero() {
		at := d.RuledAt.UTC()
		out.RuledAt = &at
	}
	return out
}

func disputesOf(ds []store.Dispute) []disputeJSON {
	out := make([]disputeJSON, len(ds))
	for i, d := range ds {
		out[i] = disputeOf(d)
	}
	return out
}

// countsJSON are the counts of a precision row or day.
type countsJSON struct {
	Correct       int      `json:"correct"`
	FalsePositive int      `json:"false_positive"`
	WrongKind     int      `json:"wrong_kind"`
	Missed        int      `json:"missed"`
	Precision     *float64 `json:"precision"`
}

func countsOf(c store.VerdictCounts) countsJSON {
	return countsJSON{Correct: c.Correct, FalsePositive: c.FalsePositive, WrongKind: c.WrongKind, Missed: c.Missed, Precision: c.Precision()}
}

type dayJSON struct {
	Day string `json:"day"`
	countsJSON
}

// precisionJSON is a row of GET /api/qa/precision.
type precisionJSON struct {
	By   string `json:"by"`
	Rule string `json:"rule"`
	countsJSON
	Days     []dayJSON                  `json:"days"`
	Disputes map[store.DisputeState]int `json:"disputes"`
}

// auditJSON is an entry of the audit log.
type auditJSON struct {
	ID             int64     `json:"id"`
	At             time.Time `json:"at"`
	Actor          string    `json:"actor"`
	Tenant         string    `json:"tenant"`
	Action         string    `json:"action"`
	ConversationID string    `json:"conversation_id"`
	EventIDs       []string  `json:"event_ids"`
	Raw            bool      `json:"raw"`
}
