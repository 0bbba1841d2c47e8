package store

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// planner is a TaskPlanner for the tests: calibration for the
// conversations it names, the pool of the tenant otherwise; it records
// what it was asked.
type planner struct {
	mu          sync.Mutex
	pools       map[string][]string // tenant → auditors
	calibration map[string][]string // conversation → auditors
	asked       []SampledConversation
}

func (p *planner) PlanTasks(sc SampledConversation) TaskPlan {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, sc)
	plan := TaskPlan{Reason: ReasonHash, Lang: "zh", Due: 48 * time.Hour, Pool: p.pools[sc.Tenant]}
	if a := p.calibration[sc.ConversationID]; a != nil {
		plan.Calibration, plan.CalibrationGroup = a, "cal-"+sc.ConversationID
	}
	return plan
}

// qaDB opens a database whose planner gives acme's tasks to qa1 and qa2 in
// turn, and conversation "cal" to qa1, qa2 and qa3; acme's agent ann is in
// team red, bob in blue.
func qaDB(t *testing.T, db testDB) (*Store, *planner) {
	t.Helper()
	p := &planner{
		pools:       map[string][]string{"acme": {"qa1", "qa2"}},
		calibration: map[string][]string{"cal": {"qa1", "qa2", "qa3"}},
	}
	s := db.open(t, WithTaskPlanner(p))
	if err := s.SetAgentTeams(context.Background(), "acme", map[string]string{"ann": "red", "bob": "blue"}); err != nil {
		t.Fatal(err)
	}
	return s, p
}

// sample ingests a sampled event of conv from the samples topic.
func sample(t *testing.T, s *Store, tenant, conv, agent string, ts time.Time, opts ...func(*event.Event)) *event.Event {
	t.Helper()
	e := ev(tenant, conv, agent, ts, append([]func(*event.Event){func(e *event.Event) { e.Sampled = true }}, opts...)...)
	ingest(t, s, e, samplesTopic)
	return e
}

func taskIDs(ts []Task) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// TestTaskCreation: the first event of a conversation on the samples
// topic makes its task (assigned in turn) or its calibration tasks; later
// events, redeliveries and other topics make none.
func TestTaskCreation(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, p := qaDB(t, db)
		ingest(t, s, ev("acme", "c0", "ann", t0), findingsTopic) // not sampled: no task
		e1 := sample(t, s, "acme", "c1", "ann", t0, withRisk(0.3))
		ingest(t, s, e1, samplesTopic) // a redelivery
		sample(t, s, "acme", "c1", "ann", t0.Add(time.Minute))
		sample(t, s, "acme", "c2", "bob", t0.Add(2*time.Minute))
		sample(t, s, "acme", "c3", "ann", t0.Add(3*time.Minute))
		sample(t, s, "acme", "cal", "ann", t0.Add(4*time.Minute))
		sample(t, s, "globex", "c1", "ann", t0) // same conversation id, another tenant

		tasks, _, err := s.ListTasks(ctx, TaskFilter{Tenant: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		type row struct{ conv, agent, team, assignee, group string }
		var got []row
		for _, tk := range tasks {
			got = append(got, row{tk.ConversationID, tk.AgentID, tk.Team, tk.Assignee, tk.CalibrationGroup})
			if tk.State != TaskOpen || tk.Reason != ReasonHash || tk.Lang != "zh" || !tk.DueAt.Equal(t0.Add(48*time.Hour)) {
				t.Errorf("task %+v", tk)
			}
		}
		want := []row{
			{"c1", "ann", "red", "qa1", ""}, {"c2", "bob", "blue", "qa2", ""}, {"c3", "ann", "red", "qa1", ""},
			{"cal", "ann", "red", "qa1", "cal-cal"}, {"cal", "ann", "red", "qa2", "cal-cal"}, {"cal", "ann", "red", "qa3", "cal-cal"},
		}
		if !slices.Equal(got, want) {
			t.Errorf("tasks\n got %+v\nwant %+v", got, want)
		}
		if c1 := tasks[0]; c1.Risk != 0.3 || !c1.SampledAt.Equal(t0) {
			t.Errorf("c1: risk %v, sampled at %v", c1.Risk, c1.SampledAt)
		}
		// The planner heard of each conversation once, with the agent's
		// earlier sampled conversations of the day.
		var asked []int
		for _, a := range p.asked {
			if a.Tenant == "acme" && a.AgentID == "ann" {
				asked = append(asked, a.AgentSampledToday)
			}
		}
		if !slices.Equal(asked, []int{0, 1, 2}) || len(p.asked) != 5 {
			t.Errorf("planner asked %+v", p.asked)
		}
		g, _, err := s.ListTasks(ctx, TaskFilter{Tenant: "globex"})
		if err != nil || len(g) != 1 || g[0].Assignee != "" || g[0].Team != "" {
			t.Errorf("globex: %+v, %v", g, err)
		}
	})
}

// TestTaskCreationConcurrent: two consoles ingesting the same samples
// event at once make its task once.
func TestTaskCreationConcurrent(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		s, _ := qaDB(t, db)
		other, _ := qaDB(t, db)
		e := ev("acme", "c1", "ann", t0)
		var wg sync.WaitGroup
		for _, st := range []*Store{s, other, s, other} {
			wg.Go(func() {
				if _, err := st.Ingest(context.Background(), e, samplesTopic, 0, 1); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := count(t, s, "qa_tasks", "tenant = 'acme'"); n != 1 {
			t.Errorf("%d tasks, want 1", n)
		}
	})
}

// TestListTasks: filters, the auditor's scope, keyset paging in due
// order, and another tenant's tasks never.
func TestListTasks(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, _ := qaDB(t, db)
		for i, conv := range []string{"a1", "b1", "a2", "b2", "a3"} {
			agent := map[byte]string{'a': "ann", 'b': "bob"}[conv[0]]
			db.clock.Set(t0.Add(time.Duration(i) * time.Minute))
			sample(t, s, "acme", conv, agent, t0)
		}
		db.clock.Set(t0.Add(time.Hour))
		sample(t, s, "globex", "g1", "ann", t0)
		all, _, _ := s.ListTasks(ctx, TaskFilter{Tenant: "acme"})
		convs := func(ts []Task) []string {
			out := []string{}
			for _, t := range ts {
				out = append(out, t.ConversationID)
			}
			return out
		}
		if got := convs(all); !slices.Equal(got, []string{"a1", "b1", "a2", "b2", "a3"}) {
			t.Fatalf("all: %q", got)
		}
		// Unassign a2 (so auditors see it by team).
		if _, err := s.db.ExecContext(ctx, `UPDATE qa_tasks SET assignee = '' WHERE conversation_id = 'a2'`); err != nil {
			t.Fatal(err)
		}
		for name, tc := range map[string]struct {
			f    TaskFilter
			want []string
		}{
			"red":                 {TaskFilter{Teams: []string{"red"}}, []string{"a1", "a2", "a3"}},
			"no team":             {TaskFilter{Teams: []string{NoTeam}}, []string{}},
			"none":                {TaskFilter{Teams: []string{}}, []string{}},
			"agent bob":           {TaskFilter{AgentID: "bob"}, []string{"b1", "b2"}},
			"qa1":                 {TaskFilter{Assignee: "qa1"}, []string{"a1", "a3"}},
			"unassigned":          {TaskFilter{Unassigned: true}, []string{"a2"}},
			"auditor qa2 blue":    {TaskFilter{Auditor: "qa2", AuditorTeams: []string{"blue"}}, []string{"b1", "b2"}},
			"auditor qa2 red":     {TaskFilter{Auditor: "qa2", AuditorTeams: []string{"red"}}, []string{"b1", "a2", "b2"}},
			"auditor qa2 no team": {TaskFilter{Auditor: "qa2", AuditorTeams: []string{}}, []string{"b1", "b2"}},
			"auditor narrowed":    {TaskFilter{Auditor: "qa2", AuditorTeams: []string{"red"}, Teams: []string{"red"}}, []string{"a2"}},
			"done":                {TaskFilter{States: []TaskState{TaskDone}}, []string{}},
		} {
			tc.f.Tenant = "acme"
			got, _, err := s.ListTasks(ctx, tc.f)
			if err != nil || !slices.Equal(convs(got), tc.want) {
				t.Errorf("%s: %q, %v; want %q", name, convs(got), err, tc.want)
			}
		}
		var paged []Task
		cursor := ""
		for range 10 {
			page, next, err := s.ListTasks(ctx, TaskFilter{Tenant: "acme", Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, page...)
			if cursor = next; cursor == "" {
				break
			}
		}
		if !slices.Equal(taskIDs(paged), taskIDs(all)) {
			t.Errorf("paged %v, want %v", taskIDs(paged), taskIDs(all))
		}
		if _, _, err := s.ListTasks(ctx, TaskFilter{Tenant: "acme", Cursor: "!!"}); !errors.Is(err, ErrMalformedCursor) {
			t.Errorf("bad cursor: %v", err)
		}
		if _, err := s.Task(ctx, "globex", all[0].ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("acme's task as globex: %v", err)
		}
	})
}

// reviewFixture is a conversation of ann sampled with two findings on its
// first event (a phone number of rule privacy.phone from lexicon
// privacy.zh, and a model finding), its task taken by qa1.
type reviewFixture struct {
	s    *Store
	task Task
	e1   *event.Event // two findings
	e2   *event.Event // none
}

func newReviewFixture(t *testing.T, db testDB, conv string) reviewFixture {
	t.Helper()
	s, _ := qaDB(t, db)
	return reviewFixtureOn(t, s, conv)
}

func reviewFixtureOn(t *testing.T, s *Store, conv string) reviewFixture {
	t.Helper()
	f := reviewFixture{s: s}
	f.e1 = sample(t, s, "acme", conv, "ann", t0, func(e *event.Event) {
		e.Findings = []event.Finding{
			{Detector: "privacy", Kind: "phone", Severity: event.SeverityHigh, Score: 1, Start: 3, End: 14, Evidence: "138****0000", Rule: "privacy.phone", Lexicon: "privacy.zh"},
			{Detector: "tone", Kind: "rude", Severity: event.SeverityMedium, Score: 0.7, Start: 0, End: 2, Evidence: "滚", Rule: "model:v3"},
		}
	})
	f.e2 = sample(t, s, "acme", conv, "ann", t0.Add(time.Minute))
	tasks, err := s.ConversationTasks(context.Background(), "acme", conv)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("tasks of %s: %+v, %v", conv, tasks, err)
	}
	if f.task, err = s.TakeTask(context.Background(), "acme", tasks[0].ID, tasks[0].Assignee); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestTakeTask: a task is taken when unassigned or already one's own;
// another's is a conflict, a done one an invalid transition.
func TestTakeTask(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, _ := qaDB(t, db)
		sample(t, s, "globex", "g1", "ann", t0) // unassigned
		g, _, _ := s.ListTasks(ctx, TaskFilter{Tenant: "globex"})
		taken, err := s.TakeTask(ctx, "globex", g[0].ID, "zhao")
		if err != nil || taken.Assignee != "zhao" || taken.State != TaskInReview {
			t.Fatalf("take: %+v, %v", taken, err)
		}
		if _, err := s.TakeTask(ctx, "globex", g[0].ID, "zhao"); err != nil {
			t.Errorf("take again: %v", err)
		}
		if _, err := s.TakeTask(ctx, "globex", g[0].ID, "qian"); !errors.Is(err, ErrConflict) {
			t.Errorf("another's: %v", err)
		}
		if _, err := s.TakeTask(ctx, "acme", g[0].ID, "zhao"); !errors.Is(err, ErrNotFound) {
			t.Errorf("another tenant's: %v", err)
		}
	})
}

// TestReviewFlow: a draft names findings of the conversation only, gets
// their rule, lexicon and kind, replaces the draft before it, and is
// submitted once, as of its version.
func TestReviewFlow(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		f := newReviewFixture(t, db, "c1")
		s, id := f.s, f.task.ID
		for name, d := range map[string]ReviewDraft{
			"other event":  {Verdicts: []FindingVerdict{{EventID: "nope", Verdict: VerdictCorrect}}},
			"no finding 2": {Verdicts: []FindingVerdict{{EventID: f.e1.EventID, FindingIndex: 2, Verdict: VerdictCorrect}}},
			"twice": {Verdicts: []FindingVerdict{{EventID: f.e1.EventID, Verdict: VerdictCorrect},
				{EventID: f.e1.EventID, Verdict: VerdictFalsePositive}}},
			"missed elsewhere": {Missed: []Missed{{EventID: "nope", Start: 0, End: 1, Kind: "privacy.email"}}},
			"empty span":       {Missed: []Missed{{EventID: f.e2.EventID, Start: 1, End: 1, Kind: "privacy.email"}}},
		} {
			if _, err := s.SaveReview(ctx, "acme", id, "qa1", d); !errors.Is(err, ErrInvalidReview) {
				t.Errorf("%s: %v, want ErrInvalidReview", name, err)
			}
		}
		if _, err := s.SaveReview(ctx, "acme", id, "qa2", ReviewDraft{}); !errors.Is(err, ErrConflict) {
			t.Errorf("by another auditor: %v", err)
		}
		if _, err := s.SubmitReview(ctx, "acme", id, "qa1", 1, 50, 100); !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("submit without a draft: %v", err)
		}
		rv, err := s.SaveReview(ctx, "acme", id, "qa1", ReviewDraft{Categories: map[string]float64{"x": 0.5}, Note: "first"})
		if err != nil || rv.Version != 1 || rv.Submitted() || rv.Score != nil {
			t.Fatalf("first draft: %+v, %v", rv, err)
		}
		rv, err = s.SaveReview(ctx, "acme", id, "qa1", ReviewDraft{
			Categories: map[string]float64{"x": 1, "y": 0.25}, AutoFail: []string{"af"}, Note: "second",
			Verdicts: []FindingVerdict{
				{EventID: f.e1.EventID, FindingIndex: 0, Verdict: VerdictFalsePositive, CorrectKind: "ignored", Rule: "forged"},
				{EventID: f.e1.EventID, FindingIndex: 1, Verdict: VerdictWrongKind, CorrectKind: "tone.impatient"},
			},
			Missed: []Missed{{EventID: f.e2.EventID, Start: 2, End: 9, Kind: "privacy.email", Note: "an address"}},
		})
		if err != nil || rv.Version != 2 || rv.Note != "second" || len(rv.Verdicts) != 2 || len(rv.Missed) != 1 {
			t.Fatalf("second draft: %+v, %v", rv, err)
		}
		wantVerdicts := []FindingVerdict{
			{EventID: f.e1.EventID, FindingIndex: 0, Verdict: VerdictFalsePositive, Kind: "privacy.phone", Rule: "privacy.phone", Lexicon: "privacy.zh"},
			{EventID: f.e1.EventID, FindingIndex: 1, Verdict: VerdictWrongKind, CorrectKind: "tone.impatient", Kind: "tone.rude", Rule: "model:v3"},
		}
		if !slices.Equal(rv.Verdicts, wantVerdicts) {
			t.Errorf("verdicts %+v\nwant %+v", rv.Verdicts, wantVerdicts)
		}
		if task, _ := s.Task(ctx, "acme", id); task.State != TaskInReview {
			t.Errorf("task state %s", task.State)
		}
		if _, err := s.SubmitReview(ctx, "acme", id, "qa1", 1, 50, 100); !errors.Is(err, ErrConflict) {
			t.Errorf("submit an old version: %v", err)
		}
		db.clock.Set(t0.Add(time.Hour))
		rv, err = s.SubmitReview(ctx, "acme", id, "qa1", 2, 62.5, 50)
		if err != nil || *rv.Score != 62.5 || *rv.AutoScore != 50 || !rv.SubmittedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("submit: %+v, %v", rv, err)
		}
		if task, _ := s.Task(ctx, "acme", id); task.State != TaskDone {
			t.Errorf("task state %s", task.State)
		}
		if _, err := s.SubmitReview(ctx, "acme", id, "qa1", 2, 1, 1); !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("submit twice: %v", err)
		}
		if _, err := s.SaveReview(ctx, "acme", id, "qa1", ReviewDraft{}); !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("save after submission: %v", err)
		}
		if _, err := s.TakeTask(ctx, "acme", id, "qa1"); !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("take a done task: %v", err)
		}
		again, err := s.Review(ctx, "acme", rv.ID)
		if err != nil || again.TaskID != id || !slices.Equal(again.Verdicts, wantVerdicts) {
			t.Errorf("Review: %+v, %v", again, err)
		}
		for _, err := range []error{
			func() error { _, err := s.Review(ctx, "globex", rv.ID); return err }(),
			func() error { _, err := s.TaskReview(ctx, "globex", id); return err }(),
			func() error { _, err := s.SaveReview(ctx, "globex", id, "qa1", ReviewDraft{}); return err }(),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("another tenant: %v", err)
			}
		}
	})
}

// submitted saves and submits the review of f's task: verdicts on both
// findings of e1, and what was missed in e2.
func (f reviewFixture) submitted(t *testing.T, auditor string, phone, model Verdict, categories map[string]float64, missed ...string) Review {
	t.Helper()
	ctx := context.Background()
	d := ReviewDraft{Categories: categories, Verdicts: []FindingVerdict{
		{EventID: f.e1.EventID, FindingIndex: 0, Verdict: phone},
		{EventID: f.e1.EventID, FindingIndex: 1, Verdict: model, CorrectKind: "tone.impatient"},
	}}
	for _, k := range missed {
		d.Missed = append(d.Missed, Missed{EventID: f.e2.EventID, Start: 0, End: 3, Kind: k})
	}
	rv, err := f.s.SaveReview(ctx, "acme", f.task.ID, auditor, d)
	if err != nil {
		t.Fatal(err)
	}
	if rv, err = f.s.SubmitReview(ctx, "acme", f.task.ID, auditor, rv.Version, 80, 50); err != nil {
		t.Fatal(err)
	}
	return rv
}

// TestDisputes: a submitted review is disputed within its window, one
// open dispute per finding, and ruled once.
func TestDisputes(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		f := newReviewFixture(t, db, "c1")
		s := f.s
		window := 7 * 24 * time.Hour
		by := DisputeInput{By: "ann", ByRole: "agent", Reason: "it was my own number"}
		rv, err := s.SaveReview(ctx, "acme", f.task.ID, "qa1", ReviewDraft{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.FileDispute(ctx, "acme", rv.ID, by, window); !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("a draft disputed: %v", err)
		}
		rv = f.submitted(t, "qa1", VerdictCorrect, VerdictCorrect, nil)
		byFinding := by
		byFinding.Finding = &FindingRef{EventID: f.e1.EventID, Index: 0}
		d1, err := s.FileDispute(ctx, "acme", rv.ID, byFinding, window)
		if err != nil || d1.State != DisputeOpen || d1.TaskID != f.task.ID || d1.AgentID != "ann" || d1.Team != "red" ||
			d1.Auditor != "qa1" || *d1.Finding != *byFinding.Finding || d1.By != "ann" || d1.ByRole != "agent" {
			t.Fatalf("dispute: %+v, %v", d1, err)
		}
		if _, err := s.FileDispute(ctx, "acme", rv.ID, byFinding, window); !errors.Is(err, ErrConflict) {
			t.Errorf("a second open dispute of the finding: %v", err)
		}
		d2, err := s.FileDispute(ctx, "acme", rv.ID, by, window) // the review as a whole
		if err != nil || d2.Finding != nil {
			t.Fatalf("dispute of the review: %+v, %v", d2, err)
		}
		bad := by
		bad.Finding = &FindingRef{EventID: f.e2.EventID, Index: 0}
		if _, err := s.FileDispute(ctx, "acme", rv.ID, bad, window); !errors.Is(err, ErrInvalidReview) {
			t.Errorf("a finding that is not: %v", err)
		}
		if _, err := s.FileDispute(ctx, "globex", rv.ID, by, window); !errors.Is(err, ErrNotFound) {
			t.Errorf("another tenant: %v", err)
		}
		db.clock.Set(rv.SubmittedAt.Add(window + time.Millisecond))
		late := by
		late.Finding = &FindingRef{EventID: f.e1.EventID, Index: 1}
		if _, err := s.FileDispute(ctx, "acme", rv.ID, late, window); !errors.Is(err, ErrWindowClosed) || !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("after the window: %v", err)
		}
		ruled, err := s.RuleDispute(ctx, "acme", d1.ID, DisputeAccepted, "agreed", "lead")
		if err != nil || ruled.State != DisputeAccepted || ruled.RulingNote != "agreed" || ruled.RuledBy != "lead" || ruled.RuledAt.IsZero() {
			t.Fatalf("ruling: %+v, %v", ruled, err)
		}
		if _, err := s.RuleDispute(ctx, "acme", d1.ID, DisputeRejected, "", "lead"); !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("ruled twice: %v", err)
		}
		if _, err := s.RuleDispute(ctx, "acme", d2.ID, DisputeOpen, "", "lead"); !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("ruled open: %v", err)
		}
		if _, err := s.RuleDispute(ctx, "globex", d2.ID, DisputeRejected, "", "lead"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ruled by another tenant: %v", err)
		}
		if _, err := s.FileDispute(ctx, "acme", rv.ID, byFinding, 30*24*time.Hour); err != nil {
			t.Errorf("a finding disputed again once ruled: %v", err)
		}
		for name, tc := range map[string]struct {
			f    DisputeFilter
			want int
		}{
			"all":     {DisputeFilter{}, 3},
			"open":    {DisputeFilter{States: []DisputeState{DisputeOpen}}, 2},
			"ann":     {DisputeFilter{AgentID: "ann"}, 3},
			"bob":     {DisputeFilter{AgentID: "bob"}, 0},
			"blue":    {DisputeFilter{Teams: []string{"blue"}}, 0},
			"red":     {DisputeFilter{Teams: []string{"red"}}, 3},
			"no team": {DisputeFilter{Teams: []string{}}, 0},
			"review":  {DisputeFilter{ReviewID: rv.ID, States: []DisputeState{DisputeAccepted}}, 1},
		} {
			tc.f.Tenant = "acme"
			got, err := s.ListDisputes(ctx, tc.f)
			if err != nil || len(got) != tc.want {
				t.Errorf("%s: %d disputes, %v; want %d", name, len(got), err, tc.want)
			}
		}
		if got, err := s.ListDisputes(ctx, DisputeFilter{Tenant: "globex"}); err != nil || len(got) != 0 {
			t.Errorf("globex: %+v, %v", got, err)
		}
	})
}

// TestPrecision: verdicts and missed findings per rule, lexicon, model
// and kind, per day; an accepted dispute takes its verdict out.
func TestPrecision(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, _ := qaDB(t, db)
		day1 := t0
		db.clock.Set(day1)
		f1 := reviewFixtureOn(t, s, "c1")
		f1.submitted(t, f1.task.Assignee, VerdictCorrect, VerdictFalsePositive, nil, "privacy.email")
		db.clock.Set(day1.Add(24 * time.Hour))
		f2 := reviewFixtureOn(t, s, "c2")
		rv2 := f2.submitted(t, f2.task.Assignee, VerdictFalsePositive, VerdictWrongKind, nil)
		f3 := reviewFixtureOn(t, s, "c3")
		rv3 := f3.submitted(t, f3.task.Assignee, VerdictFalsePositive, VerdictCorrect, nil)
		// The agent of c3 wins a dispute of the phone verdict: it is out.
		d, err := s.FileDispute(ctx, "acme", rv3.ID, DisputeInput{Finding: &FindingRef{EventID: f3.e1.EventID, Index: 0}, By: "ann", ByRole: "agent", Reason: "r"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RuleDispute(ctx, "acme", d.ID, DisputeAccepted, "", "lead"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FileDispute(ctx, "acme", rv2.ID, DisputeInput{Finding: &FindingRef{EventID: f2.e1.EventID, Index: 1}, By: "ann", ByRole: "agent", Reason: "r"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		rows, err := s.Precision(ctx, "acme", nil, day1.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		byKey := map[string]PrecisionRow{}
		for _, r := range rows {
			byKey[r.By+" "+r.Rule] = r
		}
		check := func(key string, want VerdictCounts, precision float64, days int) {
			t.Helper()
			r, ok := byKey[key]
			switch {
			case !ok:
				t.Errorf("%s: no row in %+v", key, rows)
			case r.VerdictCounts != want:
				t.Errorf("%s: %+v, want %+v", key, r.VerdictCounts, want)
			case precision < 0 && r.Precision() != nil:
				t.Errorf("%s: precision %v, want none", key, *r.Precision())
			case precision >= 0 && (r.Precision() == nil || math.Abs(*r.Precision()-precision) > 1e-9):
				t.Errorf("%s: precision %v, want %v", key, r.Precision(), precision)
			case len(r.Days) != days:
				t.Errorf("%s: days %+v", key, r.Days)
			}
		}
		check("rule privacy.phone", VerdictCounts{Correct: 1, FalsePositive: 1}, 0.5, 2)
		check("lexicon privacy.zh", VerdictCounts{Correct: 1, FalsePositive: 1}, 0.5, 2)
		check("kind privacy.phone", VerdictCounts{Correct: 1, FalsePositive: 1}, 0.5, 2)
		check("model model:v3", VerdictCounts{Correct: 1, FalsePositive: 1, WrongKind: 1}, 1.0/3, 2)
		check("kind tone.rude", VerdictCounts{Correct: 1, FalsePositive: 1, WrongKind: 1}, 1.0/3, 2)
		check("kind privacy.email", VerdictCounts{Missed: 1}, -1, 1)
		if d := byKey["rule privacy.phone"].Days; d[0].Day != "2026-05-01" || d[0].Correct != 1 || d[1].Day != "2026-05-02" || d[1].FalsePositive != 1 {
			t.Errorf("days of privacy.phone: %+v", d)
		}
		if got := byKey["rule privacy.phone"].Disputes; got[DisputeAccepted] != 1 || len(got) != 1 {
			t.Errorf("disputes of privacy.phone: %v", got)
		}
		if got := byKey["model model:v3"].Disputes; got[DisputeOpen] != 1 || len(got) != 1 {
			t.Errorf("disputes of model:v3: %v", got)
		}
		if rows, err := s.Precision(ctx, "acme", []string{"blue"}, day1.Add(-time.Hour)); err != nil || len(rows) != 0 {
			t.Errorf("blue: %+v, %v", rows, err)
		}
		if rows, err := s.Precision(ctx, "acme", nil, day1.Add(23*time.Hour)); err != nil || len(byKeys(rows)) != 5 {
			t.Errorf("since day 2: %q, %v", byKeys(rows), err)
		}
		if rows, err := s.Precision(ctx, "globex", nil, day1.Add(-time.Hour)); err != nil || len(rows) != 0 {
			t.Errorf("globex: %+v, %v", rows, err)
		}
	})
}

func byKeys(rows []PrecisionRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.By+" "+r.Rule)
	}
	return out
}

// TestQuota: per agent and day, the conversations sampled and reviewed
// against the minimum; agents who worked without a sample count too.
func TestQuota(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, _ := qaDB(t, db)
		f := reviewFixtureOn(t, s, "c1")
		f.submitted(t, f.task.Assignee, VerdictCorrect, VerdictCorrect, nil)
		sample(t, s, "acme", "c2", "ann", t0.Add(time.Hour))
		sample(t, s, "acme", "cal", "ann", t0.Add(2*time.Hour))  // three tasks, one conversation
		sample(t, s, "acme", "c3", "ann", t0.Add(24*time.Hour))  // the next day
		ingest(t, s, ev("acme", "c4", "bob", t0), findingsTopic) // bob worked, nothing sampled
		ingest(t, s, ev("acme", "c5", "cat", t0), findingsTopic) // cat has no team
		rows, err := s.Quota(ctx, "acme", nil, t0.Add(5*time.Hour), 2)
		if err != nil {
			t.Fatal(err)
		}
		want := []QuotaRow{
			{AgentID: "ann", Team: "red", Sampled: 3, Reviewed: 1, Minimum: 2},
			{AgentID: "bob", Team: "blue", Minimum: 2},
			{AgentID: "cat", Minimum: 2},
		}
		if !slices.Equal(rows, want) {
			t.Errorf("quota\n got %+v\nwant %+v", rows, want)
		}
		if rows, _ := s.Quota(ctx, "acme", nil, t0, 1); !rows[0].Met || rows[1].Met {
			t.Errorf("minimum 1: %+v", rows)
		}
		if rows, _ := s.Quota(ctx, "acme", []string{"blue"}, t0, 2); len(rows) != 1 || rows[0].AgentID != "bob" {
			t.Errorf("blue: %+v", rows)
		}
		if rows, _ := s.Quota(ctx, "acme", []string{NoTeam}, t0, 2); len(rows) != 1 || rows[0].AgentID != "cat" {
			t.Errorf("no team: %+v", rows)
		}
		if rows, _ := s.Quota(ctx, "acme", nil, t0.Add(24*time.Hour), 2); len(rows) != 1 || rows[0].Sampled != 1 {
			t.Errorf("day 2: %+v", rows)
		}
		if rows, err := s.Quota(ctx, "globex", nil, t0, 2); err != nil || len(rows) != 0 {
			t.Errorf("globex: %+v, %v", rows, err)
		}
	})
}

// TestCalibration: the auditors' scores per group and category, their
// median and spread, and each auditor's mean absolute difference to the
// median.
func TestCalibration(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, _ := qaDB(t, db)
		sample(t, s, "acme", "cal", "ann", t0)
		tasks, err := s.ConversationTasks(ctx, "acme", "cal")
		if err != nil || len(tasks) != 3 {
			t.Fatalf("calibration tasks: %+v, %v", tasks, err)
		}
		scores := map[string]struct {
			a, b, score float64
		}{"qa1": {1, 0.5, 80}, "qa2": {0.5, 0.5, 60}, "qa3": {0, 0.5, 20}}
		for _, tk := range tasks {
			sc := scores[tk.Assignee]
			rv, err := s.SaveReview(ctx, "acme", tk.ID, tk.Assignee, ReviewDraft{Categories: map[string]float64{"a": sc.a, "b": sc.b}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.SubmitReview(ctx, "acme", tk.ID, tk.Assignee, rv.Version, sc.score, 100); err != nil {
				t.Fatal(err)
			}
		}
		f := reviewFixtureOn(t, s, "c1") // qa1, not a calibration
		f.submitted(t, f.task.Assignee, VerdictCorrect, VerdictCorrect, nil)
		rep, err := s.Calibration(ctx, "acme", nil, t0.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Groups) != 1 {
			t.Fatalf("groups %+v", rep.Groups)
		}
		g := rep.Groups[0]
		if g.Group != "cal-cal" || g.ConversationID != "cal" || g.Categories["a"].Median != 0.5 || g.Categories["a"].Spread != 1 ||
			g.Categories["b"].Spread != 0 || g.Categories["a"].Scores["qa3"] != 0 || g.Score.Median != 60 || g.Score.Spread != 60 {
			t.Errorf("group %+v", g)
		}
		mad := map[string]float64{"qa1": 0.25, "qa2": 0, "qa3": 0.25}
		reviews := map[string]int{"qa1": 2, "qa2": 1, "qa3": 1}
		if len(rep.Auditors) != 3 {
			t.Fatalf("auditors %+v", rep.Auditors)
		}
		for _, a := range rep.Auditors {
			if a.MeanAbsDiff == nil || math.Abs(*a.MeanAbsDiff-mad[a.Auditor]) > 1e-9 || math.Abs(*a.Agreement-(1-mad[a.Auditor])) > 1e-9 ||
				a.Groups != 1 || a.Reviews != reviews[a.Auditor] {
				t.Errorf("auditor %+v (mad %v)", a, a.MeanAbsDiff)
			}
		}
		if rep, err := s.Calibration(ctx, "globex", nil, t0.Add(-time.Hour)); err != nil || len(rep.Groups)+len(rep.Auditors) != 0 {
			t.Errorf("globex: %+v, %v", rep, err)
		}
		if rep, err := s.Calibration(ctx, "acme", []string{"blue"}, t0.Add(-time.Hour)); err != nil || len(rep.Groups)+len(rep.Auditors) != 0 {
			t.Errorf("blue: %+v, %v", rep, err)
		}
	})
}

// TestAuditLogAndExport: the audit log per tenant, newest first; the
// export cases by verdict, without the verdicts an accepted dispute
// overturned.
func TestAuditLogAndExport(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, _ := qaDB(t, db)
		for i, e := range []AuditEntry{
			{Actor: "li", Tenant: "acme", Action: AuditDecrypt, ConversationID: "c1", EventIDs: []string{"e1"}, Raw: true},
			{Actor: "li", Tenant: "acme", Action: AuditExport, ConversationID: "c2"},
			{Actor: "wang", Tenant: "globex", Action: AuditDecrypt, ConversationID: "g1"},
		} {
			db.clock.Set(t0.Add(time.Duration(i) * time.Minute))
			if err := s.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AppendAudit(ctx, AuditEntry{Tenant: "acme", Action: AuditExport}); err == nil {
			t.Error("an entry without actor")
		}
		log, err := s.AuditLog(ctx, "acme", t0, 10)
		if err != nil || len(log) != 2 || log[0].ConversationID != "c2" || log[1].Actor != "li" || !log[1].Raw ||
			!slices.Equal(log[1].EventIDs, []string{"e1"}) || !log[1].At.Equal(t0) || log[0].EventIDs == nil {
			t.Errorf("audit log %+v, %v", log, err)
		}

		db.clock.Set(t0)
		f1 := reviewFixtureOn(t, s, "c1")
		rv1 := f1.submitted(t, f1.task.Assignee, VerdictFalsePositive, VerdictCorrect, nil)
		f2 := reviewFixtureOn(t, s, "c2")
		f2.submitted(t, f2.task.Assignee, VerdictCorrect, VerdictCorrect, nil, "privacy.email")
		f3 := reviewFixtureOn(t, s, "c3")
		f3.submitted(t, f3.task.Assignee, VerdictCorrect, VerdictCorrect, nil)
		for filter, want := range map[string][]string{
			ExportAll: {"c1", "c2", "c3"}, ExportFalsePositive: {"c1"}, ExportMissed: {"c2"},
		} {
			cases, truncated, err := s.ExportCases(ctx, "acme", nil, t0.Add(-time.Hour), filter)
			var got []string
			for _, c := range cases {
				got = append(got, c.Task.ConversationID)
			}
			if err != nil || truncated || !slices.Equal(got, want) {
				t.Errorf("%s: %q, %v, %v", filter, got, truncated, err)
			}
		}
		cases, _, _ := s.ExportCases(ctx, "acme", nil, t0.Add(-time.Hour), ExportFalsePositive)
		c := cases[0]
		if len(c.Conversation.Turns) != 2 || len(c.Review.Verdicts) != 2 || c.Task.ID != f1.task.ID {
			t.Errorf("case %+v", c)
		}
		d, err := s.FileDispute(ctx, "acme", rv1.ID, DisputeInput{Finding: &FindingRef{EventID: f1.e1.EventID, Index: 0}, By: "ann", ByRole: "agent", Reason: "r"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RuleDispute(ctx, "acme", d.ID, DisputeAccepted, "", "lead"); err != nil {
			t.Fatal(err)
		}
		cases, _, _ = s.ExportCases(ctx, "acme", nil, t0.Add(-time.Hour), ExportFalsePositive)
		if len(cases) != 1 || len(cases[0].Review.Verdicts) != 1 || cases[0].Review.Verdicts[0].FindingIndex != 1 {
			t.Errorf("after the accepted dispute: %+v", cases)
		}
		if cases, _, err := s.ExportCases(ctx, "globex", nil, t0.Add(-time.Hour), ExportAll); err != nil || len(cases) != 0 {
			t.Errorf("globex: %+v, %v", cases, err)
		}
		if _, _, err := s.ExportCases(ctx, "acme", nil, t0, "bogus"); err == nil {
			t.Error("an unknown filter")
		}
	})
}
