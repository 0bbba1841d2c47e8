// Package qa is the quality audits of `xunjian console` (docs/qa.md) that
// need neither the database nor HTTP: the `qa` section of the console's
// configuration (Config), the planning of the review tasks of a sampled
// conversation (Planner, a store.TaskPlanner), scorecards and scoring
// (Scorecard), and the exports of reviewed cases as `xunjian check
// --jsonl` lines and as Rego tests (WriteJSONL, WriteRego). The store
// keeps the tasks and reviews; console/api serves them.
package qa

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/internal/envvar"
)

// Defaults of Config.
const (
	DefaultDue           = 48 * time.Hour
	DefaultDisputeWindow = 7 * 24 * time.Hour
	DefaultAgentDailyMin = 2
	DefaultHighRiskAt    = 0.8
)

// Config is the `qa` section of the console's configuration file. The
// zero value, defaulted, makes every sampled conversation an unassigned
// task due in 48 hours, scored on DefaultScorecard.
type Config struct {
	// Auditors are each tenant's auditors, by the subject of their
	// credential (an API key's name, a JWT's sub): the tasks no
	// assignment rule matches go to them in turn. A tenant without
	// auditors gets unassigned tasks, which any auditor of the team may
	// take.
	Auditors map[string][]string `yaml:"auditors"`
	// Assignment are each tenant's assignment rules: the first that
	// matches a conversation (by team, language and minimum risk) gives
	// its task to its auditors, in turn.
	Assignment map[string][]Rule `yaml:"assignment"`
	// Due is how long the auditors have for a task. Default 48h.
	Due duration.Duration `yaml:"due"`
	// Calibration chooses conversations that several auditors review.
	Calibration Calibration `yaml:"calibration"`
	// Scorecards are each tenant's scorecard; a tenant without one uses
	// DefaultScorecard.
	Scorecards map[string]Scorecard `yaml:"scorecards"`
	// DisputeWindow is how long after a review's submission it may be
	// disputed. Default 168h (7 days).
	DisputeWindow duration.Duration `yaml:"dispute_window"`
	// AgentDailyMin is the policy minimum of reviewed conversations per
	// agent per UTC day, as the gateway's stream.sampling.agent_daily_min
	// samples them (the quota report). Zero means the default, 2.
	AgentDailyMin int `yaml:"agent_daily_min"`
	// Sampling mirrors the gateway's stream.sampling, so that a task says
	// why its conversation was sampled (the events do not); see Planner.
	Sampling Sampling `yaml:"sampling"`
	// TextKeyEnv names the environment variable holding the gateway's
	// text key (stream.text_key_env: the standard-base64 AES-256 key that
	// seals text_enc), and TextKeyID its id (stream.text_key_id). Without
	// them the console shows no raw text to anyone.
	TextKeyEnv string `yaml:"text_key_env"`
	TextKeyID  string `yaml:"text_key_id"`
}

// Rule is an assignment rule. An empty list matches anything.
type Rule struct {
	// Teams are the agent teams the rule matches ("" for agents without
	// a team).
	Teams []string `yaml:"teams"`
	// Langs are the conversation languages it matches (zh, en).
	Langs []string `yaml:"langs"`
	// MinRisk is the lowest conversation risk it matches, in [0, 1].
	MinRisk float64 `yaml:"min_risk"`
	// Auditors get the tasks the rule matches, in turn (required).
	Auditors []string `yaml:"auditors"`
}

// matches reports whether r matches a conversation of team, lang and
// risk.
func (r Rule) matches(team, lang string, risk float64) bool {
	return (len(r.Teams) == 0 || slices.Contains(r.Teams, team)) &&
		(len(r.Langs) == 0 || slices.Contains(r.Langs, lang)) && risk >= r.MinRisk
}

// Calibration chooses, by a salted hash of the conversation, the share
// Rate of sampled conversations that every auditor of the tenant's
// calibration list reviews (a task each, one calibration group).
type Calibration struct {
	// Rate is the share of sampled conversations chosen, in [0, 1].
	// Default 0: none.
	Rate float64 `yaml:"rate"`
	// Auditors are each tenant's calibration auditors, at least 2; a
	// tenant without them has no calibration.
	Auditors map[string][]string `yaml:"auditors"`
	// SeedEnv names the environment variable with the hash's salt, so
	// that the choice cannot be predicted from conversation ids (empty:
	// a fixed public salt). Every console must share it.
	SeedEnv string `yaml:"seed_env"`
	// Seed is the salt itself, read from SeedEnv by ReadSecrets.
	Seed string `yaml:"-"`
}

// Sampling mirrors the gateway's stream.sampling (same fields, same
// values): with it the planner tells a hash-sampled conversation from
// the others.
type Sampling struct {
	// Rate is stream.sampling.rate. Zero: the console cannot tell hash
	// sampling (see Planner).
	Rate float64 `yaml:"rate"`
	// SeedEnv is stream.sampling.seed_env; Seed is read from it.
	SeedEnv string `yaml:"seed_env"`
	Seed    string `yaml:"-"`
	// HighRiskAt is stream.sampling.high_risk_at. Default 0.8.
	HighRiskAt float64 `yaml:"high_risk_at"`
}

// Defaults fills in every field left at its zero value.
func (c *Config) Defaults() {
	if c.Due == 0 {
		c.Due = duration.Duration(DefaultDue)
	}
	if c.DisputeWindow == 0 {
		c.DisputeWindow = duration.Duration(DefaultDisputeWindow)
	}
	if c.AgentDailyMin == 0 {
		c.AgentDailyMin = DefaultAgentDailyMin
	}
	if c.Sampling.HighRiskAt == 0 {
		c.Sampling.HighRiskAt = DefaultHighRiskAt
	}
}

// Validate reports every problem of c (defaults applied), each naming its
// YAML path under path (e.g. "qa.due: ..."), all of them joined. It reads
// no environment variable: ReadSecrets does.
func (c *Config) Validate(path string) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(path+"."+format, a...)) }
	if c.Due <= 0 {
		bad("due: want a positive duration")
	}
	if c.DisputeWindow <= 0 {
		bad("dispute_window: want a positive duration")
	}
	if c.AgentDailyMin < 0 {
		bad("agent_daily_min: must not be negative")
	}
	for _, tenant := range sortedKeys(c.Auditors) {
		errs = append(errs, checkSubjects(fmt.Sprintf("%s.auditors.%s", path, tenant), tenant, c.Auditors[tenant], 1))
	}
	for _, tenant := range sortedKeys(c.Assignment) {
		if tenant == "" {
			bad("assignment: an empty tenant id")
		}
		for i, r := range c.Assignment[tenant] {
			f := fmt.Sprintf("%s.assignment.%s[%d]", path, tenant, i)
			if !(r.MinRisk >= 0 && r.MinRisk <= 1) {
				errs = append(errs, fmt.Errorf("%s.min_risk: %v: want a risk in [0, 1]", f, r.MinRisk))
			}
			errs = append(errs, checkSubjects(f+".auditors", tenant, r.Auditors, 1))
		}
	}
	cal := c.Calibration
	if !(cal.Rate >= 0 && cal.Rate <= 1) {
		bad("calibration.rate: %v: want a share in [0, 1]", cal.Rate)
	}
	if cal.SeedEnv != "" && !envvar.Name(cal.SeedEnv) {
		bad("calibration.seed_env: %q is not an environment variable name", cal.SeedEnv)
	}
	for _, tenant := range sortedKeys(cal.Auditors) {
		errs = append(errs, checkSubjects(fmt.Sprintf("%s.calibration.auditors.%s", path, tenant), tenant, cal.Auditors[tenant], 2))
	}
	for _, tenant := range sortedKeys(c.Scorecards) {
		if tenant == "" {
			bad("scorecards: an empty tenant id")
		}
		sc := c.Scorecards[tenant]
		errs = append(errs, sc.Validate(fmt.Sprintf("%s.scorecards.%s", path, tenant)))
	}
	s := c.Sampling
	if !(s.Rate >= 0 && s.Rate <= 1) {
		bad("sampling.rate: %v: want a share in [0, 1]", s.Rate)
	}
	if !(s.HighRiskAt > 0 && s.HighRiskAt <= 1) {
		bad("sampling.high_risk_at: %v: want a risk in (0, 1]", s.HighRiskAt)
	}
	if s.SeedEnv != "" && !envvar.Name(s.SeedEnv) {
		bad("sampling.seed_env: %q is not an environment variable name", s.SeedEnv)
	}
	switch {
	case (c.TextKeyEnv == "") != (c.TextKeyID == ""):
		bad("text_key_env, text_key_id: set both (the gateway's stream.text_key_env and text_key_id) or neither")
	case c.TextKeyEnv != "" && !envvar.Name(c.TextKeyEnv):
		bad("text_key_env: %q is not an environment variable name", c.TextKeyEnv)
	}
	return errors.Join(errs...)
}

// checkSubjects checks a list of auditors of tenant: at least min, none
// empty, none twice.
func checkSubjects(field, tenant string, subjects []string, minimum int) error {
	var errs []error
	if tenant == "" {
		errs = append(errs, fmt.Errorf("%s: an empty tenant id", field))
	}
	if len(subjects) < minimum {
		errs = append(errs, fmt.Errorf("%s: want at least %d auditor(s)", field, minimum))
	}
	seen := map[string]bool{}
	for i, s := range subjects {
		switch {
		case strings.TrimSpace(s) == "":
			errs = append(errs, fmt.Errorf("%s[%d]: empty", field, i))
		case seen[s]:
			errs = append(errs, fmt.Errorf("%s[%d]: %q is listed twice", field, i, s))
		}
		seen[s] = true
	}
	return errors.Join(errs...)
}

// ReadSecrets reads the salts the configuration names from getenv:
// Calibration.Seed and Sampling.Seed. A variable named but empty is an
// error: the salt must be the gateways' (or the other consoles').
func (c *Config) ReadSecrets(getenv func(string) string) error {
	for _, s := range []struct {
		field, name string
		into        *string
	}{
		{"qa.calibration.seed_env", c.Calibration.SeedEnv, &c.Calibration.Seed},
		{"qa.sampling.seed_env", c.Sampling.SeedEnv, &c.Sampling.Seed},
	} {
		if s.name == "" {
			continue
		}
		if *s.into = getenv(s.name); *s.into == "" {
			return fmt.Errorf("%s: environment variable %s is empty", s.field, s.name)
		}
	}
	return nil
}

// TextKey returns the Encryptor of the gateway's text key, read from the
// variable TextKeyEnv names with the id TextKeyID; nil (and no error)
// when none is configured. The error never holds the key.
func (c *Config) TextKey(getenv func(string) string) (*event.Encryptor, error) {
	if c.TextKeyEnv == "" {
		return nil, nil
	}
	v := getenv(c.TextKeyEnv)
	if v == "" {
		return nil, fmt.Errorf("qa.text_key_env: environment variable %s is empty: set it to the gateway's text key", c.TextKeyEnv)
	}
	enc, err := event.NewEncryptor(v, c.TextKeyID)
	if err != nil {
		return nil, fmt.Errorf("qa.text_key_env: %s: %w", c.TextKeyEnv, err)
	}
	return enc, nil
}

// Scorecard returns the tenant's scorecard: its own, or DefaultScorecard.
func (c *Config) Scorecard(tenant string) Scorecard {
	if sc, ok := c.Scorecards[tenant]; ok {
		return sc
	}
	return DefaultScorecard()
}

// kindMatch reports whether kind ("detector.kind") matches pattern: the
// same name, or a path.Match pattern such as "privacy.*".
func kindMatch(pattern, kind string) bool {
	ok, err := path.Match(pattern, kind)
	return err == nil && ok
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
