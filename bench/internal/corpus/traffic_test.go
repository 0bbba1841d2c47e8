package corpus

import (
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/complaint"
	"github.com/xunjian/xunjian/detectors/diversion"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/detectors/tone"
)

// trafficOpts are the unique scenario's default shares (go run ./bench
// compare).
var trafficOpts = TrafficOptions{Quick: 0.15, FollowUps: 0.1, Complaints: 0.05, Privacy: 0.05, Rude: 0.03, Diversion: 0.03}

func generate(t *testing.T, opts TrafficOptions, n int) ([]Message, TrafficStats) {
	t.Helper()
	dir, err := Dir("")
	if err != nil {
		t.Fatal(err)
	}
	msgs, st, err := Generate(dir, opts, n)
	if err != nil {
		t.Fatal(err)
	}
	return msgs, st
}

func TestTrafficDeterministic(t *testing.T) {
	a, sa := generate(t, trafficOpts, 5000)
	b, sb := generate(t, trafficOpts, 5000)
	for i := range a {
		if string(a[i].Body()) != string(b[i].Body()) {
			t.Fatalf("message %d differs between two streams with the same seed:\n%s\n%s", i, a[i].Body(), b[i].Body())
		}
	}
	if sa.Unique != sb.Unique || sa.Quick != sb.Quick || sa.Conversations != sb.Conversations {
		t.Errorf("stats differ: %+v %+v", sa, sb)
	}
	other := trafficOpts
	other.Seed = 2
	c, _ := generate(t, other, 5000)
	same := 0
	for i := range a {
		if a[i].Text == c[i].Text {
			same++
		}
	}
	if same > len(a)/5 {
		t.Errorf("seeds 1 and 2 share %d of %d messages at the same position", same, len(a))
	}
}

// TestTrafficUnique checks what repeats: the quick replies, at their share
// of the agent drafts, and nothing else.
func TestTrafficUnique(t *testing.T) {
	const n = 60000
	msgs, st := generate(t, trafficOpts, n)
	quick := map[string]bool{}
	for _, byPos := range quickReplies {
		for _, list := range byPos {
			for _, q := range list {
				quick[q] = true
			}
		}
	}
	seen := map[string]int{}
	agents, quicks, customers, follow := 0, 0, 0, 0
	for i, m := range msgs {
		if m.Role == RoleAgent {
			agents++
		} else {
			customers++
		}
		if m.FollowUp {
			follow++
		}
		if m.Quick {
			quicks++
			if !quick[m.Text] || m.Role != RoleAgent || m.Plant != "" {
				t.Fatalf("quick reply %d: %+v", i, m)
			}
			continue
		}
		if quick[m.Text] {
			t.Fatalf("message %d is a quick reply's text but not marked quick: %q", i, m.Text)
		}
		if j, dup := seen[m.Text]; dup {
			t.Fatalf("messages %d and %d are the same: %q", j, i, m.Text)
		}
		seen[m.Text] = i
	}
	share := float64(quicks) / float64(agents)
	t.Logf("%d messages: %d agent drafts (%d quick replies, %.1f%%), %d customer messages (%d follow-ups), %d unique; %d conversations over %.0f simulated s",
		n, agents, quicks, 100*share, customers, follow, len(seen), st.Conversations, st.SimulatedSeconds)
	if share < 0.13 || share > 0.17 {
		t.Errorf("quick replies are %.3f of the agent drafts, want about 0.15", share)
	}
	if len(seen) != n-quicks || st.Unique != len(seen) || st.Quick != quicks {
		t.Errorf("%d unique of %d messages with %d quick replies; stats %+v", len(seen), n, quicks, st)
	}
	if c := float64(customers) / n; c < 0.35 || c > 0.6 {
		t.Errorf("customer messages are %.2f of the stream", c)
	}
	if f := float64(follow) / float64(customers); f < 0.05 || f > 0.15 {
		t.Errorf("follow-ups are %.3f of the customer messages", f)
	}
	none := trafficOpts
	none.Quick = 0
	msgs, _ = generate(t, none, 5000)
	for _, m := range msgs {
		if m.Quick {
			t.Fatal("a quick reply with a share of 0")
		}
	}
}

// TestTrafficConversations checks that conversations evolve as their
// corpus dialogue: turns in the corpus order with the corpus roles, one
// agent each, follow-ups only after a customer message, time going
// forward in every conversation and in the stream.
func TestTrafficConversations(t *testing.T) {
	dir, err := Dir("")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTraffic(dir, trafficOpts)
	if err != nil {
		t.Fatal(err)
	}
	type state struct {
		last  Message
		n     int
		turns []int
	}
	convs := map[string]*state{}
	var prev Message
	both, waited := 0, 0
	for i := range 40000 {
		m := tr.Next()
		if i > 0 && m.TS.Before(prev.TS) {
			t.Fatalf("message %d at %v after one at %v", i, m.TS, prev.TS)
		}
		prev = m
		s := convs[m.Conversation]
		if s == nil {
			s = &state{}
			convs[m.Conversation] = s
		} else {
			if !m.TS.After(s.last.TS) {
				t.Fatalf("%s: message at %v after one at %v", m.Conversation, m.TS, s.last.TS)
			}
			if m.Agent != s.last.Agent || m.Corpus != s.last.Corpus {
				t.Fatalf("%s: agent or corpus changed: %+v then %+v", m.Conversation, s.last, m)
			}
		}
		if m.FollowUp && (m.Role != RoleCustomer || s.n == 0 || s.last.Role != RoleCustomer) {
			t.Fatalf("%s: follow-up %+v after %+v", m.Conversation, m, s.last)
		}
		if m.Role == RoleAgent && s.n > 0 && s.last.Role == RoleCustomer {
			waited++
		}
		if m.Turn >= 0 {
			if len(s.turns) > 0 && m.Turn <= s.turns[len(s.turns)-1] {
				t.Fatalf("%s: corpus turn %d after %d", m.Conversation, m.Turn, s.turns[len(s.turns)-1])
			}
			s.turns = append(s.turns, m.Turn)
		} else if !m.Quick && !m.FollowUp {
			t.Fatalf("%s: an inserted message that is neither a quick reply nor a follow-up: %+v", m.Conversation, m)
		}
		s.last = m
		s.n++
	}
	for _, s := range convs {
		if s.n > 1 {
			both++
		}
	}
	t.Logf("%d conversations seen, %d with more than one message, %d agent messages right after a customer's", len(convs), both, waited)
	if both < len(convs)/2 || waited < 5000 {
		t.Errorf("conversations do not evolve: %d of %d with more than one message, %d answers", both, len(convs), waited)
	}
}

// TestTrafficRoles checks the roles against the corpus: every corpus turn
// keeps its role, customers and agents alternate as the corpus has them.
func TestTrafficRoles(t *testing.T) {
	dir, err := Dir("")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTraffic(dir, trafficOpts)
	if err != nil {
		t.Fatal(err)
	}
	for range 20000 {
		c := tr.pq[0]
		st := c.steps[c.k]
		m := tr.Next()
		if m.Turn >= 0 {
			u := c.d.turns[m.Turn]
			if u.Role != m.Role || !strings.Contains(strings.ToLower(m.Text), strings.ToLower(strings.TrimSpace(u.Text))) {
				t.Fatalf("message %+v does not vary corpus turn %+v", m, u)
			}
		}
		if st.role != m.Role {
			t.Fatalf("planned role %s, sent %s", st.role, m.Role)
		}
	}
}

// TestTrafficPlantsAreFound checks every planted message of the stream
// against the detector of its kind, that planted values are never reused,
// that the plant shares are shares of all agent drafts, and that quick
// replies carry no finding.
func TestTrafficPlantsAreFound(t *testing.T) {
	opts := trafficOpts
	opts.Privacy, opts.Rude, opts.Diversion, opts.Complaints = 0.2, 0.1, 0.1, 0.2
	msgs, st := generate(t, opts, 20000)
	pd, err := privacy.Default()
	if err != nil {
		t.Fatal(err)
	}
	td, err := tone.Default()
	if err != nil {
		t.Fatal(err)
	}
	dd, err := diversion.Default()
	if err != nil {
		t.Fatal(err)
	}
	cd, err := complaint.Default()
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.Default()
	found := func(d detectors.Detector, text string, ok func(detectors.Finding) bool) bool {
		for _, f := range d.Detect(n.Normalize(text), nil) {
			if ok(f) {
				return true
			}
		}
		return false
	}
	values := map[string]int{}
	agents, planted := 0, map[string]int{}
	for i, m := range msgs {
		if m.Role == RoleAgent {
			agents++
		}
		if m.Quick {
			for _, d := range []detectors.Detector{pd, td, dd} {
				if found(d, m.Text, func(detectors.Finding) bool { return true }) {
					t.Errorf("quick reply %q has a finding", m.Text)
				}
			}
			continue
		}
		if m.PlantValue != "" {
			k := strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(strings.ToLower(m.PlantValue))
			if j, dup := values[k]; dup {
				t.Fatalf("planted value %q in messages %d and %d", m.PlantValue, j, i)
			}
			values[k] = i
			if !strings.Contains(m.Text, m.PlantValue) {
				t.Fatalf("message %q lacks its planted value %q", m.Text, m.PlantValue)
			}
		}
		if m.Plant != "" {
			planted[m.Plant]++
		}
		switch m.Plant {
		case PlantPrivacy:
			if !found(pd, m.Text, func(f detectors.Finding) bool { return f.Kind == m.PlantKind }) {
				t.Errorf("%s not found in %q", m.PlantKind, m.Text)
			}
		case PlantRude:
			if !found(td, m.Text, func(f detectors.Finding) bool { return f.Detector == tone.Name }) {
				t.Errorf("no tone finding in %q", m.Text)
			}
		case PlantDiversion:
			if !found(dd, m.Text, func(f detectors.Finding) bool { return f.Detector == diversion.Name }) {
				t.Errorf("no diversion finding in %q", m.Text)
			}
		}
		if m.Complaint && !found(cd, m.Text, func(f detectors.Finding) bool { return f.Detector == complaint.Name }) {
			t.Errorf("no complaint finding in %q", m.Text)
		}
		if m.Plant != "" && m.Role != RoleAgent {
			t.Errorf("a plant in a customer message: %+v", m)
		}
	}
	for k, want := range map[string]float64{PlantPrivacy: opts.Privacy, PlantRude: opts.Rude, PlantDiversion: opts.Diversion} {
		got := float64(planted[k]) / float64(agents)
		if got < want*0.85 || got > want*1.15 {
			t.Errorf("%s: %.3f of the agent drafts, want %.3f", k, got, want)
		}
		if st.Planted[k] != planted[k] {
			t.Errorf("%s: stats say %d, counted %d", k, st.Planted[k], planted[k])
		}
	}
	if c := float64(st.Complaints) / float64(st.Customer); c < 0.17 || c > 0.23 {
		t.Errorf("complaints are %.3f of the customer messages, want 0.2", c)
	}
	if _, err := NewTraffic(".", TrafficOptions{Quick: 0.5, Privacy: 0.3, Rude: 0.3}); err == nil {
		t.Error("plant shares beyond the drafts that can take one accepted")
	}
	if _, err := NewTraffic(".", TrafficOptions{Quick: 1}); err == nil {
		t.Error("a quick-reply share of 1 accepted")
	}
}

// TestEntitiesAreNotPrivate checks that what the variation adds (order and
// tracking numbers, amounts, dates, names, products) is not private data
// to the privacy detector: it must not turn ordinary messages into
// redactions.
func TestEntitiesAreNotPrivate(t *testing.T) {
	pd, err := privacy.Default()
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.Default()
	r := newRand(11)
	for _, lang := range []string{"zh", "en"} {
		for range 300 {
			id := newIdentity(r, lang)
			for _, frames := range [][]string{agentPrefixes[lang], agentSuffixes[lang], customerSuffixes[lang], followUps[lang]} {
				for _, f := range frames {
					s := fill(r, f, lang, id)
					if fs := pd.Detect(n.Normalize(s), nil); len(fs) > 0 {
						t.Errorf("%q: %s finding %q", s, fs[0].Kind, fs[0].Evidence)
					}
				}
			}
		}
	}
}
