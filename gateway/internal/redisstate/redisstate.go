// Package redisstate keeps the state several gateways share on Redis (or
// Valkey, which speaks the same protocol): conversation context, alert
// deduplication windows, per-agent daily sampling counts, per-agent and
// per-credential rate limits, and used ack tokens. Behind a round-robin
// load balancer each gateway then sees whole conversations, not its
// fragment of them.
//
// The state lives on one server, on a server behind Sentinels
// (Config.SentinelMaster), or on a Redis Cluster (Config.Cluster: the
// keys spread over its primaries by hash slot). Every mode uses the same
// keys and scripts, so what holds on one holds on the others.
//
// # Round trips per draft
//
// A draft costs two round trips on the hot path, each one pipeline or one
// script (in a cluster, a pipeline is sent to each node it touches at
// once, so it still costs one round trip, the slowest node's):
//
//  1. Begin, before inspection: the agent's and the credential's rate
//     limits (GCRA in Lua, one script per bucket) and the conversation
//     (HMGET version, binary form; GET its sampling mark), pipelined.
//  2. Commit, after inspection: one Lua script on the conversation's slot
//     that compare-and-sets the conversation on the version Begin read
//     and, only if it still was that version, decides the message's
//     sampling (the conversation's mark) and each alert's deduplication
//     window. On a conflict nothing is spent there: the caller reads the
//     conversation again (Read) and inspects the message again on it.
//
// The optimistic version keeps no lock across inspection, so a gateway
// that dies mid-draft leaves nothing held, and a conversation's messages
// arrive far enough apart that conflicts are rare. A confirmed draft sent
// again with its ack costs one more round trip (UseAck: SET NX PX).
//
// # Cluster: one slot per script
//
// A script may touch only keys of one hash slot, so every key carries a
// hash tag naming what it belongs to: a conversation's keys (itself, its
// sampling mark, its alert windows) are tagged with the tenant and the
// conversation, an agent's (its bucket, its day's sampling count) with the
// tenant and the agent, a credential's bucket with the tenant and the
// credential. Conversations and agents spread over the primaries; each
// script runs on one. What used to share a script is split along them:
//
//   - Rate limits: a draft's agent bucket and credential bucket are two
//     scripts, sent at once in Begin's pipeline. A draft refused by its
//     agent's bucket must take nothing from its credential's (as the
//     in-process limiters do), so when only the agent's refuses, one more
//     round trip gives the credential its request back (refundScript),
//     on refused drafts only. Each bucket is still one key on one node:
//     the limits are global.
//   - Sampling: the agent's daily minimum counts sampled conversations per
//     agent and UTC day, on the agent's slot, while the conversation's mark
//     is on the conversation's. The agent's part (claimScript) counts a
//     conversation not sampled before while the agent is under its minimum:
//     such a conversation is sampled whatever its reason (see claimScript),
//     so the claim does not depend on inspection, and the conversation's
//     script only needs its answer when the message has no reason of its
//     own. The day is a set of the conversations counted, capped at the
//     minimum, so a conversation is counted once however many gateways
//     race for it or retry it; the set and its cap are changed by one
//     script on one node, so two gateways racing for an agent's last
//     place give it to one. Commit runs the agent's part only when it can
//     matter: the message has an agent with a minimum, the conversation
//     was not sampled before (Begin and Read report the mark, Commit.Sampled
//     takes it back), and this Client has not yet seen the agent reach its
//     minimum that day (it remembers, per day). Then, if the message has a
//     reason of its own, the agent's part goes in the same pipeline as the
//     conversation's script (one round trip); if only the minimum can
//     sample it, first (one round trip more). So an agent costs about its
//     minimum, plus one per gateway, extra round trips a day; every other
//     commit is the conversation's script alone. (A server that lost its
//     data, restarted without persistence, counts the agent's day from
//     zero again; a gateway that saw the agent reach its minimum still
//     skips it, and the agent did have its samples that day.)
//   - Alerts, the conversation and its mark share the conversation's slot:
//     one alert per conversation and kind per window holds as on one
//     server. An ack token is one key (SET NX): redeemable once.
//
// What the split gives up is the atomicity of the two parts of a sampling
// decision, on one server as on a cluster (both run the same code). A
// failure between them (the gateway dies, the call times out, a node is
// away, the conversation's compare-and-set conflicts) costs at most one
// sample of the agent's minimum, never an alert decision, a conversation
// update or a rate limit:
//
//   - The agent counted the conversation, its script did not mark it:
//     the conversation holds one place of the agent's minimum unsampled.
//     Its next committed message, on any gateway, claims again (already
//     counted: granted, not counted twice) and is sampled for the
//     minimum; if the conversation has no further message, the agent ends
//     that day one sample short of its minimum.
//   - The conversation was sampled for its own reason (pipelined), the
//     agent's count failed: the conversation is not counted, and the agent
//     may get one sample more than its minimum that day. Observe reports
//     it (sample, error); the commit itself succeeded.
//   - A refund that fails leaves the credential one request short; and
//     between a draft's take and its refund, a draft of the same
//     credential on another gateway may find the bucket one request
//     emptier than the in-process limiter would (within a round trip).
//
// Measured (BenchmarkCommit, one run, Redis 7.0 on loopback, a 2-core
// machine shared with other work; µs per commit, the agent's minimum never
// reached, so every commit but the first row's asks the agent's slot):
//
//	                                       one server   cluster of 3
//	no minimum (conversation's script)         50-80       105-120
//	own reason (agent's part pipelined)       105-125       160-205
//	minimum decides (agent's part first)      170-190       195-230
//
// So the split costs a commit about one more round trip when only the
// minimum can sample, less when pipelined, and it is paid about the
// minimum (plus one per gateway) times per agent and day. BenchmarkDraft
// (in gateway) puts a whole draft at about 5 µs in process, 105-120 µs on
// one server and 255-270 µs on the cluster in the same run: here the
// cluster's three nodes, the benchmark and go-redis's goroutine per node
// of a pipeline share two cores. Over a network, where the round trip
// dominates, a pipeline sent to two nodes at once should cost about what
// one server's does (not measured here).
//
// # Upgrading from the keys before hash tags
//
// The keys took their hash tags (and the agent's day count became a set)
// when cluster mode came; the single-server and Sentinel modes use the
// same layout. Gateways of a version before it and after it do not read
// each other's keys: during a rolling upgrade the two versions share no
// state but used ack tokens (whose keys did not change), and after it the
// old keys are never read again and expire by their TTLs (conversations
// after conversations.ttl, alert windows after the window, day counts at
// the day's end, buckets when full). Conversations start afresh on the
// new version, an alert may repeat once, an agent's minimum may sample
// more that day, buckets start full. Nothing needs deleting.
//
// # Failure
//
// Every call is bounded by Config.Timeout (and the caller's context), and
// fails with an error wrapping ErrUnavailable when the server is slow or
// away; the caller then applies Config.Mode. A failed call opens a
// circuit breaker for Config.BreakerOpen: calls meanwhile fail at once
// rather than wait, then one call tries the server again. A background
// probe (PING; in a cluster, every primary) closes the breaker as soon as
// the server answers, and the client reconnects by itself: no restart
// needed. Status reports whether the server is reachable and since when
// it is not.
//
// # Client
//
// The client is github.com/redis/go-redis/v9, not valkey-go: it is the
// most used Go client, kept by Redis and speaking to Valkey alike, with
// explicit pipelines (the hot path is already two hand-made round trips,
// so valkey-go's automatic pipelining would gain little), context
// deadlines on every socket operation (ContextTimeoutEnabled), Sentinel,
// Cluster and TLS, in the plain command-per-method API the rest of the
// repository's clients use. Retries are off (a retry would outlast the
// deadline) and so is its connect-time handshake beyond HELLO. In a
// cluster it follows MOVED and ASK redirects (a slot that moved: the
// command did not run), but never sends again a command whose connection
// failed (it may have run); a script a node forgot is sent again as EVAL,
// alone.
//
// # Keys
//
// Every key starts with Config.KeyPrefix and its kind; ids are
// length-prefixed, so no two (tenant, id) pairs share a key; the part in
// braces is the hash tag (a "}" in an id ends it early, alike for every
// key of that id, so they still share a slot):
//
//	c:{<tenant>:<conversation>}          hash {v, d}: the conversation, TTL conversations.ttl
//	s:{<tenant>:<conversation>}          the reason it was sampled, TTL as the conversation
//	a:{<tenant>:<conversation>}:<kind>   hash {t, l, s}: the last admitted alert, TTL window
//	d:{<tenant>:<agent>}:<UTC day>       set of the conversations counted that day (up to the minimum), TTL until day end + 1h
//	r:a:{<tenant>:<agent>}, r:k:{<tenant>:<credential>}   the bucket's TAT (µs)
//	k:<nonce>                            a used ack token, TTL its remaining life
package redisstate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/xunjian/xunjian/gateway/inspect"
)

// Errors of the Client's calls, for errors.Is.
var (
	// ErrUnavailable: the server did not answer in time, is unreachable,
	// or the breaker is open.
	ErrUnavailable = errors.New("shared state unavailable")
	// ErrConflict: the conversation changed since it was read.
	ErrConflict = errors.New("conversation changed on another gateway")
)

// Limit is one rate limit: Rate requests per second on average, Burst at
// once (ratelimit.Config's meaning). A zero Rate is no limit.
type Limit struct {
	Rate  float64
	Burst int
}

// Options carry what New needs beyond the Config.
type Options struct {
	// ConversationTTL is how long an idle conversation is kept
	// (conversations.ttl); zero means 2h.
	ConversationTTL time.Duration
	// Agent and Credential are the rate limits per agent and per
	// credential that pins no agent (limits.agent_rate, ...).
	Agent, Credential Limit
	// Observe, when set, is called after every call with its operation
	// (begin, read, commit, ack, lifecycle, probe; refund: a credential's
	// request given back after its agent's bucket refused the draft;
	// sample: the agent's daily count failing after the conversation was
	// committed, reported as an error only), its result (ok, conflict,
	// error, open: refused by the open breaker) and duration.
	Observe func(op, result string, d time.Duration)
	// ProbeInterval is how often the background probe PINGs the server
	// while it answers; zero means 5s. While it does not, the probe runs
	// every Config.BreakerOpen.
	ProbeInterval time.Duration
}

// Client is the gateways' shared state on one Redis server, behind
// Sentinels, or on a Redis Cluster. It is safe for concurrent use; Close
// releases it.
type Client struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration
	ttl     time.Duration
	agent   Limit
	cred    Limit
	observe func(op, result string, d time.Duration)
	brk     breaker
	quota   quota

	stop   context.CancelFunc
	probed sync.WaitGroup
}

// New returns a Client for cfg (defaulted and validated) and starts its
// background probe. It does not wait for the server: a server that is
// away at start is one that is away (Status, Mode).
func New(cfg Config, opts Options) (*Client, error) {
	cfg.Defaults()
	if !cfg.Enabled() {
		return nil, errors.New("redisstate: no addrs")
	}
	if err := cfg.Validate("shared_state"); err != nil {
		return nil, fmt.Errorf("redisstate: %w", err)
	}
	tlsAddr := cfg.Addrs[0]
	if cfg.Cluster {
		tlsAddr = "" // each node's own host
	}
	tlsCfg, err := cfg.TLS.tlsConfig(tlsAddr)
	if err != nil {
		return nil, fmt.Errorf("redisstate: %w", err)
	}
	timeout := cfg.Timeout.D()
	// The caller's deadline bounds each call (ContextTimeoutEnabled); the
	// socket timeouts are a backstop. No retries: a retry would be past
	// the deadline anyway, and the caller's mode decides instead.
	uo := &redis.UniversalOptions{
		Addrs: cfg.Addrs, MasterName: cfg.SentinelMaster, DB: cfg.DB, Username: cfg.Username, Password: cfg.Password,
		TLSConfig: tlsCfg, DialTimeout: cfg.DialTimeout.D(), DialerRetries: 1,
		ReadTimeout: max(timeout, 100*time.Millisecond), WriteTimeout: max(timeout, 100*time.Millisecond),
		ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: cfg.PoolSize, PoolTimeout: timeout,
		// Connections dialed ahead, so a draft rarely waits for a dial.
		MinIdleConns:    2,
		DisableIdentity: true, ClientName: "xunjian-gateway",
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	var rdb redis.UniversalClient
	switch {
	case cfg.Cluster:
		co := uo.Cluster()
		// A MOVED or ASK redirect (a slot moved to another node: a
		// failover, a resharding) is followed at once: the command was
		// not run. Nothing else is tried again: every command is sent as
		// noRetry, so a command whose connection failed is never sent
		// twice (it may have run).
		co.MaxRedirects = maxRedirects
		co.MinRetryBackoff, co.MaxRetryBackoff = -1, -1
		// Every command has its keys in one slot: no fan-out to route by
		// command (which would also fetch COMMAND's table on first use).
		co.DisableRoutingPolicies = true
		rdb = redis.NewClusterClient(co)
	case cfg.SentinelMaster != "":
		rdb = redis.NewFailoverClient(uo.Failover())
	default:
		uo.Addrs = cfg.Addrs[:1]
		rdb = redis.NewClient(uo.Simple())
	}
	c := &Client{
		rdb: rdb, prefix: cfg.KeyPrefix, timeout: timeout, ttl: opts.ConversationTTL,
		agent: opts.Agent, cred: opts.Credential, observe: opts.Observe,
		brk: breaker{open: cfg.BreakerOpen.D()},
	}
	if c.ttl <= 0 {
		c.ttl = 2 * time.Hour
	}
	if c.observe == nil {
		c.observe = func(string, string, time.Duration) {}
	}
	every := opts.ProbeInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	c.probed.Go(func() { c.probe(ctx, every) })
	return c, nil
}

// maxRedirects bounds the MOVED and ASK redirects a cluster command
// follows (a slot being migrated can answer ASK, then MOVED).
const maxRedirects = 3

// Close stops the probe and closes the connections.
func (c *Client) Close() error {
	c.stop()
	c.probed.Wait()
	if err := c.rdb.Close(); err != nil {
		return fmt.Errorf("redisstate: close: %w", err)
	}
	return nil
}

// Status is whether the server answers.
type Status struct {
	// Up is false from a failed call until a call or the probe succeeds.
	Up bool
	// Since is when the server stopped answering (zero while Up).
	Since time.Time
}

// Status reports whether the server answers, by the last call or probe.
func (c *Client) Status() Status {
	if since := c.brk.down.Load(); since != 0 {
		return Status{Since: time.Unix(0, since)}
	}
	return Status{Up: true}
}

// Draft names what Begin reads for one draft.
type Draft struct {
	// Tenant is the draft's tenant.
	Tenant string
	// Agent is who the agent limit applies to ("" is the tenant's
	// unidentified agents, as in the in-process limiter).
	Agent string
	// Credential, when not empty, is a credential that pins no agent,
	// limited as a whole by the credential limit.
	Credential string
	// Conversation is the conversation to read; "" reads none.
	Conversation string
	// Now is the draft's time: the limits' clock.
	Now time.Time
}

// Snapshot is a conversation as last committed.
type Snapshot struct {
	// Conv is the conversation (Conversation{ID: id} when none is kept)
	// and Version its version, for Commit.
	Conv    inspect.Conversation
	Version int64
	// Sampled reports whether the conversation has been sampled (its
	// mark is kept), as of Version; Commit takes it back (Commit.Sampled).
	Sampled bool
}

// Begun is what Begin read.
type Begun struct {
	// Allowed is false when the agent or the credential is over its rate.
	Allowed bool
	// Snapshot is the conversation read.
	Snapshot
}

// Begin is a draft's first round trip: its rate limits (one script per
// bucket) and its conversation, pipelined (in a cluster, sent to the
// buckets' and the conversation's nodes at once). A draft refused by its
// agent's bucket takes nothing from its credential's, as with the
// in-process limiters: the two buckets are taken at once, and when only
// the agent's refuses, the credential's request is given back (one more
// round trip, on the refused draft only).
func (c *Client) Begin(ctx context.Context, d Draft) (Begun, error) {
	out := Begun{Allowed: true, Snapshot: Snapshot{Conv: inspect.Conversation{ID: d.Conversation}}}
	now := d.Now.UnixMicro()
	var ops []*op
	bucket := func(key string, l Limit) *op {
		if l.Rate <= 0 {
			return nil
		}
		o := scriptOp(limitScript, []string{key}, now, interval(l), max(l.Burst, 1))
		ops = append(ops, o)
		return o
	}
	agent := bucket(c.key("r:a", []string{d.Tenant, d.Agent}), c.agent)
	var cred *op
	credKey := ""
	if d.Credential != "" {
		credKey = c.key("r:k", []string{d.Tenant, d.Credential})
		cred = bucket(credKey, c.cred)
	}
	var conv, mark *op
	if d.Conversation != "" {
		conv, mark = c.readOps(d.Tenant, d.Conversation)
		ops = append(ops, conv, mark)
	}
	if len(ops) == 0 {
		return out, nil
	}
	err := c.do(ctx, "begin", func(ctx context.Context) error { return c.exec(ctx, ops...) })
	if err != nil {
		return out, err
	}
	agentOK := agent == nil || agent.cmd.Val() == int64(1)
	credOK := cred == nil || cred.cmd.Val() == int64(1)
	out.Allowed = agentOK && credOK
	if !agentOK && cred != nil && credOK {
		// Refused anyway: a failure only leaves the credential one
		// request short, reported (refund, error).
		_ = c.do(ctx, "refund", func(ctx context.Context) error {
			return c.exec(ctx, scriptOp(refundScript, []string{credKey}, now, interval(c.cred)))
		})
	}
	if conv != nil {
		out.Snapshot = snapshot(conv, mark, d.Conversation)
	}
	return out, nil
}

// interval is a bucket's interval between requests (µs), as the scripts
// take it.
func interval(l Limit) string { return strconv.FormatFloat(1e6/l.Rate, 'f', 3, 64) }

// Read reads the conversation (tenant, id) again, after a conflict: the
// conversation as last committed, its version and its sampling mark.
func (c *Client) Read(ctx context.Context, tenant, id string) (Snapshot, error) {
	conv, mark := c.readOps(tenant, id)
	err := c.do(ctx, "read", func(ctx context.Context) error { return c.exec(ctx, conv, mark) })
	if err != nil {
		return Snapshot{Conv: inspect.Conversation{ID: id}}, err
	}
	return snapshot(conv, mark, id), nil
}

// readOps reads a conversation: its hash, then its mark (in this order,
// on one connection: a mark set by the commit of the version read is
// seen).
func (c *Client) readOps(tenant, id string) (conv, mark *op) {
	return cmdOp("hmget", c.key("c", []string{tenant, id}), "v", "d"), cmdOp("get", c.key("s", []string{tenant, id}))
}

// snapshot decodes what readOps read.
func snapshot(conv, mark *op, id string) Snapshot {
	vals, _ := conv.cmd.Val().([]any)
	s := Snapshot{Sampled: mark.cmd.Err() == nil}
	s.Conv, s.Version = decodeConv(vals, id)
	return s
}

// decodeConv reads an HMGET of {v, d}: a conversation not kept (or one
// whose form this gateway cannot read, which the next commit overwrites)
// is Conversation{ID: id}.
func decodeConv(vals []any, id string) (inspect.Conversation, int64) {
	conv := inspect.Conversation{ID: id}
	if len(vals) != 2 {
		return conv, 0
	}
	vs, _ := vals[0].(string)
	v, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return conv, 0
	}
	if d, ok := vals[1].(string); ok {
		var got inspect.Conversation
		if got.UnmarshalBinary([]byte(d)) == nil {
			conv = got
			conv.ID = id
		}
	}
	return conv, v
}

// Alert is one alert of a message, for deduplication.
type Alert struct {
	// Kind is the alert's kind; Rank its level's rank (alerting.Rank).
	Kind string
	Rank int
}

// Sample asks Commit to decide whether a message's conversation is
// sampled (sampling.Sampler.Decide's rules; see the package's scripts).
type Sample struct {
	// Agent is the message's agent; "" gets no daily minimum.
	Agent string
	// Reason is sampling.Sampler.Reason's answer: "" when only the
	// conversation's past or the agent's minimum can sample it.
	Reason string
	// AgentDailyMin is the per-agent daily minimum; 0 none.
	AgentDailyMin int
}

// Commit is one draft's second round trip.
type Commit struct {
	// Tenant and Conversation name the conversation; with an empty
	// Conversation nothing is committed but the alerts (keyed by the
	// empty conversation, as the in-process deduplication keys them).
	Tenant, Conversation string
	// Version is the version Begin or Read returned, and Sampled their
	// Snapshot.Sampled: a conversation sampled before is not counted
	// again towards its agent's daily minimum (false when unknown costs
	// that count at most).
	Version int64
	Sampled bool
	// Next is the conversation to keep.
	Next *inspect.Conversation
	// Now is the message time: the alert windows' clock and the agent's day.
	Now time.Time
	// Sample, when set, decides the conversation's sampling.
	Sample *Sample
	// Alerts are the message's alerts, deduplicated per (conversation,
	// kind) within Window.
	Alerts []Alert
	Window time.Duration
}

// Committed is what Commit decided.
type Committed struct {
	// Version is the conversation's new version.
	Version int64
	// Sampled reports whether the conversation is sampled (when asked).
	Sampled bool
	// Reason is why ("" when not sampled).
	Reason string
	// Admitted[i] reports whether Alerts[i] passed deduplication.
	Admitted []bool
}

// Commit compare-and-sets the conversation on cm.Version and, only then,
// decides sampling and the alerts' deduplication, in one script on the
// conversation's slot. It fails with ErrConflict when the conversation
// changed since it was read: nothing was written there, and the message
// is to be inspected again.
//
// While the message's agent may still be under its daily sampling
// minimum and the conversation was not sampled before, the agent's part
// (claimScript, on the agent's slot) runs too: with the conversation's
// script in one pipeline when the message has a reason of its own to be
// sampled (the count does not decide it then), or first, one round trip
// more, when only the minimum can sample it. Once the agent has its
// minimum for the day, this Client remembers it and the agent's part is
// skipped. See the package doc for what a failure between the two parts
// leaves.
func (c *Client) Commit(ctx context.Context, cm Commit) (Committed, error) {
	var blob []byte
	version := "-"
	if cm.Conversation != "" {
		var err error
		if blob, err = cm.Next.AppendBinary(nil); err != nil {
			return Committed{}, fmt.Errorf("redisstate: commit: %w", err)
		}
		version = strconv.FormatInt(cm.Version, 10)
	}
	keys := make([]string, 2, 2+len(cm.Alerts))
	keys[0] = c.key("c", []string{cm.Tenant, cm.Conversation})
	keys[1] = c.key("s", []string{cm.Tenant, cm.Conversation})
	args := make([]any, 8, 8+len(cm.Alerts))
	args[0], args[1], args[2] = version, blob, c.ttl.Milliseconds()
	args[3], args[4] = cm.Now.UnixMilli(), max(cm.Window.Milliseconds(), 1)
	args[5], args[6], args[7] = "0", "", "0"
	var claim *op
	var day, dayKey string
	first := false // the claim decides: run it before the conversation's script
	if s := cm.Sample; s != nil && cm.Conversation != "" {
		args[5], args[6] = "1", s.Reason
		if s.AgentDailyMin > 0 && s.Agent != "" && !cm.Sampled {
			t := cm.Now.UTC()
			day = t.Format(time.DateOnly)
			dayKey = c.key("d", []string{cm.Tenant, s.Agent}, day)
			if !c.quota.met(day, dayKey, s.AgentDailyMin) {
				end := time.Date(t.Year(), t.Month(), t.Day()+1, 1, 0, 0, 0, time.UTC)
				claim = scriptOp(claimScript, []string{dayKey}, cm.Conversation, s.AgentDailyMin, end.Sub(cm.Now).Milliseconds())
				first = s.Reason == ""
			}
		}
	}
	for _, a := range cm.Alerts {
		keys = append(keys, c.key("a", []string{cm.Tenant, cm.Conversation}, a.Kind))
		args = append(args, a.Rank)
	}
	var out Committed
	claimFailed := false
	err := c.do(ctx, "commit", func(ctx context.Context) error {
		var conv *op
		switch {
		case claim == nil:
			conv = scriptOp(commitScript, keys, args...)
			if err := c.exec(ctx, conv); err != nil {
				return err
			}
		case first:
			if err := c.exec(ctx, claim); err != nil {
				return err
			}
			if granted, _ := claimed(claim); granted {
				args[7] = "1"
			}
			conv = scriptOp(commitScript, keys, args...)
			if err := c.exec(ctx, conv); err != nil {
				return err
			}
		default:
			conv = scriptOp(commitScript, keys, args...)
			_ = c.exec(ctx, claim, conv) // each command's error is its own
			if err := conv.err(); err != nil {
				return err
			}
			claimFailed = claim.err() != nil
		}
		vals, ok := conv.cmd.Val().([]any)
		if !ok || len(vals) < 2 {
			return fmt.Errorf("commit script answered %T", conv.cmd.Val())
		}
		v, _ := vals[0].(int64)
		if v < 0 {
			return ErrConflict
		}
		out.Version = v
		out.Reason, _ = vals[1].(string)
		out.Sampled = out.Reason != ""
		out.Admitted = make([]bool, len(cm.Alerts))
		for i := range out.Admitted {
			if 2+i < len(vals) {
				n, _ := vals[2+i].(int64)
				out.Admitted[i] = n == 1
			}
		}
		return nil
	})
	if claim != nil && claim.cmd != nil && claim.err() == nil {
		if _, n := claimed(claim); n >= int64(cm.Sample.AgentDailyMin) {
			c.quota.note(day, dayKey, n)
		}
	}
	if claimFailed {
		// The conversation is committed (and sampled for its own reason),
		// but not counted for its agent: the agent may get one sample more
		// than its minimum today.
		c.observe("sample", "error", 0)
	}
	return out, err
}

// claimed reads claimScript's answer: whether the conversation counts
// towards its agent's minimum, and how many do.
func claimed(o *op) (bool, int64) {
	vals, _ := o.cmd.Val().([]any)
	if len(vals) != 2 {
		return false, 0
	}
	g, _ := vals[0].(int64)
	n, _ := vals[1].(int64)
	return g == 1, n
}

// UseAck uses up the ack token of nonce, which expires at expiry: true the
// first time, on whichever gateway, false when it was used before.
func (c *Client) UseAck(ctx context.Context, nonce []byte, expiry, now time.Time) (bool, error) {
	ttl := max(expiry.Sub(now), time.Millisecond)
	set := cmdOp("set", c.key("k", nil, string(nonce)), 1, "px", ttl.Milliseconds(), "nx")
	err := c.do(ctx, "ack", func(ctx context.Context) error { return c.exec(ctx, set) })
	return err == nil && set.cmd.Err() == nil, err
}

// Forget drops the conversation (tenant, id), as on a closed event.
func (c *Client) Forget(ctx context.Context, tenant, id string) error {
	return c.do(ctx, "lifecycle", func(ctx context.Context) error {
		return c.exec(ctx, cmdOp("del", c.key("c", []string{tenant, id})))
	})
}

// Touch keeps the conversation (tenant, id) another TTL, as on an
// assigned or transferred event (the customer's wait and risk carry on).
func (c *Client) Touch(ctx context.Context, tenant, id string) error {
	return c.do(ctx, "lifecycle", func(ctx context.Context) error {
		return c.exec(ctx, cmdOp("pexpire", c.key("c", []string{tenant, id}), c.ttl.Milliseconds()))
	})
}

// do runs one call under the breaker and the timeout, and reports it.
func (c *Client) do(ctx context.Context, op string, call func(context.Context) error) error {
	start := time.Now()
	if !c.brk.allow(start) {
		c.observe(op, "open", 0)
		return fmt.Errorf("%w: %s: breaker open after a failed call", ErrUnavailable, op)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := call(ctx)
	d := time.Since(start)
	switch {
	case err == nil:
		c.brk.succeeded()
		c.observe(op, "ok", d)
		return nil
	case errors.Is(err, ErrConflict):
		c.brk.succeeded()
		c.observe(op, "conflict", d)
		return err
	}
	c.brk.failed(time.Now())
	c.observe(op, "error", d)
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// op is one command of a round trip: a script (EVALSHA, or EVAL when the
// node has forgotten it) or a plain command. cmd holds its answer after
// exec.
type op struct {
	s    *script
	args []any // a script's numkeys, keys and arguments; a command whole
	cmd  *redis.Cmd
}

func scriptOp(s script, keys []string, args ...any) *op {
	a := make([]any, 0, 1+len(keys)+len(args))
	a = append(a, len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	return &op{s: &s, args: append(a, args...)}
}

func cmdOp(args ...any) *op { return &op{args: args} }

// err is the command's error, a nil answer (redis.Nil) not one.
func (o *op) err() error {
	if err := o.cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}

// noRetry sends a command that go-redis's cluster client must not send
// again after its connection failed (it may have run); redirects are
// still followed.
type noRetry struct{ *redis.Cmd }

// NoRetry implements redis.Cmder.
func (noRetry) NoRetry() bool { return true }

// exec runs ops in one round trip: one command alone, several as one
// pipeline (in a cluster, one per node, at once). Scripts a node has
// forgotten (a restart, SCRIPT FLUSH: NOSCRIPT) are sent again, those
// alone, as EVAL, which caches them. It returns the first command's
// error, a nil answer not one; each op's cmd has its own.
func (c *Client) exec(ctx context.Context, ops ...*op) error {
	c.send(ctx, ops, false)
	var again []*op
	for _, o := range ops {
		if o.s != nil && redis.HasErrorPrefix(o.cmd.Err(), "NOSCRIPT") {
			again = append(again, o)
		}
	}
	if len(again) > 0 {
		c.send(ctx, again, true)
	}
	for _, o := range ops {
		if err := o.err(); err != nil {
			return err
		}
	}
	return nil
}

// send sends ops, scripts as EVALSHA or (eval) EVAL, setting each op's
// cmd. One command goes alone: a cluster's pipeline costs a goroutine per
// node even for one.
func (c *Client) send(ctx context.Context, ops []*op, eval bool) {
	for _, o := range ops {
		a := o.args
		switch {
		case o.s == nil:
		case eval:
			a = append([]any{"eval", o.s.src}, a...)
		default:
			a = append([]any{"evalsha", o.s.sha}, a...)
		}
		o.cmd = redis.NewCmd(ctx, a...)
	}
	if len(ops) == 1 {
		_ = c.rdb.Process(ctx, noRetry{ops[0].cmd}) // the error is the command's
		return
	}
	p := c.rdb.Pipeline()
	for _, o := range ops {
		_ = p.Process(ctx, noRetry{o.cmd})
	}
	_, _ = p.Exec(ctx) // each command's error is its own
}

// key builds a key: the prefix, the kind, then the hash tag, each of its
// parts length-prefixed ("c:{2:t1:5:conv1}"), then the other parts,
// length-prefixed too ("a:{2:t1:5:conv1}:9:complaint"). Keys of one tag
// share a cluster slot whatever the ids hold: a "}" in an id ends the tag
// early, at the same place for every key of that tag. Without a tag, no
// braces ("k:16:<nonce>").
func (c *Client) key(kind string, tag []string, rest ...string) string {
	n := len(c.prefix) + len(kind) + 3
	for _, p := range tag {
		n += len(p) + 8
	}
	for _, p := range rest {
		n += len(p) + 8
	}
	b := make([]byte, 0, n)
	b = append(b, c.prefix...)
	b = append(b, kind...)
	b = append(b, ':')
	if tag != nil {
		b = append(b, '{')
		for i, p := range tag {
			if i > 0 {
				b = append(b, ':')
			}
			b = appendPart(b, p)
		}
		b = append(b, '}')
		if len(rest) > 0 {
			b = append(b, ':')
		}
	}
	for i, p := range rest {
		if i > 0 {
			b = append(b, ':')
		}
		b = appendPart(b, p)
	}
	return string(b)
}

// appendPart appends p length-prefixed: "5:conv1".
func appendPart(b []byte, p string) []byte {
	b = strconv.AppendInt(b, int64(len(p)), 10)
	b = append(b, ':')
	return append(b, p...)
}

// quota remembers the agents that have their daily sampling minimum, by
// their day's key, for the latest UTC day seen: their conversations need
// not ask the agent's slot again that day (the count only grows within a
// day). It keeps the count seen, so a higher minimum asks again. At most
// maxQuota agents are remembered; past that, they ask.
type quota struct {
	mu   sync.Mutex
	day  string
	seen map[string]int64
}

const maxQuota = 1 << 17

// met reports whether the agent of dayKey is known to have min sampled
// conversations on day.
func (q *quota) met(day, dayKey string, min int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, ok := q.seen[dayKey]
	return ok && q.day == day && n >= int64(min)
}

// note remembers that the agent of dayKey has n sampled conversations on
// day.
func (q *quota) note(day, dayKey string, n int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case day > q.day:
		q.day, q.seen = day, map[string]int64{}
	case day < q.day:
		return
	}
	if _, ok := q.seen[dayKey]; ok || len(q.seen) < maxQuota {
		q.seen[dayKey] = max(q.seen[dayKey], n)
	}
}

// probe PINGs the server every interval while it answers, every breaker
// period while it does not, until ctx is done: it notices an outage with
// no traffic, and closes the breaker as soon as the server is back.
func (c *Client) probe(ctx context.Context, every time.Duration) {
	for first := true; ; first = false {
		wait := every
		if first {
			wait = 0 // at once: a connection ready for the first draft
		}
		if !first && !c.Status().Up {
			wait = min(every, max(c.brk.open, 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, max(c.timeout, 250*time.Millisecond))
		err := c.ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.brk.failed(time.Now())
			c.observe("probe", "error", time.Since(start))
			continue
		}
		c.brk.succeeded()
		c.observe("probe", "ok", time.Since(start))
	}
}

// ping PINGs the server; in a cluster, every primary (the slots of one
// that is away are away).
func (c *Client) ping(ctx context.Context) error {
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() })
	}
	return c.rdb.Ping(ctx).Err()
}

// breaker fails calls at once for a while after one failed, so requests do
// not each wait out the timeout on a server that is away; then it lets
// one call through to try the server (the others still fail at once until
// that one succeeds).
type breaker struct {
	open  time.Duration
	until atomic.Int64 // Unix ns before which calls fail at once; 0: closed
	down  atomic.Int64 // Unix ns of the first failure since the last success; 0: up
}

// allow reports whether a call may go to the server at now.
func (b *breaker) allow(now time.Time) bool {
	u := b.until.Load()
	if u == 0 {
		return true
	}
	n := now.UnixNano()
	if n < u {
		return false
	}
	// The open period is over: the first caller tries the server; the
	// others see it open for another period unless that call succeeds.
	return b.until.CompareAndSwap(u, n+int64(b.open))
}

func (b *breaker) succeeded() {
	if b.until.Load() != 0 {
		b.until.Store(0)
	}
	if b.down.Load() != 0 {
		b.down.Store(0)
	}
}

func (b *breaker) failed(now time.Time) {
	b.until.Store(now.UnixNano() + int64(b.open))
	b.down.CompareAndSwap(0, now.UnixNano())
}
