package corpus

import (
	"container/heap"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"
)

// Traffic is the unique scenario's message stream: the corpora's
// dialogues replayed as conversations that evolve, customer and agent
// turns alternating as in the corpus, on a simulated clock, with every
// message (but the quick replies) unique.
//
//   - Conversations: Open of them are under way at any time on the
//     simulated clock; each is a corpus dialogue (drawn in a seeded order,
//     each reused with a new identity once all have been used) with its
//     own id, an agent among Agents, and an identity its turns mention (the
//     customer's name or nickname, an order number, a product and size, a
//     tracking number). When one ends, the next starts in its place.
//   - Times: a customer waits 5–90 s for an answer (one in ten 1.5–10
//     min), answers in 5–120 s; an agent's second message follows in
//     3–20 s. A customer writes again before the agent answered
//     (FollowUps: 在吗？…) after 30–240 s. The stream is every
//     conversation's messages merged in time order; each message carries
//     its simulated time (TS).
//   - Unique: every corpus sentence is varied as agents and customers write
//     it (the name, the order number, an amount, a date or time, the
//     product, the tracking number), and a message that still repeats an
//     earlier one gets one more such sentence, then a ticket reference, so
//     no two messages are the same; planted values (phone, ID and card
//     numbers, e-mails, WeChat and QQ ids …) are unique too.
//   - Repeats: a share Quick of the agent drafts are templated quick
//     replies (快捷短语: 亲，您好，很高兴为您服务; Thanks for reaching out!
//     Let me check that for you.), sent verbatim: one opening the
//     conversation, one asking for a moment before an answer, one closing.
//   - Plants: shares Privacy, Rude and Diversion of the agent drafts, as in
//     Load, never on a quick reply; a share Complaints of the customer
//     messages carry a complaint threat (12315, a bad review, a chargeback)
//     that raises the conversation's risk.
//
// It is deterministic for its options: the same seed gives the same
// stream. It is not safe for concurrent use.
type Traffic struct {
	opts      TrafficOptions
	r         *rand.Rand
	dialogues []dialogue
	order     []int // dialogue order of the current pass
	next      int   // into order
	pq        convQueue
	seq       uint64
	seen      map[uint64]struct{} // text hashes of the unique messages
	values    map[string]struct{} // planted values and handles
	refs      int                 // ticket references added
	stats     TrafficStats
	first     time.Time
}

// TrafficOptions configure Traffic. Zero means the default where one is
// given; shares are 0 unless set.
type TrafficOptions struct {
	// Names are the corpus folders; nil means DefaultNames.
	Names []string
	// Agents is how many agent ids the conversations are spread over;
	// default 200.
	Agents int
	// Open is how many conversations are under way at once on the
	// simulated clock; default 2000 (ten per agent).
	Open int
	// Quick is the share of agent drafts that are templated quick replies,
	// in [0, 1).
	Quick float64
	// FollowUps is the chance that a customer writes again before the
	// agent answered.
	FollowUps float64
	// Complaints is the share of customer messages with a complaint
	// threat.
	Complaints float64
	// Privacy, Rude and Diversion are shares of all agent drafts (quick
	// replies included, which never get one); with Quick they must leave
	// room: (Privacy+Rude+Diversion)/(1-Quick) <= 1.
	Privacy, Rude, Diversion float64
	// Seed makes the stream reproducible; zero means 1.
	Seed uint64
	// Start is the simulated clock's start; zero means
	// 2026-12-06 09:00 +08:00.
	Start time.Time
}

// TrafficStats count what a Traffic produced so far.
type TrafficStats struct {
	Messages      int            `json:"messages"`
	Agent         int            `json:"agent_drafts"`
	Customer      int            `json:"customer_messages"`
	Quick         int            `json:"quick_replies"`
	FollowUps     int            `json:"customer_follow_ups"`
	Complaints    int            `json:"customer_complaints"`
	Planted       map[string]int `json:"planted"`
	Conversations int            `json:"conversations"`
	// Unique counts the messages that are not quick replies: each is
	// unlike every other message of the stream.
	Unique int `json:"unique"`
	// SimulatedSeconds is the simulated time from the first message to the
	// last.
	SimulatedSeconds float64 `json:"simulated_seconds"`
	// Open is the number of conversations under way at once.
	Open int `json:"open_conversations"`
}

// dialogue is one corpus dialogue, its turns in order.
type dialogue struct {
	corpus, id, lang string
	turns            []Utterance
}

// step is one planned message of a conversation.
type step struct {
	ts    time.Time
	role  string
	turn  int    // corpus turn, or -1
	quick string // quick reply position (open, hold, close), or ""
	// follow marks a customer's follow-up.
	follow bool
}

// conv is a conversation under way.
type conv struct {
	id, agent string
	d         *dialogue
	ident     identity
	steps     []step
	k         int // next step
	seq       uint64
}

// convQueue orders conversations by their next message's time.
type convQueue []*conv

func (q convQueue) Len() int { return len(q) }
func (q convQueue) Less(i, j int) bool {
	a, b := q[i].steps[q[i].k].ts, q[j].steps[q[j].k].ts
	if a.Equal(b) {
		return q[i].seq < q[j].seq
	}
	return a.Before(b)
}
func (q convQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *convQueue) Push(x any)   { *q = append(*q, x.(*conv)) }
func (q *convQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// NewTraffic reads the dialogues of the corpora in dir and returns the
// stream's generator.
func NewTraffic(dir string, opts TrafficOptions) (*Traffic, error) {
	if opts.Quick < 0 || opts.Quick >= 1 {
		return nil, fmt.Errorf("quick-reply share %.3f: want 0 <= share < 1", opts.Quick)
	}
	if opts.Privacy < 0 || opts.Rude < 0 || opts.Diversion < 0 || opts.FollowUps < 0 || opts.FollowUps > 1 || opts.Complaints < 0 || opts.Complaints > 1 {
		return nil, errors.New("shares must be between 0 and 1")
	}
	if sum := opts.Privacy + opts.Rude + opts.Diversion; sum > 1-opts.Quick+1e-9 {
		return nil, fmt.Errorf("plant shares privacy %.3f, rude %.3f, diversion %.3f add up to %.3f: with %.3f quick replies, which get none, want at most %.3f",
			opts.Privacy, opts.Rude, opts.Diversion, sum, opts.Quick, 1-opts.Quick)
	}
	if len(opts.Names) == 0 {
		opts.Names = DefaultNames
	}
	if opts.Agents <= 0 {
		opts.Agents = 200
	}
	if opts.Open <= 0 {
		opts.Open = 2000
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 12, 6, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	}
	t := &Traffic{
		opts: opts, r: rand.New(rand.NewPCG(opts.Seed, 0x74726166666963)), // "traffic"
		seen: map[uint64]struct{}{}, values: map[string]struct{}{},
	}
	t.stats.Planted = map[string]int{}
	t.stats.Open = opts.Open
	for _, name := range opts.Names {
		utts, err := ReadJSONL[Utterance](filepath.Join(dir, name, "utterances.jsonl"))
		if err != nil {
			return nil, err
		}
		lang := "en"
		if strings.HasSuffix(name, "_zh") {
			lang = "zh"
		}
		byID := map[string]int{}
		for _, u := range utts {
			if strings.TrimSpace(u.Text) == "" || (u.Role != RoleAgent && u.Role != RoleCustomer) {
				continue
			}
			i, ok := byID[u.DialogueID]
			if !ok {
				i = len(t.dialogues)
				byID[u.DialogueID] = i
				t.dialogues = append(t.dialogues, dialogue{corpus: name, id: u.DialogueID, lang: lang})
			}
			t.dialogues[i].turns = append(t.dialogues[i].turns, u)
		}
		if len(byID) == 0 {
			return nil, fmt.Errorf("corpus %s: no dialogues", name)
		}
	}
	// The first conversations start over the first ten simulated minutes,
	// so the stream opens with conversations at every stage.
	for range opts.Open {
		t.start(opts.Start.Add(seconds(t.r.Float64() * 600)))
	}
	return t, nil
}

// Generate returns the first n messages of the stream for dir and opts,
// and what they hold.
func Generate(dir string, opts TrafficOptions, n int) ([]Message, TrafficStats, error) {
	t, err := NewTraffic(dir, opts)
	if err != nil {
		return nil, TrafficStats{}, err
	}
	out := make([]Message, n)
	for i := range out {
		out[i] = t.Next()
	}
	return out, t.Stats(), nil
}

// Stats returns what the stream held so far.
func (t *Traffic) Stats() TrafficStats {
	s := t.stats
	s.Planted = make(map[string]int, len(t.stats.Planted))
	for k, v := range t.stats.Planted {
		s.Planted[k] = v
	}
	return s
}

// Next returns the stream's next message.
func (t *Traffic) Next() Message {
	c := t.pq[0]
	st := c.steps[c.k]
	m := t.message(c, st)
	c.k++
	if c.k < len(c.steps) {
		heap.Fix(&t.pq, 0)
	} else {
		heap.Pop(&t.pq)
		t.start(st.ts.Add(seconds(logUniform(t.r, 5, 120))))
	}
	if t.stats.Messages == 0 {
		t.first = m.TS
	}
	t.stats.Messages++
	t.stats.SimulatedSeconds = m.TS.Sub(t.first).Seconds()
	return m
}

// start opens a conversation at ts: the next dialogue, a new id, agent
// and identity, and its messages planned.
func (t *Traffic) start(ts time.Time) {
	if t.next >= len(t.order) {
		t.order, t.next = t.r.Perm(len(t.dialogues)), 0
	}
	d := &t.dialogues[t.order[t.next]]
	t.next++
	t.stats.Conversations++
	t.seq++
	c := &conv{
		id:    fmt.Sprintf("conv-%07d", t.stats.Conversations),
		agent: fmt.Sprintf("agent-%03d", t.r.IntN(t.opts.Agents)),
		d:     d, ident: newIdentity(t.r, d.lang), seq: t.seq,
	}
	c.steps = t.plan(d, ts)
	heap.Push(&t.pq, c)
}

// plan lays out a dialogue's messages on the simulated clock from ts:
// its turns in order, with quick replies and follow-ups inserted.
func (t *Traffic) plan(d *dialogue, ts time.Time) []step {
	r := t.r
	pQuick := t.opts.Quick / (1 - t.opts.Quick) // per corpus agent turn: a share Quick of all agent drafts
	lastAgent, firstAgent := -1, -1
	for i, u := range d.turns {
		if u.Role == RoleAgent {
			lastAgent = i
			if firstAgent < 0 {
				firstAgent = i
			}
		}
	}
	var steps []step
	at := func(gap float64) time.Time { ts = ts.Add(seconds(gap)); return ts }
	prev := ""
	for i, u := range d.turns {
		switch u.Role {
		case RoleCustomer:
			gap := 0.0
			if prev != "" {
				gap = logUniform(r, 5, 120)
				if prev == RoleCustomer {
					gap = logUniform(r, 3, 30)
				}
			}
			steps = append(steps, step{ts: at(gap), role: RoleCustomer, turn: i})
			if r.Float64() < t.opts.FollowUps {
				steps = append(steps, step{ts: at(logUniform(r, 30, 240)), role: RoleCustomer, turn: -1, follow: true})
			}
		case RoleAgent:
			gap := logUniform(r, 3, 20)
			if prev == RoleCustomer {
				gap = logUniform(r, 5, 90)
				if r.IntN(10) == 0 {
					gap = logUniform(r, 90, 600)
				}
			}
			quick := ""
			if r.Float64() < pQuick {
				switch i {
				case firstAgent:
					quick = "open"
				case lastAgent:
					quick = "close"
				default:
					quick = "hold"
				}
			}
			if quick == "open" || quick == "hold" {
				steps = append(steps, step{ts: at(gap), role: RoleAgent, turn: -1, quick: quick})
				gap = logUniform(r, 5, 40)
			}
			steps = append(steps, step{ts: at(gap), role: RoleAgent, turn: i})
			if quick == "close" {
				steps = append(steps, step{ts: at(logUniform(r, 3, 15)), role: RoleAgent, turn: -1, quick: quick})
			}
		}
		prev = u.Role
	}
	return steps
}

// message builds the text of c's step st.
func (t *Traffic) message(c *conv, st step) Message {
	r, lang := t.r, c.d.lang
	m := Message{
		Corpus: c.d.corpus, Conversation: c.id, Agent: c.agent, Role: st.role, Lang: lang,
		TS: st.ts, Turn: st.turn, FollowUp: st.follow,
	}
	if st.role == RoleAgent {
		t.stats.Agent++
	} else {
		t.stats.Customer++
	}
	if st.quick != "" {
		m.Quick = true
		m.Text = pick(r, quickReplies[lang][st.quick])
		t.stats.Quick++
		return m
	}
	switch {
	case st.follow:
		m.Text = fill(r, pick(r, followUps[lang]), lang, c.ident)
		t.stats.FollowUps++
	case st.role == RoleAgent:
		m.Text = strings.TrimSpace(c.d.turns[st.turn].Text)
		if r.Float64() < 0.4 {
			m.Text = withPrefix(fill(r, pick(r, agentPrefixes[lang]), lang, c.ident), m.Text, lang)
			if r.Float64() < 0.5 {
				m.Text = appendSentence(m.Text, fill(r, pick(r, agentSuffixes[lang]), lang, c.ident), lang)
			}
		} else {
			m.Text = appendSentence(m.Text, fill(r, pick(r, agentSuffixes[lang]), lang, c.ident), lang)
		}
	default:
		m.Text = appendSentence(strings.TrimSpace(c.d.turns[st.turn].Text), fill(r, pick(r, customerSuffixes[lang]), lang, c.ident), lang)
	}
	if st.role == RoleAgent {
		t.plant(&m)
	} else if r.Float64() < t.opts.Complaints {
		m.Text = appendSentence(m.Text, pick(r, complaintPhrases[lang]), lang)
		m.Complaint = true
		t.stats.Complaints++
	}
	t.unique(&m, c)
	t.stats.Unique++
	return m
}

// plant adds a planted value, rude phrase or diversion to an agent draft
// that is not a quick reply, at the rates that make the options' shares of
// all agent drafts; a planted value or handle is never used twice.
func (t *Traffic) plant(m *Message) {
	r := t.r
	scale := 1 - t.opts.Quick
	switch x := r.Float64() * scale; {
	case x < t.opts.Privacy:
		for {
			p := PrivacyPlant(r, m.Lang)
			if t.fresh(p.Value()) {
				m.Text, m.Plant, m.PlantKind, m.PlantValue = appendSentence(m.Text, p.Text, m.Lang), PlantPrivacy, p.Kind, p.Value()
				break
			}
		}
	case x < t.opts.Privacy+t.opts.Rude:
		m.Text, m.Plant = appendSentence(m.Text, pick(r, rudePhrases[m.Lang]), m.Lang), PlantRude
	case x < t.opts.Privacy+t.opts.Rude+t.opts.Diversion:
		for {
			text, handle := DiversionPlant(r, m.Lang)
			if t.fresh(handle) {
				m.Text, m.Plant, m.PlantValue = appendSentence(m.Text, text, m.Lang), PlantDiversion, handle
				break
			}
		}
	default:
		return
	}
	t.stats.Planted[m.Plant]++
}

// fresh records v as used and reports whether it was new. Values are
// compared by their digits and letters, so 138 0013 8000 and
// 138-0013-8000 are one value.
func (t *Traffic) fresh(v string) bool {
	k := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, strings.ToLower(v))
	if _, ok := t.values[k]; ok {
		return false
	}
	t.values[k] = struct{}{}
	return true
}

// unique makes m's text unlike every earlier message's: while it repeats
// one, it gets one more sentence about its conversation (up to three),
// then a ticket reference, which no other message has.
func (t *Traffic) unique(m *Message, c *conv) {
	sentences := agentSuffixes
	if m.Role == RoleCustomer {
		sentences = customerSuffixes
	}
	for try := 0; ; try++ {
		h := fnv.New64a()
		h.Write([]byte(m.Text))
		k := h.Sum64()
		if _, dup := t.seen[k]; !dup {
			t.seen[k] = struct{}{}
			return
		}
		if try < 3 {
			m.Text = appendSentence(m.Text, fill(t.r, pick(t.r, sentences[m.Lang]), m.Lang, c.ident), m.Lang)
			continue
		}
		t.refs++
		if m.Lang == "zh" {
			m.Text = appendSentence(m.Text, fmt.Sprintf("工单W%07d", t.refs), m.Lang)
		} else {
			m.Text = appendSentence(m.Text, fmt.Sprintf("Ticket W%07d.", t.refs), m.Lang)
		}
	}
}

// logUniform draws a number between lo and hi whose logarithm is uniform:
// short gaps are common, long ones rare.
func logUniform(r *rand.Rand, lo, hi float64) float64 {
	return lo * math.Exp(r.Float64()*math.Log(hi/lo))
}

// seconds converts s seconds to a Duration, to the millisecond.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1000)) * time.Millisecond
}
