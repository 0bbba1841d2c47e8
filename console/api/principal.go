package api

import (
	"fmt"
	"slices"
	"time"

	"github.com/xunjian/xunjian/console/store"
)

// devSubject is the subject of every request in dev mode.
const devSubject = "dev"

// principal is who makes a request: from its credential, never from the
// request. It holds no secret.
type principal struct {
	subject string
	tenant  string
	role    Role
	// teams are the principal's teams, sorted; never nil. An admin's are
	// shown (GET /api/me) but do not restrict it.
	teams []string
	// agent is the agent a principal of role agent is (its credential's
	// agent); empty for the other roles.
	agent string
	// perms are the principal's permissions the console knows (decrypt),
	// sorted; never nil.
	perms []string
	dev   bool
	// keyID is the fingerprint of the API key (a session of the key
	// names it); empty for a JWT.
	keyID string
	// expires is when the credential stops being valid: the session's or
	// the JWT's expiry; zero for an API key in a header, and in dev mode.
	expires time.Time
	// cookie reports a principal established by the session cookie.
	cookie bool
}

// devPrincipal is every request's principal in dev mode.
func devPrincipal() principal {
	return principal{subject: devSubject, tenant: "default", role: RoleAdmin, teams: []string{}, perms: []string{PermDecrypt}, dev: true}
}

// can reports whether p holds the permission perm.
func (p principal) can(perm string) bool { return slices.Contains(p.perms, perm) }

// restricted reports whether p sees its teams only (not an admin).
func (p principal) restricted() bool { return p.role != RoleAdmin }

// sees reports whether p may see a row of tenant stamped with team ("" for
// an agent without a team).
func (p principal) sees(tenant, team string) bool {
	switch {
	case tenant != p.tenant:
		return false
	case !p.restricted():
		return true
	case len(p.teams) == 0:
		return team == store.NoTeam
	}
	return team != store.NoTeam && slices.Contains(p.teams, team)
}

// teamFilter returns the store's team selection of p (store.Filter.Teams):
// nil (all) for an admin, its teams for a supervisor or an auditor, and
// the teamless rows for one of no team.
func (p principal) teamFilter() []string {
	switch {
	case !p.restricted():
		return nil
	case len(p.teams) == 0:
		return []string{store.NoTeam}
	}
	return slices.Clone(p.teams)
}

// narrow returns the team selection of p narrowed to team, the value of a
// team query parameter ("" for none): an error (403) when team is not one
// p sees.
func (p principal) narrow(team string) ([]string, error) {
	switch {
	case team == "":
		return p.teamFilter(), nil
	case !p.restricted() || slices.Contains(p.teams, team):
		return []string{team}, nil
	}
	return nil, errForbidden(fmt.Sprintf("team %q is not one of yours", team))
}

// meJSON is the body of GET /api/me.
type meJSON struct {
	Subject string   `json:"subject"`
	Tenant  string   `json:"tenant"`
	Role    Role     `json:"role"`
	Teams   []string `json:"teams"`
	Dev     bool     `json:"dev"`
	// AgentID is the agent of a principal of role agent ("" otherwise).
	AgentID string `json:"agent_id"`
	// Permissions are the principal's permissions (decrypt).
	Permissions []string `json:"permissions"`
}

func (p principal) me() meJSON {
	perms := p.perms
	if perms == nil {
		perms = []string{}
	}
	return meJSON{Subject: p.subject, Tenant: p.tenant, Role: p.role, Teams: p.teams, Dev: p.dev, AgentID: p.agent, Permissions: perms}
}
