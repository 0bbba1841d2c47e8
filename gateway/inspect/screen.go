package inspect

import "github.com/xunjian/xunjian/detectors"

// Screening is what the detectors alone found in a draft, without the
// policy: what a fail-open release may still rely on when the policy could
// not decide.
type Screening struct {
	// Findings are the detectors' findings (never nil).
	Findings []detectors.Finding
	// Masked is the text with its private data masked; the text itself
	// when there is none.
	Masked string
}

// PrivacyOnly reports whether every finding is the privacy detector's, so
// that masking leaves nothing the policy would have weighed: a fail-open
// release is allowed for such a draft only.
func (s Screening) PrivacyOnly() bool {
	for _, f := range s.Findings {
		if f.Detector != "privacy" {
			return false
		}
	}
	return true
}

// Screen runs the detectors on req without the policy and without
// conversation context. It costs one normalization and detector pass (or a
// findings cache hit) and never blocks. A request the pipeline refuses
// returns an error wrapping ErrInvalid.
func (in *Inspector) Screen(req Request) (Screening, error) {
	if err := in.validate(&req); err != nil {
		return Screening{}, err
	}
	d := in.detected(req)
	fs := append([]detectors.Finding{}, d.findings...)
	return Screening{Findings: fs, Masked: in.masked(req.Text, fs)}, nil
}
