package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/tail"
	"github.com/xunjian/xunjian/rules"
)

func TestTailUsageErrors(t *testing.T) {
	// A closed port: none of these may get as far as connecting.
	t.Setenv("XUNJIAN_KAFKA_BROKERS", "")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no topic", nil, "no topic"},
		{"unknown topic", []string{"everything"}, `unknown topic "everything"`},
		{"two topics", []string{"alerts", "findings"}, "one topic argument, got 2"},
		{"two topics around a flag", []string{"alerts", "--json", "findings"}, "one topic argument, got 2"},
		{"unknown flag", []string{"alerts", "--follow"}, "flag provided but not defined"},
		{"bad max", []string{"alerts", "--max", "-1"}, "--max -1"},
		{"max not a number", []string{"alerts", "--max", "ten"}, "invalid value"},
		{"bad dedup", []string{"alerts", "--dedup", "-5"}, "--dedup -5"},
		{"bad width", []string{"alerts", "--width", "-1"}, "--width -1"},
		{"empty brokers", []string{"alerts", "--brokers", " , "}, "no broker"},
		{"topic after --", []string{"--", "--json"}, `unknown topic "--json"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, err := runCLI(t, "", append([]string{"tail"}, tc.args...)...)
			if !errors.Is(err, errUsage) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(err.Error()+errOut, tc.want) {
				t.Errorf("err %q (stderr %q) lacks %q", err, errOut, tc.want)
			}
		})
	}
}

func TestTailUsageListed(t *testing.T) {
	out, _, err := runCLI(t, "", "help")
	if err != nil || !strings.Contains(out, "\n  tail ") {
		t.Errorf("help does not list tail (err %v):\n%s", err, out)
	}
	// -h is a request for help, as `xunjian help tail`: on stdout, exit 0.
	out, _, err = runCLI(t, "", "tail", "-h")
	if err != nil || !strings.Contains(out, "usage: xunjian tail") || !strings.Contains(out, "-from-beginning") {
		t.Errorf("tail -h: err %v, stdout:\n%s", err, out)
	}
}

// tailFake starts kfake with the given topics and produces one event to
// each; it returns the broker address and the values per topic.
func tailFake(t *testing.T, topics ...string) (string, map[string][]byte) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	values := map[string][]byte{}
	for _, topic := range topics {
		e, err := stream.NewEvent(stream.EventInput{
			TS: time.Date(2026, 11, 23, 12, 3, 28, 0, time.UTC), Tenant: "acme", ConversationID: "conv-" + topic, AgentID: "a7",
			Verdict: &inspect.Verdict{Action: rules.Warn, PolicyRevision: "r"},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		values[topic] = v
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Key: e.Key(), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return c.ListenAddrs()[0], values
}

// TestTailEndToEnd runs the command against kfake: flags after the topic
// argument, the environment's brokers, --topic for a custom name.
func TestTailEndToEnd(t *testing.T) {
	addr, values := tailFake(t, "xunjian.findings", "custom.alerts")
	t.Setenv("XUNJIAN_KAFKA_BROKERS", "127.0.0.1:1") // overridden by --brokers

	out, _, err := runCLI(t, "", "tail", "findings", "--brokers", addr, "--from-beginning", "--max", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(values["xunjian.findings"])+"\n" {
		t.Errorf("--json output %q, want the value", out)
	}

	t.Setenv("XUNJIAN_KAFKA_BROKERS", " "+addr+" ,")
	out, _, err = runCLI(t, "", "tail", "--from-beginning", "--max=1", "--utc", "--topic", "custom.alerts")
	if err != nil {
		t.Fatal(err)
	}
	if want := "12:03:28.000 acme/conv-custom.alerts agent a7  WARN\n"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}

	// A missing topic is a plain error (exit 1), not a usage error.
	_, _, err = runCLI(t, "", "tail", "samples", "--brokers", addr)
	if !errors.Is(err, tail.ErrNoTopic) || errors.Is(err, errUsage) {
		t.Errorf("missing topic: %v, want ErrNoTopic", err)
	}
}

// TestTailInterrupted checks that an interrupt (a cancelled context) ends
// tail without an error.
func TestTailInterrupted(t *testing.T) {
	addr, _ := tailFake(t, "xunjian.alerts")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(time.Second, cancel) // as signal.NotifyContext would
	var out, errOut strings.Builder
	start := time.Now()
	if err := run(ctx, []string{"tail", "alerts", "--brokers", addr}, strings.NewReader(""), &out, &errOut); err != nil {
		t.Errorf("interrupted tail: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
	if out.Len() != 0 {
		t.Errorf("printed old events without --from-beginning:\n%s", out.String())
	}
}
