// Package detectors defines what every Xunjian detector shares: the Finding
// it reports, the Severity scale, the Detector interface and the optional
// capabilities a detector may have (Versioner, Keyworder). Each detector
// family lives in its own sub-package, which owns its taxonomy kinds;
// detectors/registry is the one table of the families; normalization lives
// in detectors/normalize and the lexicon matcher in detectors/lexicon.
//
// Detectors know nothing about HTTP, OPA or Kafka: text in, findings out.
package detectors

import (
	"fmt"

	"github.com/xunjian/xunjian/detectors/normalize"
)

// Severity orders findings from informational to critical. The zero value is
// Info. Severities marshal to and from their lower-case names, which are part
// of the public taxonomy.
type Severity uint8

// The severities, weakest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns the taxonomy name of s ("info" … "critical").
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) {
	if int(s) >= len(severityNames) {
		return nil, fmt.Errorf("invalid severity %d", uint8(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity returns the Severity named name.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if n == name {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (want info, low, medium, high or critical)", name)
}

// Finding is one thing a detector found in a message. Start and End are
// offsets into the ORIGINAL text in Unicode code points, so a client can
// underline exactly what the agent typed. Evidence is the matched original
// text; detectors of private data mask it before returning it.
type Finding struct {
	Detector string   `json:"detector"`
	Kind     string   `json:"kind"`
	Severity Severity `json:"severity"`
	Score    float64  `json:"score"`
	Start    int      `json:"start"`
	End      int      `json:"end"`
	Evidence string   `json:"evidence"`
	Rule     string   `json:"rule,omitempty"`
	Lexicon  string   `json:"lexicon,omitempty"`
}

// Name returns the finding's taxonomy name, "detector.kind".
func (f Finding) Name() string { return f.Detector + "." + f.Kind }

// Detector finds one family of problems in a normalized message.
//
// Detect appends its findings to dst and returns the extended slice, so a
// caller can reuse one buffer across messages. Detect must be safe for
// concurrent use: detectors are built once and are immutable afterwards.
type Detector interface {
	// Name is the detector family, the first half of the taxonomy name.
	Name() string
	// Detect appends the findings in t to dst.
	Detect(t *normalize.Text, dst []Finding) []Finding
}

// At builds a finding of detector.kind for the normalized byte range
// [nb, ne) of t: Start, End and Evidence refer to the original text.
func At(t *normalize.Text, detector, kind string, sev Severity, score float64, nb, ne int) Finding {
	s, e := t.Span(nb, ne)
	return Finding{Detector: detector, Kind: kind, Severity: sev, Score: score, Start: s, End: e, Evidence: t.OrigText(s, e)}
}
