package stream

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xunjian/xunjian/gateway/stream/shipper"
	"github.com/xunjian/xunjian/gateway/stream/spool"
)

// TestConfigFromYAML: the stream section decodes straight into Config (the
// spool's options inline beside on_full), Defaults fills the components'
// defaults, and Validate names faults by their YAML path.
func TestConfigFromYAML(t *testing.T) {
	const section = `
topics: {alerts: qa.alerts}
spool: {dir: /var/spool/xj, fsync: always, fsync_interval: 1s, on_full: hold}
batch_timeout: 20ms
alerts: {window: 1m}
sampling: {rate: 0.1, seed_env: SEED}
`
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte(section)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.Defaults()
	if c.Topics != (Topics{Findings: DefaultFindingsTopic, Alerts: "qa.alerts", Samples: DefaultSamplesTopic}) ||
		c.Spool.Dir != "/var/spool/xj" || c.Spool.Fsync != spool.FsyncAlways || c.Spool.Interval.D() != time.Second ||
		c.Spool.MaxBytes != spool.DefaultMaxBytes || !c.Spool.hold() ||
		c.BatchSize != shipper.DefaultBatchSize || c.BatchTimeout.D() != 20*time.Millisecond ||
		c.Alerts.Window.D() != time.Minute || c.Sampling.SeedEnv != "SEED" || c.Sampling.HighRiskAt != 0.8 ||
		c.EmbeddedBroker != DefaultEmbeddedBroker || c.TextKeyID != DefaultTextKeyID {
		t.Errorf("config = %+v", c)
	}
	if err := c.Validate("stream"); err != nil {
		t.Errorf("Validate = %v", err)
	}

	c.Spool.Fsync, c.Spool.OnFull, c.Alerts.Window, c.Sampling.Rate, c.Topics.Samples = "sometimes", "panic", -1, 2, c.Topics.Findings
	err := c.Validate("stream")
	for _, want := range []string{"stream.spool.fsync", "stream.spool.on_full", "stream.alerts.window", "stream.sampling.rate", "stream.topics: the three topics must differ"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to name %s", err, want)
		}
	}
	c.Disabled = true
	if err := c.Validate("stream"); err != nil {
		t.Errorf("a disabled stream is not checked: %v", err)
	}
}
