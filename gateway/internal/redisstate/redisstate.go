// Package redisstate keeps the state several gateways share on Redis (or
// Valkey, which speaks the same protocol): conversation context, alert
// deduplication windows, per-agent daily sampling counts, per-agent and
// per-credential rate limits, and used ack tokens. Behind a round-robin
// load balancer each gateway then sees whole conversations, not its
// fragment of them.
//
// # Round trips per draft
//
// A draft costs two round trips on the hot path, each one pipeline or one
// script:
//
//  1. Begin, before inspection: the agent's and the credential's rate
//     limits (GCRA in Lua) and the conversation (HMGET version, binary
//     form), pipelined.
//  2. Commit, after inspection: one Lua script that compare-and-sets the
//     conversation on the version Begin read and, only if it still was
//     that version, decides the message's sampling (the conversation's
//     mark, the agent's day count) and each alert's deduplication window.
//     On a conflict nothing is spent: the caller reads the conversation
//     again (Read) and inspects the message again on it.
//
// The optimistic version keeps no lock across inspection, so a gateway
// that dies mid-draft leaves nothing held, and a conversation's messages
// arrive far enough apart that conflicts are rare. A confirmed draft sent
// again with its ack costs one more round trip (UseAck: SET NX PX).
//
// # Failure
//
// Every call is bounded by Config.Timeout (and the caller's context), and
// fails with an error wrapping ErrUnavailable when the server is slow or
// away; the caller then applies Config.Mode. A failed call opens a
// circuit breaker for Config.BreakerOpen: calls meanwhile fail at once
// rather than wait, then one call tries the server again. A background
// probe (PING) closes the breaker as soon as the server answers, and the
// client reconnects by itself: no restart needed. Status reports whether
// the server is reachable and since when it is not.
//
// # Client
//
// The client is github.com/redis/go-redis/v9, not valkey-go: it is the
// most used Go client, kept by Redis and speaking to Valkey alike, with
// explicit pipelines (the hot path is already two hand-made round trips,
// so valkey-go's automatic pipelining would gain little), context
// deadlines on every socket operation (ContextTimeoutEnabled), Sentinel
// and TLS, in the plain command-per-method API the rest of the
// repository's clients use. Retries are off (a retry would outlast the deadline) and so is its
// connect-time handshake beyond HELLO.
//
// # Keys
//
// Every key starts with Config.KeyPrefix and a letter; ids are
// length-prefixed, so no two (tenant, id) pairs share a key:
//
//	c:<tenant>:<conversation>          hash {v, d}: the conversation, TTL conversations.ttl
//	s:<tenant>:<conversation>          the reason it was sampled, TTL as the conversation
//	d:<tenant>:<agent>:<UTC day>       sampled conversations that day, TTL until day end + 1h
//	a:<tenant>:<conversation>:<kind>   hash {t, l, s}: the last admitted alert, TTL window
//	r:a:<tenant>:<agent>, r:k:<tenant>:<credential>   the bucket's TAT (µs)
//	k:<nonce>                          a used ack token, TTL its remaining life
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
	// (begin, read, commit, ack, lifecycle, probe), its result (ok,
	// conflict, error, open: refused by the open breaker) and duration.
	Observe func(op, result string, d time.Duration)
	// ProbeInterval is how often the background probe PINGs the server
	// while it answers; zero means 5s. While it does not, the probe runs
	// every Config.BreakerOpen.
	ProbeInterval time.Duration
}

// Client is the gateways' shared state on one Redis server. It is safe
// for concurrent use; Close releases it.
type Client struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration
	ttl     time.Duration
	agent   Limit
	cred    Limit
	observe func(op, result string, d time.Duration)
	brk     breaker

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
	tlsCfg, err := cfg.TLS.tlsConfig(cfg.Addrs[0])
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
	if cfg.SentinelMaster != "" {
		rdb = redis.NewFailoverClient(uo.Failover())
	} else {
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

// Begun is what Begin read.
type Begun struct {
	// Allowed is false when the agent or the credential is over its rate.
	Allowed bool
	// Conv is the conversation as last committed (Conversation{ID: id}
	// when none is kept) and Version its version, for Commit.
	Conv    inspect.Conversation
	Version int64
}

// Begin is a draft's first round trip: its rate limits (one script over
// its buckets) and its conversation, pipelined. A draft refused by its
// agent's bucket takes nothing from its credential's, as with the
// in-process limiters.
func (c *Client) Begin(ctx context.Context, d Draft) (Begun, error) {
	out := Begun{Allowed: true, Conv: inspect.Conversation{ID: d.Conversation}}
	var keys []string
	args := []any{d.Now.UnixMicro()}
	bucket := func(key string, l Limit) {
		keys = append(keys, key)
		args = append(args, strconv.FormatFloat(1e6/l.Rate, 'f', 3, 64), max(l.Burst, 1))
	}
	if c.agent.Rate > 0 {
		bucket(c.key('r', "a", d.Tenant, d.Agent), c.agent)
	}
	if d.Credential != "" && c.cred.Rate > 0 {
		bucket(c.key('r', "k", d.Tenant, d.Credential), c.cred)
	}
	if len(keys) == 0 && d.Conversation == "" {
		return out, nil
	}
	err := c.do(ctx, "begin", func(ctx context.Context) error {
		var lim *redis.Cmd
		var conv *redis.SliceCmd
		err := c.pipeline(ctx, func(p redis.Pipeliner) {
			if len(keys) > 0 {
				lim = p.EvalSha(ctx, limitScript.sha, keys, args...)
			}
			if d.Conversation != "" {
				conv = p.HMGet(ctx, c.key('c', d.Tenant, d.Conversation), "v", "d")
			}
		})
		if err != nil {
			return err
		}
		if lim != nil && lim.Val() != int64(1) {
			out.Allowed = false
		}
		if conv != nil {
			out.Conv, out.Version = decodeConv(conv.Val(), d.Conversation)
		}
		return nil
	})
	return out, err
}

// Read reads the conversation (tenant, id) again, after a conflict: the
// conversation as last committed and its version.
func (c *Client) Read(ctx context.Context, tenant, id string) (inspect.Conversation, int64, error) {
	var vals []any
	err := c.do(ctx, "read", func(ctx context.Context) error {
		var err error
		vals, err = c.rdb.HMGet(ctx, c.key('c', tenant, id), "v", "d").Result()
		return err
	})
	if err != nil {
		return inspect.Conversation{}, 0, err
	}
	conv, v := decodeConv(vals, id)
	return conv, v, nil
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
	// Version is the version Begin or Read returned.
	Version int64
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
// decides sampling and the alerts' deduplication, in one script. It fails
// with ErrConflict when the conversation changed since it was read:
// nothing was written, and the message is to be inspected again.
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
	keys := make([]string, 3, 3+len(cm.Alerts))
	keys[0] = c.key('c', cm.Tenant, cm.Conversation)
	keys[1] = c.key('s', cm.Tenant, cm.Conversation)
	ttlMS := c.ttl.Milliseconds()
	args := make([]any, 9, 9+len(cm.Alerts))
	args[0], args[1], args[2] = version, blob, ttlMS
	args[3], args[4] = cm.Now.UnixMilli(), max(cm.Window.Milliseconds(), 1)
	args[5], args[6], args[7], args[8] = "0", "", 0, 0
	keys[2] = keys[1] // unused unless an agent minimum applies
	if s := cm.Sample; s != nil && cm.Conversation != "" {
		args[5], args[6] = "1", s.Reason
		if s.AgentDailyMin > 0 && s.Agent != "" {
			day := cm.Now.UTC()
			end := time.Date(day.Year(), day.Month(), day.Day()+1, 1, 0, 0, 0, time.UTC)
			keys[2] = c.key('d', cm.Tenant, s.Agent, day.Format("2006-01-02"))
			args[7], args[8] = s.AgentDailyMin, end.Sub(cm.Now).Milliseconds()
		}
	}
	for _, a := range cm.Alerts {
		keys = append(keys, c.key('a', cm.Tenant, cm.Conversation, a.Kind))
		args = append(args, a.Rank)
	}
	var out Committed
	err := c.do(ctx, "commit", func(ctx context.Context) error {
		res, err := c.eval(ctx, commitScript, keys, args...)
		if err != nil {
			return err
		}
		vals, ok := res.([]any)
		if !ok || len(vals) < 2 {
			return fmt.Errorf("commit script answered %T", res)
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
	return out, err
}

// UseAck uses up the ack token of nonce, which expires at expiry: true the
// first time, on whichever gateway, false when it was used before.
func (c *Client) UseAck(ctx context.Context, nonce []byte, expiry, now time.Time) (bool, error) {
	ttl := max(expiry.Sub(now), time.Millisecond)
	var first bool
	err := c.do(ctx, "ack", func(ctx context.Context) error {
		var err error
		first, err = c.rdb.SetNX(ctx, c.key('k', string(nonce)), 1, ttl).Result()
		return err
	})
	return first, err
}

// Forget drops the conversation (tenant, id), as on a closed event.
func (c *Client) Forget(ctx context.Context, tenant, id string) error {
	return c.do(ctx, "lifecycle", func(ctx context.Context) error {
		return c.rdb.Del(ctx, c.key('c', tenant, id)).Err()
	})
}

// Touch keeps the conversation (tenant, id) another TTL, as on an
// assigned or transferred event (the customer's wait and risk carry on).
func (c *Client) Touch(ctx context.Context, tenant, id string) error {
	return c.do(ctx, "lifecycle", func(ctx context.Context) error {
		return c.rdb.PExpire(ctx, c.key('c', tenant, id), c.ttl).Err()
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

// pipeline runs the commands fill queues as one pipeline; when the server
// has forgotten the scripts (restarted, flushed: NOSCRIPT) it loads them
// and runs a fresh pipeline once more.
func (c *Client) pipeline(ctx context.Context, fill func(redis.Pipeliner)) error {
	p := c.rdb.Pipeline()
	fill(p)
	_, err := p.Exec(ctx)
	if err == nil || !redis.HasErrorPrefix(err, "NOSCRIPT") {
		return err
	}
	if err := c.loadScripts(ctx); err != nil {
		return err
	}
	p = c.rdb.Pipeline()
	fill(p)
	_, err = p.Exec(ctx)
	return err
}

// eval runs one script: EVALSHA, or EVAL (which caches it again) when
// the server has forgotten it.
func (c *Client) eval(ctx context.Context, s script, keys []string, args ...any) (any, error) {
	res, err := c.rdb.EvalSha(ctx, s.sha, keys, args...).Result()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		return c.rdb.Eval(ctx, s.src, keys, args...).Result()
	}
	return res, err
}

func (c *Client) loadScripts(ctx context.Context) error {
	p := c.rdb.Pipeline()
	for _, s := range scripts {
		p.ScriptLoad(ctx, s.src)
	}
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("load scripts: %w", err)
	}
	return nil
}

// key builds a key: the prefix, the kind letter, then each part
// length-prefixed ("c:2:t1:5:conv1").
func (c *Client) key(kind byte, parts ...string) string {
	n := len(c.prefix) + 1
	for _, p := range parts {
		n += len(p) + 8
	}
	b := make([]byte, 0, n)
	b = append(b, c.prefix...)
	b = append(b, kind)
	for _, p := range parts {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	return string(b)
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
		err := c.rdb.Ping(pctx).Err()
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
