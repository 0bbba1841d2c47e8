package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Bucket is one time bucket of AgentStats.
type Bucket struct {
	// Start is the bucket's start, a multiple of the bucket width since
	// the Unix epoch (UTC).
	Start    time.Time `json:"start"`
	Findings int       `json:"findings"`
	Alerts   int       `json:"alerts"`
}

// MaxBuckets bounds the buckets AgentStats returns.
const MaxBuckets = 10_000

// AgentStats returns the tenant's agent's findings and alerts per bucket
// of width bucket, from the bucket holding since to the one holding now,
// every bucket present (zero when empty): a sparkline's points. Findings
// count the findings of the agent's messages; alerts, the alerts raised on
// them.
func (s *Store) AgentStats(ctx context.Context, tenant, agent string, since time.Time, bucket time.Duration) ([]Bucket, error) {
	return s.AgentStatsOfTeams(ctx, tenant, nil, agent, since, bucket)
}

// AgentStatsOfTeams is AgentStats counting only the findings and alerts
// stamped with one of teams (as Filter.Teams selects them: nil for all,
// NoTeam for the agent's rows while it had no team, empty for none): a
// supervisor's view of an agent, which shows nothing of the agent's time
// in another team.
func (s *Store) AgentStatsOfTeams(ctx context.Context, tenant string, teams []string, agent string, since time.Time, bucket time.Duration) ([]Bucket, error) {
	wrap := func(err error) error { return fmt.Errorf("store: stats of agent %s: %w", agent, err) }
	width := bucket.Milliseconds()
	switch {
	case tenant == "":
		return nil, wrap(errors.New("empty tenant"))
	case width <= 0:
		return nil, wrap(fmt.Errorf("bucket %v: want at least 1ms", bucket))
	}
	from, now := ms(since), ms(s.now())
	first, last := from-from%width, now-now%width
	if last < first {
		last = first
	}
	n := (last-first)/width + 1
	if n > MaxBuckets {
		return nil, wrap(fmt.Errorf("%d buckets of %v since %v: more than %d", n, bucket, since, MaxBuckets))
	}
	out := make([]Bucket, n)
	for i := range out {
		out[i].Start = fromMS(first + int64(i)*width)
	}
	if teams != nil && len(teams) == 0 {
		return out, nil
	}
	count := func(table, tsColumn string, set func(*Bucket, int)) error {
		// The bucket expression is integer arithmetic in both dialects.
		a := args{width, tenant, agent, first}
		where := ""
		if teams != nil {
			where = " AND " + a.teams(teams)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT (`+tsColumn+` / $1) * $1 AS b, COUNT(*) FROM `+table+`
			WHERE tenant = $2 AND agent_id = $3 AND `+tsColumn+` >= $4`+where+` GROUP BY b`, a...)
		if err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
		defer rows.Close()
		for rows.Next() {
			var b, c int64
			if err := rows.Scan(&b, &c); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			if i := (b - first) / width; i >= 0 && i < n {
				set(&out[i], int(c))
			}
		}
		return rows.Err()
	}
	if err := count("findings", "ts_ms", func(b *Bucket, c int) { b.Findings = c }); err != nil {
		return nil, wrap(err)
	}
	if err := count("alerts", "created_ms", func(b *Bucket, c int) { b.Alerts = c }); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// Counts are the counters of a tenant (or of some of its teams) over a
// time window.
type Counts struct {
	// Alerts counts alerts per kind (complaint, risk, …).
	Alerts map[string]int `json:"alerts"`
	// Findings counts findings per taxonomy name, "detector.kind".
	Findings map[string]int `json:"findings"`
	// Open counts the alerts not resolved yet, per level name, whenever
	// they were raised: the backlog.
	Open map[string]int `json:"open"`
}

// Counters returns the tenant's counts of alerts and findings since since
// (the wall's last hour or day), and its backlog of open alerts. teams
// selects as Filter.Teams does: nil for all of the tenant, teamless rows
// included; NoTeam for the teamless rows; empty for none.
func (s *Store) Counters(ctx context.Context, tenant string, teams []string, since time.Time) (Counts, error) {
	c := Counts{Alerts: map[string]int{}, Findings: map[string]int{}, Open: map[string]int{}}
	if tenant == "" {
		return Counts{}, errors.New("store: counters: empty tenant")
	}
	if teams != nil && len(teams) == 0 {
		return c, nil
	}
	// run adds up the (key, count) rows of query over the tenant's rows
	// (of tsColumn >= since, unless tsColumn is empty).
	run := func(what, query, tsColumn string, into map[string]int, extra string) error {
		var a args
		where := "tenant = " + a.add(tenant)
		if tsColumn != "" {
			where += " AND " + tsColumn + " >= " + a.add(ms(since))
		}
		if teams != nil {
			where += " AND " + a.teams(teams)
		}
		rows, err := s.db.QueryContext(ctx, query+` WHERE `+where+extra, a...)
		if err != nil {
			return fmt.Errorf("store: counters: %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k string
				n int64
			)
			if err := rows.Scan(&k, &n); err != nil {
				return fmt.Errorf("store: counters: %s: %w", what, err)
			}
			into[k] += int(n)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: counters: %s: %w", what, err)
		}
		return nil
	}
	if err := run("alerts", `SELECT kind, COUNT(*) FROM alerts`, "created_ms", c.Alerts, ` GROUP BY kind`); err != nil {
		return Counts{}, err
	}
	if err := run("findings", `SELECT detector || '.' || kind, COUNT(*) FROM findings`, "ts_ms", c.Findings, ` GROUP BY detector, kind`); err != nil {
		return Counts{}, err
	}
	open := map[string]int{}
	if err := run("open alerts", `SELECT CAST(level_rank AS TEXT), COUNT(*) FROM alerts`, "", open,
		` AND state <> 'resolved' GROUP BY level_rank`); err != nil {
		return Counts{}, err
	}
	for k, n := range open {
		rank, err := strconv.Atoi(k)
		if err != nil {
			return Counts{}, fmt.Errorf("store: counters: open alerts: level %q: %w", k, err)
		}
		c.Open[Level(rank).String()] += n
	}
	return c, nil
}
