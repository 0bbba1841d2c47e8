// Package duration is the time.Duration of the gateway's YAML
// configuration, written "50ms", "2s", "5m". It is a leaf: the packages
// whose configuration structs gateway/config embeds use it without
// importing gateway/config.
package duration

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as "50ms", "2s", "5m" in YAML (a
// bare number, without its unit, is an error). Its zero value is zero;
// what zero means is up to the field that holds it.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler. The error names the line and
// the value; the caller's decoder adds nothing, so the message stays short.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 50ms or 5s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d as time.Duration does, e.g. "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }
