package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// Verdict is an auditor's judgement of one of the gateway's findings.
type Verdict string

// The verdicts.
const (
	// VerdictCorrect confirms the finding.
	VerdictCorrect Verdict = "correct"
	// VerdictFalsePositive says there was nothing to find.
	VerdictFalsePositive Verdict = "false_positive"
	// VerdictWrongKind says there was something, of another kind
	// (FindingVerdict.CorrectKind).
	VerdictWrongKind Verdict = "wrong_kind"
)

// Valid reports whether v is one of the three verdicts.
func (v Verdict) Valid() bool {
	return v == VerdictCorrect || v == VerdictFalsePositive || v == VerdictWrongKind
}

// FindingVerdict is a verdict on the finding FindingIndex of the event
// EventID.
type FindingVerdict struct {
	EventID      string  `json:"event_id"`
	FindingIndex int     `json:"finding_index"`
	Verdict      Verdict `json:"verdict"`
	// CorrectKind is the kind the finding should have had ("detector.kind"),
	// for VerdictWrongKind.
	CorrectKind string `json:"correct_kind,omitempty"`
	// Kind ("detector.kind"), Rule and Lexicon are the finding's, copied
	// by SaveReview when the verdict is saved (what the caller sets is
	// ignored), so that precision per rule needs no event.
	Kind    string `json:"kind"`
	Rule    string `json:"rule"`
	Lexicon string `json:"lexicon"`
}

// Missed is a finding the gateway missed: a span of an event's text, in
// code points of the original text, and its kind ("detector.kind").
type Missed struct {
	EventID string `json:"event_id"`
	Start   int    `json:"start"`
	End     int    `json:"end"`
	Kind    string `json:"kind"`
	Note    string `json:"note,omitempty"`
}

// Review is an auditor's review of a task: a draft until submitted.
type Review struct {
	ID      int64  `json:"id"`
	TaskID  int64  `json:"task_id"`
	Tenant  string `json:"tenant"`
	Auditor string `json:"auditor"`
	// Categories scores the scorecard's categories, each in [0, 1].
	Categories map[string]float64 `json:"categories"`
	// AutoFail are the auto-fail items the auditor ticked.
	AutoFail []string         `json:"auto_fail"`
	Verdicts []FindingVerdict `json:"verdicts"`
	Missed   []Missed         `json:"missed"`
	Note     string           `json:"note"`
	// Score and AutoScore are set when the review is submitted.
	Score     *float64 `json:"score"`
	AutoScore *float64 `json:"auto_score"`
	// Version counts the saves; SubmitReview takes it.
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// SubmittedAt is zero for a draft.
	SubmittedAt time.Time `json:"submitted_at"`
}

// Submitted reports whether the review was submitted.
func (r Review) Submitted() bool { return !r.SubmittedAt.IsZero() }

// ReviewDraft is what an auditor saves of a review: a Review without its
// score, its ids and its times.
type ReviewDraft struct {
	Categories map[string]float64
	AutoFail   []string
	Verdicts   []FindingVerdict
	Missed     []Missed
	Note       string
}

// findingRef names a finding: its event and its index there.
type findingRef struct {
	eventID string
	index   int
}

const reviewColumns = `id, task_id, tenant, auditor, categories, auto_fail, note, score, auto_score, version, created_ms, updated_ms, submitted_ms`

// scanReview reads one row of reviewColumns (without verdicts and missed).
func scanReview(r rowScanner) (Review, error) {
	var (
		rv               Review
		cats, fails      string
		score, auto      sql.NullFloat64
		created, updated int64
		submitted        sql.NullInt64
	)
	if err := r.Scan(&rv.ID, &rv.TaskID, &rv.Tenant, &rv.Auditor, &cats, &fails, &rv.Note, &score, &auto, &rv.Version,
		&created, &updated, &submitted); err != nil {
		return Review{}, err
	}
	if err := json.Unmarshal([]byte(cats), &rv.Categories); err != nil {
		return Review{}, fmt.Errorf("categories: %w", err)
	}
	if err := json.Unmarshal([]byte(fails), &rv.AutoFail); err != nil {
		return Review{}, fmt.Errorf("auto_fail: %w", err)
	}
	if score.Valid {
		rv.Score = &score.Float64
	}
	if auto.Valid {
		rv.AutoScore = &auto.Float64
	}
	rv.CreatedAt, rv.UpdatedAt = fromMS(created), fromMS(updated)
	if submitted.Valid {
		rv.SubmittedAt = fromMS(submitted.Int64)
	}
	return rv, nil
}

// review reads the tenant's review selected by column = id (id or
// task_id), with its verdicts and missed findings; ErrNotFound when there
// is none.
func (s *Store) review(ctx context.Context, q queryer, tenant, column string, id int64) (Review, error) {
	rv, err := scanReview(q.QueryRowContext(ctx, `SELECT `+reviewColumns+` FROM qa_reviews WHERE `+column+` = $1 AND tenant = $2`, id, tenant))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Review{}, ErrNotFound
	case err != nil:
		return Review{}, err
	}
	rows, err := q.QueryContext(ctx, `SELECT event_id, finding_index, verdict, correct_kind, kind, rule, lexicon
		FROM qa_verdicts WHERE review_id = $1 ORDER BY idx`, rv.ID)
	if err != nil {
		return Review{}, err
	}
	rv.Verdicts = []FindingVerdict{}
	for rows.Next() {
		var (
			v FindingVerdict
			i int64
		)
		if err := rows.Scan(&v.EventID, &i, &v.Verdict, &v.CorrectKind, &v.Kind, &v.Rule, &v.Lexicon); err != nil {
			rows.Close()
			return Review{}, err
		}
		v.FindingIndex = int(i)
		rv.Verdicts = append(rv.Verdicts, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return Review{}, err
	}
	rows, err = q.QueryContext(ctx, `SELECT event_id, start_cp, end_cp, kind, note FROM qa_missed WHERE review_id = $1 ORDER BY idx`, rv.ID)
	if err != nil {
		return Review{}, err
	}
	defer rows.Close()
	rv.Missed = []Missed{}
	for rows.Next() {
		var (
			m          Missed
			start, end int64
		)
		if err := rows.Scan(&m.EventID, &start, &end, &m.Kind, &m.Note); err != nil {
			return Review{}, err
		}
		m.Start, m.End = int(start), int(end)
		rv.Missed = append(rv.Missed, m)
	}
	return rv, rows.Err()
}

// TaskReview returns the review of the tenant's task taskID, or
// ErrNotFound when it has none yet.
func (s *Store) TaskReview(ctx context.Context, tenant string, taskID int64) (Review, error) {
	rv, err := s.review(ctx, s.db, tenant, "task_id", taskID)
	if err != nil {
		return Review{}, fmt.Errorf("store: review of task %d: %w", taskID, err)
	}
	return rv, nil
}

// Review returns the tenant's review id, or ErrNotFound.
func (s *Store) Review(ctx context.Context, tenant string, id int64) (Review, error) {
	rv, err := s.review(ctx, s.db, tenant, "id", id)
	if err != nil {
		return Review{}, fmt.Errorf("store: review %d: %w", id, err)
	}
	return rv, nil
}

// conversationFindings returns the findings of the tenant's conversation's
// events, by event id.
func conversationFindings(ctx context.Context, q queryer, tenant, conversationID string) (map[string][]event.Finding, error) {
	rows, err := q.QueryContext(ctx, `SELECT event_id, findings FROM events WHERE tenant = $1 AND conversation_id = $2`, tenant, conversationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]event.Finding{}
	for rows.Next() {
		var id, findings string
		if err := rows.Scan(&id, &findings); err != nil {
			return nil, err
		}
		var fs []event.Finding
		if err := json.Unmarshal([]byte(findings), &fs); err != nil {
			return nil, fmt.Errorf("findings of event %s: %w", id, err)
		}
		out[id] = fs
	}
	return out, rows.Err()
}

// SaveReview saves d as the draft review of the tenant's task taskID by
// auditor, replacing the draft saved before, and puts the task in review.
// Each verdict must name a finding of an event of the task's conversation
// (at most one verdict per finding), each missed finding an event of it,
// with 0 ≤ start < end (ErrInvalidReview otherwise); the verdicts get the
// finding's kind, rule and lexicon. ErrConflict when the task is assigned
// to someone else, ErrInvalidTransition when it is done, ErrNotFound.
// What the scorecard allows (categories, auto-fail items) is the caller's
// to check.
func (s *Store) SaveReview(ctx context.Context, tenant string, taskID int64, auditor string, d ReviewDraft) (Review, error) {
	if tenant == "" || auditor == "" {
		return Review{}, errors.New("store: save review: empty tenant or auditor")
	}
	cats := d.Categories
	if cats == nil {
		cats = map[string]float64{}
	}
	fails := d.AutoFail
	if fails == nil {
		fails = []string{}
	}
	catsJSON, err := json.Marshal(cats)
	if err != nil {
		return Review{}, fmt.Errorf("store: save review of task %d: %w", taskID, err)
	}
	failsJSON, err := json.Marshal(fails)
	if err != nil {
		return Review{}, fmt.Errorf("store: save review of task %d: %w", taskID, err)
	}
	var out Review
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := s.task(ctx, tx, tenant, taskID)
		switch {
		case err != nil:
			return err
		case t.State == TaskDone:
			return fmt.Errorf("%w: the review was submitted", ErrInvalidTransition)
		case t.Assignee != auditor:
			return fmt.Errorf("%w: the task is not assigned to %s", ErrConflict, auditor)
		}
		findings, err := conversationFindings(ctx, tx, tenant, t.ConversationID)
		if err != nil {
			return err
		}
		verdicts := make([]FindingVerdict, len(d.Verdicts))
		seen := map[findingRef]bool{}
		for i, v := range d.Verdicts {
			fs, ok := findings[v.EventID]
			switch {
			case !ok:
				return fmt.Errorf("%w: verdicts[%d]: event %q is not of the conversation", ErrInvalidReview, i, v.EventID)
			case v.FindingIndex < 0 || v.FindingIndex >= len(fs):
				return fmt.Errorf("%w: verdicts[%d]: event %s has no finding %d", ErrInvalidReview, i, v.EventID, v.FindingIndex)
			case !v.Verdict.Valid():
				return fmt.Errorf("%w: verdicts[%d]: verdict %q", ErrInvalidReview, i, v.Verdict)
			case seen[findingRef{v.EventID, v.FindingIndex}]:
				return fmt.Errorf("%w: verdicts[%d]: a second verdict on finding %d of event %s", ErrInvalidReview, i, v.FindingIndex, v.EventID)
			}
			seen[findingRef{v.EventID, v.FindingIndex}] = true
			f := fs[v.FindingIndex]
			if v.Verdict != VerdictWrongKind {
				v.CorrectKind = ""
			}
			v.Kind, v.Rule, v.Lexicon = f.Name(), f.Rule, f.Lexicon
			verdicts[i] = v
		}
		for i, m := range d.Missed {
			if _, ok := findings[m.EventID]; !ok {
				return fmt.Errorf("%w: missed[%d]: event %q is not of the conversation", ErrInvalidReview, i, m.EventID)
			}
			if m.Start < 0 || m.End <= m.Start {
				return fmt.Errorf("%w: missed[%d]: want 0 ≤ start < end", ErrInvalidReview, i)
			}
		}
		now := ms(s.now())
		var id int64
		err = tx.QueryRowContext(ctx, `SELECT id FROM qa_reviews WHERE task_id = $1 AND tenant = $2`, taskID, tenant).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := tx.QueryRowContext(ctx, `INSERT INTO qa_reviews (task_id, tenant, auditor, categories, auto_fail, note, version, created_ms, updated_ms)
				VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING id`,
				taskID, tenant, auditor, string(catsJSON), string(failsJSON), d.Note, now).Scan(&id); err != nil {
				return fmt.Errorf("review: %w", err)
			}
		case err != nil:
			return fmt.Errorf("review: %w", err)
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE qa_reviews SET auditor = $1, categories = $2, auto_fail = $3, note = $4,
					version = version + 1, updated_ms = $5 WHERE id = $6`,
				auditor, string(catsJSON), string(failsJSON), d.Note, now, id); err != nil {
				return fmt.Errorf("review: %w", err)
			}
			for _, table := range []string{"qa_verdicts", "qa_missed"} {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE review_id = $1`, id); err != nil {
					return fmt.Errorf("%s: %w", table, err)
				}
			}
		}
		for i, v := range verdicts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO qa_verdicts (review_id, idx, tenant, event_id, finding_index, verdict, correct_kind, kind, rule, lexicon)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				id, int64(i), tenant, v.EventID, int64(v.FindingIndex), string(v.Verdict), v.CorrectKind, v.Kind, v.Rule, v.Lexicon); err != nil {
				return fmt.Errorf("verdict %d: %w", i, err)
			}
		}
		for i, m := range d.Missed {
			if _, err := tx.ExecContext(ctx, `INSERT INTO qa_missed (review_id, idx, tenant, event_id, start_cp, end_cp, kind, note)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				id, int64(i), tenant, m.EventID, int64(m.Start), int64(m.End), m.Kind, m.Note); err != nil {
				return fmt.Errorf("missed %d: %w", i, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE qa_tasks SET state = $1, updated_ms = $2 WHERE id = $3 AND state = 'open'`,
			string(TaskInReview), now, taskID); err != nil {
			return fmt.Errorf("task: %w", err)
		}
		out, err = s.review(ctx, tx, tenant, "id", id)
		return err
	})
	if err != nil {
		return Review{}, fmt.Errorf("store: save review of task %d: %w", taskID, err)
	}
	return out, nil
}

// SubmitReview freezes the draft review of the tenant's task taskID by
// auditor, as of its Version version, with its score and automatic
// score, and closes the task (done). ErrConflict when the task is
// another's or the draft changed since version, ErrInvalidTransition when
// it has no draft or is done already, ErrNotFound.
func (s *Store) SubmitReview(ctx context.Context, tenant string, taskID int64, auditor string, version int64, score, autoScore float64) (Review, error) {
	var out Review
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := s.task(ctx, tx, tenant, taskID)
		switch {
		case err != nil:
			return err
		case t.State == TaskDone:
			return fmt.Errorf("%w: the review was submitted", ErrInvalidTransition)
		case t.Assignee != auditor:
			return fmt.Errorf("%w: the task is not assigned to %s", ErrConflict, auditor)
		}
		now := ms(s.now())
		res, err := tx.ExecContext(ctx, `UPDATE qa_reviews SET score = $1, auto_score = $2, submitted_ms = $3, updated_ms = $3
			WHERE task_id = $4 AND tenant = $5 AND version = $6 AND submitted_ms IS NULL`,
			score, autoScore, now, taskID, tenant, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			var cur int64
			err := tx.QueryRowContext(ctx, `SELECT version FROM qa_reviews WHERE task_id = $1 AND tenant = $2`, taskID, tenant).Scan(&cur)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: no draft to submit", ErrInvalidTransition)
			}
			return fmt.Errorf("%w: the draft changed since version %d", ErrConflict, version)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE qa_tasks SET state = $1, updated_ms = $2 WHERE id = $3`, string(TaskDone), now, taskID); err != nil {
			return err
		}
		out, err = s.review(ctx, tx, tenant, "task_id", taskID)
		return err
	})
	if err != nil {
		return Review{}, fmt.Errorf("store: submit review of task %d: %w", taskID, err)
	}
	return out, nil
}
