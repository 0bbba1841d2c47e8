package sampling

import (
	"strings"
	"testing"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	var c Config
	c.Defaults()
	if c.HighRiskAt != DefaultHighRiskAt || c.MaxAgents != DefaultMaxAgents || c.MaxConversations != DefaultMaxConversations {
		t.Errorf("Defaults = %+v", c)
	}
	if err := c.Validate("stream.sampling"); err != nil {
		t.Errorf("Validate = %v", err)
	}
	err := Config{Rate: 1.5, HighRiskAt: -1, AgentDailyMin: -1}.Validate("stream.sampling")
	for _, want := range []string{"stream.sampling.rate: 1.5: want a share in [0, 1]", "stream.sampling.high_risk_at: -1: want a risk in (0, 1]", "stream.sampling.agent_daily_min: must not be negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to contain %q", err, want)
		}
	}
}
