package spool

import (
	"strings"
	"testing"
)

// TestOptionsDefaultsAndValidate: Defaults fills every zero field, the
// directory included (Open, which requires it, does not); Validate names
// faults by their YAML path.
func TestOptionsDefaultsAndValidate(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/state")
	var o Options
	o.Defaults()
	if o.Dir != "/state/xunjian/spool" || o.SegmentBytes != DefaultSegmentBytes || o.MaxBytes != DefaultMaxBytes ||
		o.Fsync != FsyncInterval || o.Interval.D() != DefaultInterval {
		t.Errorf("Defaults = %+v", o)
	}
	if err := o.Validate("stream.spool"); err != nil {
		t.Errorf("Validate = %v", err)
	}
	err := Options{MaxBytes: -1, Fsync: "sometimes", Interval: -1}.Validate("stream.spool")
	for _, want := range []string{"stream.spool.max_bytes: must not be negative", `stream.spool.fsync: "sometimes": want always, interval or never`, "stream.spool.fsync_interval: must not be negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to contain %q", err, want)
		}
	}
}
