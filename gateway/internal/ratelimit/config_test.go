package ratelimit

import (
	"strings"
	"testing"
)

// TestRatesDefaults: zero bursts are twice the rate, and a credential
// without a rate of its own gets the agent's rate and burst.
func TestRatesDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want Rates
	}{
		{"none", Rates{}, Rates{}},
		{"agent only", Rates{AgentRate: 2.5}, Rates{AgentRate: 2.5, AgentBurst: 5, CredentialRate: 2.5, CredentialBurst: 5}},
		{"agent burst kept", Rates{AgentRate: 2, AgentBurst: 7}, Rates{AgentRate: 2, AgentBurst: 7, CredentialRate: 2, CredentialBurst: 7}},
		{"credential rate", Rates{AgentRate: 1, CredentialRate: 0.7}, Rates{AgentRate: 1, AgentBurst: 2, CredentialRate: 0.7, CredentialBurst: 2}},
		{"credential only", Rates{CredentialRate: 4, CredentialBurst: 9}, Rates{CredentialRate: 4, CredentialBurst: 9}},
	} {
		got := tc.in
		got.Defaults()
		if got != tc.want {
			t.Errorf("%s: Defaults = %+v, want %+v", tc.name, got, tc.want)
		}
		if got.Agent() != (Config{Rate: got.AgentRate, Burst: got.AgentBurst}) || got.Credential() != (Config{Rate: got.CredentialRate, Burst: got.CredentialBurst}) {
			t.Errorf("%s: Agent/Credential do not carry the rates", tc.name)
		}
	}
	err := Rates{AgentRate: -1, CredentialBurst: -1}.Validate("limits")
	if err == nil || !strings.Contains(err.Error(), "limits.agent_rate: must not be negative") || !strings.Contains(err.Error(), "limits.credential_burst: must not be negative") {
		t.Errorf("Validate = %v", err)
	}
}
