package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// SetAgentTeams replaces the tenant's agent → team mapping with teams (the
// console's configuration; an agent left out has no team). Ingest copies
// the agent's team into the alerts and findings it stores from then on,
// so a supervisor's view by team (Filter.Teams, Counters) follows the
// teams as they were when the messages came: moving an agent does not
// move their past alerts.
func (s *Store) SetAgentTeams(ctx context.Context, tenant string, teams map[string]string) error {
	if tenant == "" {
		return errors.New("store: agent teams: empty tenant")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM agent_teams WHERE tenant = $1`, tenant); err != nil {
			return err
		}
		for _, agent := range slices.Sorted(maps.Keys(teams)) {
			if agent == "" || teams[agent] == "" {
				return fmt.Errorf("empty agent or team (agent %q)", agent)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO agent_teams (tenant, agent_id, team) VALUES ($1, $2, $3)`,
				tenant, agent, teams[agent]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: agent teams of %s: %w", tenant, err)
	}
	return nil
}

// AgentTeams returns the tenant's agent → team mapping.
func (s *Store) AgentTeams(ctx context.Context, tenant string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT agent_id, team FROM agent_teams WHERE tenant = $1`, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: agent teams of %s: %w", tenant, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var agent, team string
		if err := rows.Scan(&agent, &team); err != nil {
			return nil, fmt.Errorf("store: agent teams of %s: %w", tenant, err)
		}
		out[agent] = team
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: agent teams of %s: %w", tenant, err)
	}
	return out, nil
}
