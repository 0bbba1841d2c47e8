package store_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// The console's loop in short: ingest what the consumer reads, list the
// wall, acknowledge an alert, and post it to a chat channel once.
func Example() {
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite::memory:") // or sqlite:///var/lib/xunjian/console.db, postgres://…
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.SetAgentTeams(ctx, "acme", map[string]string{"agent-7": "night-shift"}); err != nil {
		log.Fatal(err)
	}

	// As consumed from the alerts topic (partition 0, offset 42).
	b := []byte(`{"event_id":"0196a0b2-8c1e-7b3a-9d2e-5f4c3b2a1908","ts":"2026-05-01T09:00:00.000Z",
		"tenant":"acme","conversation_id":"conv-1","agent_id":"agent-7","role":"customer","action":"allow",
		"findings":[],"reasons":[],"alerts":[{"level":"high","kind":"complaint","message":"customer threatens to complain"}],
		"policy_revision":"r1","shadow":[],"latency_us":900,"sampled":false,"text_masked":"I will complain!","risk":0.8}`)
	ev, err := event.Parse(b)
	if err != nil {
		log.Fatal(err)
	}
	for range 2 { // a redelivery changes nothing
		inserted, err := s.Ingest(ctx, ev, store.DefaultAlertsTopic, 0, 42)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("inserted:", inserted)
	}

	wall, _, err := s.ListAlerts(ctx, store.Filter{Tenant: "acme", Teams: []string{"night-shift"},
		States: []store.State{store.StateNew, store.StateAcknowledged}, Since: ev.TS.Add(-time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	a := wall[0]
	fmt.Printf("%s %s %q risk %.1f team %s\n", a.Level, a.Kind, a.Message, a.Risk, a.Team)

	a, err = s.Transition(ctx, "acme", a.ID, "supervisor-1", store.StateAcknowledged, "supervisor-1", "on it", a.Version)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", a.State, "version:", a.Version)

	key := fmt.Sprintf("alert-%d/wecom", a.ID)
	if done, err := s.Claim(ctx, key); err == nil && !done {
		// … post to the channel, then:
		err = s.Done(ctx, key)
		if err != nil {
			log.Fatal(err)
		}
	}
	done, _ := s.Claim(ctx, key)
	fmt.Println("already posted:", done)
	// Output:
	// inserted: true
	// inserted: false
	// high complaint "customer threatens to complain" risk 0.8 team night-shift
	// state: acknowledged version: 2
	// already posted: true
}
