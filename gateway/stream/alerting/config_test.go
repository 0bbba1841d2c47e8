package alerting

import (
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	var c Config
	c.Defaults()
	if c.Window.D() != DefaultWindow || c.MaxKeys != DefaultMaxKeys {
		t.Errorf("Defaults = %+v", c)
	}
	if err := (Config{Window: duration.Duration(-time.Second)}).Validate("stream.alerts"); err == nil || err.Error() != "stream.alerts.window: must not be negative" {
		t.Errorf("Validate = %v", err)
	}
	if d := New(Config{Window: duration.Duration(-time.Second), MaxKeys: -1}); d.window != DefaultWindow {
		t.Errorf("New with a negative window: %s, want the default", d.window)
	}
}
