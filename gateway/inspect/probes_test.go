package inspect

import (
	"testing"

	"github.com/xunjian/xunjian/detectors"
)

// TestProbesCoverTheTaxonomy: every kind of every family, alone, for both
// roles, so a rule keyed on any kind is reached before a version serves.
func TestProbesCoverTheTaxonomy(t *testing.T) {
	seen := map[string]bool{}
	for _, in := range Probes() {
		if len(in.Findings) == 1 {
			f := in.Findings[0]
			seen[in.Draft.Role+" "+f.Detector+"."+f.Kind+" "+f.Severity] = true
		}
	}
	for _, role := range []string{RoleAgent, RoleCustomer} {
		for _, fam := range detectors.Families() {
			for _, k := range detectors.Kinds(fam) {
				for _, sev := range []string{"low", "critical"} {
					if !seen[role+" "+fam+"."+k+" "+sev] {
						t.Errorf("no probe for %s %s.%s at %s", role, fam, k, sev)
					}
				}
			}
		}
	}
}
