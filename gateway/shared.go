package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/ack"
	"github.com/xunjian/xunjian/gateway/internal/redisstate"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/alerting"
)

// sharedState is what the gateway needs of the state it shares with the
// other gateways behind its load balancer (redisstate.Client; see that
// package for the keys, the scripts and the round trips).
type sharedState interface {
	Begin(ctx context.Context, d redisstate.Draft) (redisstate.Begun, error)
	Read(ctx context.Context, tenant, id string) (redisstate.Snapshot, error)
	Commit(ctx context.Context, c redisstate.Commit) (redisstate.Committed, error)
	UseAck(ctx context.Context, nonce []byte, expiry, now time.Time) (bool, error)
	Forget(ctx context.Context, tenant, id string) error
	Touch(ctx context.Context, tenant, id string) error
	Status() redisstate.Status
	Close() error
}

// maxAttempts bounds how many times a draft is inspected when other
// gateways keep committing its conversation first; past it the shared
// state counts as unavailable for the draft (shared_state.mode applies).
const maxAttempts = 4

// errStateUnavailable marks a message held because the shared state failed
// and shared_state.mode is fail_closed: answered 503 state_unavailable.
var errStateUnavailable = errors.New("shared state unavailable (shared_state.mode fail_closed)")

// errConflict marks a draft whose conversation another gateway committed
// while it was inspected: it is read and inspected again.
var errConflict = errors.New("conversation committed by another gateway meanwhile")

// openShared connects to the shared state cfg configures; nil when none is.
func openShared(cfg *config.Config, getenv func(string) string, observe func(op, result string, d time.Duration), log *slog.Logger) (sharedState, error) {
	sc := cfg.SharedState // a copy: the password stays out of cfg
	if !sc.Enabled() {
		return nil, nil
	}
	if sc.PasswordEnv != "" {
		if sc.Password = getenv(sc.PasswordEnv); sc.Password == "" {
			return nil, fmt.Errorf("shared_state.password_env: environment variable %s is empty: set it to the server's password, or remove password_env", sc.PasswordEnv)
		}
	}
	agent, cred := cfg.Limits.Agent(), cfg.Limits.Credential()
	c, err := redisstate.New(sc, redisstate.Options{
		ConversationTTL: cfg.Conversations.TTL.D(),
		Agent:           redisstate.Limit{Rate: agent.Rate, Burst: agent.Burst},
		Credential:      redisstate.Limit{Rate: cred.Rate, Burst: cred.Burst},
		Observe:         observe,
	})
	if err != nil {
		return nil, fmt.Errorf("shared_state: %w", err)
	}
	if cfg.Ack.SecretEnv == "" {
		log.LogAttrs(context.Background(), slog.LevelWarn,
			"shared_state without ack.secret_env: each gateway signs ack tokens with a key of its own, so a token is redeemable only on the gateway that issued it")
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "shared state", slog.Any("addrs", sc.Addrs), slog.Bool("cluster", sc.Cluster), slog.String("mode", sc.Mode),
		slog.Duration("timeout", sc.Timeout.D()), slog.String("key_prefix", sc.KeyPrefix))
	return c, nil
}

// draft is one message's way through the shared state: what Begin read
// (its conversation, version and sampling mark), and whether it is served on this
// gateway's own state instead (degraded). As the message's inspect.Store
// it hands out the conversation read (under this gateway's own lock of it,
// so its drafts take turns as without shared state, and keeping each
// result there too, for a degraded message later); as its
// inspect.Recorder it commits the conversation, with the alert and
// sampling decisions, before the event is written.
type draft struct {
	s            *Server
	tenant, conv string
	convState    inspect.Conversation
	version      int64
	sampled      bool
	degraded     bool
}

var (
	_ inspect.Store    = (*draft)(nil)
	_ inspect.Recorder = (*draft)(nil)
)

// begin takes a draft's rate limits and reads its conversation: on the
// shared state when there is one (one round trip), else, or when it fails
// in degrade mode, on this gateway's own limiters. On false it has written
// the reply (429, or 503 state_unavailable in fail_closed mode).
func (s *Server) begin(ctx *fasthttp.RequestCtx, p auth.Principal, agent, conv string, now time.Time) (*draft, bool) {
	d := &draft{s: s, tenant: p.Tenant, conv: conv, convState: inspect.Conversation{ID: conv}}
	cred := ""
	if p.Agent == "" && p.Credential != "" {
		cred = p.Credential
	}
	allowed := true
	if s.shared != nil {
		b, err := s.shared.Begin(context.Background(), redisstate.Draft{Tenant: p.Tenant, Agent: agent, Credential: cred, Conversation: conv, Now: now})
		switch {
		case err == nil:
			s.sharedUp()
			allowed, d.convState, d.version, d.sampled = b.Allowed, b.Conv, b.Version, b.Sampled
		case !s.fallback(ctx, err):
			return nil, false
		default:
			d.degraded = true
		}
	}
	if s.shared == nil || d.degraded {
		allowed = s.limiter.Allow(p.Tenant, agent, now) && (cred == "" || s.credLimiter.Allow(p.Tenant, cred, now))
	}
	if !allowed {
		s.metrics.Rejected("rate_limit")
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, errcode.RateLimited, "too many requests for this agent or credential")
		return nil, false
	}
	return d, true
}

// fallback applies shared_state.mode to a request the shared state failed
// (err): degrade (true: go on with this gateway's own state) or fail_closed
// (false: it has written 503 state_unavailable).
func (s *Server) fallback(ctx *fasthttp.RequestCtx, err error) bool {
	if s.sharedDown.CompareAndSwap(false, true) {
		s.log.LogAttrs(context.Background(), slog.LevelError, "shared state unreachable", slog.String("mode", s.cfg.SharedState.Mode), slog.String("error", err.Error()))
	}
	if s.cfg.SharedState.Mode == redisstate.ModeFailClosed {
		s.stateUnavailable(ctx)
		return false
	}
	s.metrics.SharedStateFallback(redisstate.ModeDegrade)
	return true
}

// stateUnavailable answers 503 state_unavailable (fail_closed mode).
func (s *Server) stateUnavailable(ctx *fasthttp.RequestCtx) {
	s.metrics.SharedStateFallback(redisstate.ModeFailClosed)
	ctx.Response.Header.Set("Retry-After", "1")
	writeError(ctx, errcode.StateUnavailable, "the state the gateways share could not be reached in time, so the message was held (shared_state.mode fail_closed); try again")
}

// sharedUp notes a call the shared state answered, logging its return.
func (s *Server) sharedUp() {
	if s.sharedDown.Load() && s.sharedDown.CompareAndSwap(true, false) {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "shared state answers again")
	}
}

// inspect carries m through a Session of its own (this draft as its Store
// and Recorder), inspecting it again on the conversation read anew while
// other gateways commit the conversation first.
func (d *draft) inspect(in *inspect.Inspector, m inspect.Message) (inspect.Verdict, error) {
	sess := *d.s.session
	sess.Store, sess.Recorder = d, d
	for attempt := 1; ; attempt++ {
		v, err := sess.Inspect(context.Background(), in, m)
		if !errors.Is(err, errConflict) {
			return v, err
		}
		if attempt == maxAttempts {
			err = fmt.Errorf("%d attempts, each committed first by another gateway: %w", attempt, redisstate.ErrUnavailable)
		} else {
			var snap redisstate.Snapshot
			snap, err = d.s.shared.Read(context.Background(), d.tenant, d.conv)
			d.convState, d.version, d.sampled = snap.Conv, snap.Version, snap.Sampled
		}
		if err != nil {
			if !d.degrade(err) {
				return inspect.Verdict{}, fmt.Errorf("%w: %w", errStateUnavailable, err)
			}
		}
	}
}

// degrade applies shared_state.mode to a draft the shared state failed
// after Begin: true (degrade) marks it degraded, false is fail_closed.
func (d *draft) degrade(err error) bool {
	s := d.s
	if s.sharedDown.CompareAndSwap(false, true) {
		s.log.LogAttrs(context.Background(), slog.LevelError, "shared state unreachable", slog.String("mode", s.cfg.SharedState.Mode), slog.String("error", err.Error()))
	}
	if s.cfg.SharedState.Mode == redisstate.ModeFailClosed {
		return false
	}
	if !d.degraded {
		d.degraded = true
		s.metrics.SharedStateFallback(redisstate.ModeDegrade)
	}
	return true
}

// Lock implements inspect.Store: this gateway's own lock of the
// conversation, and the conversation as the shared state had it (this
// gateway's own copy when degraded). unlock keeps the result here too.
func (d *draft) Lock(ctx context.Context, tenant, id string) (inspect.Conversation, func(*inspect.Conversation), error) {
	local, unlock, err := d.s.convs.Lock(ctx, tenant, id)
	if err != nil || d.degraded || tenant != d.tenant || id != d.conv {
		return local, unlock, err
	}
	return d.convState, unlock, nil
}

// Record implements inspect.Recorder: it commits the conversation with
// the message's alert and sampling decisions (one round trip), then writes
// the event with them. A conflict returns errConflict: nothing was
// committed or written, and the draft is inspected again. A fail-open
// release, which the conversation does not keep, and a degraded message
// are recorded with this gateway's own decisions.
func (d *draft) Record(ctx context.Context, rec *inspect.Record) error {
	s, m, v := d.s, rec.Message, rec.Verdict
	var decided *stream.Decisions
	if !d.degraded && !v.FailOpen {
		cm := redisstate.Commit{Tenant: m.TenantID, Conversation: m.ConversationID, Version: d.version, Sampled: d.sampled, Next: rec.Conversation, Now: rec.Now}
		if s.stream != nil {
			dec := s.decider
			cm.Window = dec.Window
			for _, a := range v.Alerts {
				cm.Alerts = append(cm.Alerts, redisstate.Alert{Kind: a.Kind, Rank: alerting.Rank(a.Level)})
			}
			if m.ConversationID != "" {
				cm.Sample = &redisstate.Sample{Agent: m.AgentID, Reason: dec.Reason(m.TenantID, m.ConversationID, rec.Conversation.Risk, v.Sample), AgentDailyMin: dec.AgentDailyMin}
			}
		}
		res, err := s.shared.Commit(ctx, cm)
		switch {
		case errors.Is(err, redisstate.ErrConflict):
			return errConflict
		case err != nil:
			if !d.degrade(err) {
				return fmt.Errorf("%w: %w", errStateUnavailable, err)
			}
		default:
			s.sharedUp()
			d.version = res.Version
			decided = &stream.Decisions{Admitted: res.Admitted, Sampled: res.Sampled}
		}
	}
	if s.rec == nil {
		return nil
	}
	return s.rec.record(ctx, rec, decided, d.degraded)
}

// Commit implements inspect.Recorder: the event stream's Commit.
func (d *draft) Commit(ctx context.Context) error {
	if d.s.rec == nil {
		return nil
	}
	return d.s.rec.Commit(ctx)
}

// redeem uses up an ack token: on the shared state when there is one (so
// a token is good once on whichever gateway), else, or when it fails in
// degrade mode, in this gateway's own record. The error is one of ack's
// sentinels, or wraps errStateUnavailable (fail_closed).
func (s *Server) redeem(d *draft, token, tenant, conversation, text string, now time.Time) error {
	if s.shared == nil {
		return s.acks.Redeem(token, tenant, conversation, text, now)
	}
	t, err := s.acks.Verify(token, tenant, conversation, text, now)
	if err != nil {
		return err
	}
	first, err := s.shared.UseAck(context.Background(), t.Nonce[:], t.Expiry, now)
	switch {
	case err == nil && !first:
		return ack.ErrAckUsed
	case err == nil:
		s.sharedUp()
		_ = s.acks.Use(t, now) // here too, for a degraded redemption later
		return nil
	case !d.degrade(err):
		return fmt.Errorf("%w: %w", errStateUnavailable, err)
	}
	return s.acks.Use(t, now)
}

// lifecycle applies a conversation event (closed, or assigned and
// transferred) to the shared state, then to this gateway's own store. On
// false it has written 503 state_unavailable (fail_closed mode).
func (s *Server) lifecycle(ctx *fasthttp.RequestCtx, tenant, conv string, closed bool) bool {
	if s.shared != nil {
		var err error
		if closed {
			err = s.shared.Forget(context.Background(), tenant, conv)
		} else {
			err = s.shared.Touch(context.Background(), tenant, conv)
		}
		if err != nil && !s.fallback(ctx, err) {
			return false
		}
		if err == nil {
			s.sharedUp()
		}
	}
	if closed {
		s.convs.Delete(tenant, conv)
	} else {
		// A new agent takes over: the customer's wait and risk carry on.
		s.convs.Update(tenant, conv, func(*inspect.Conversation) {})
	}
	return true
}

// sharedUndelivered marks the turn of decision id undelivered in the
// shared conversation: read, change, compare-and-set, again on a conflict.
func (s *Server) sharedUndelivered(tenant, conversation, id string) error {
	for range maxAttempts {
		snap, err := s.shared.Read(context.Background(), tenant, conversation)
		if err != nil {
			return err
		}
		conv := snap.Conv
		if !conv.SetDelivered(id, false) {
			return nil
		}
		_, err = s.shared.Commit(context.Background(), redisstate.Commit{Tenant: tenant, Conversation: conversation, Version: snap.Version, Next: &conv, Now: s.now()})
		if !errors.Is(err, redisstate.ErrConflict) {
			return err
		}
	}
	return errors.New("the conversation kept changing on other gateways")
}

// sharedReadiness is the shared_state part of /readyz.
func (s *Server) sharedReadiness() map[string]any {
	st := s.shared.Status()
	out := map[string]any{"reachable": st.Up, "mode": s.cfg.SharedState.Mode}
	if !st.Up {
		out["since"] = st.Since.UTC().Format(time.RFC3339Nano)
		out["unreachable_seconds"] = time.Since(st.Since).Seconds()
	}
	return out
}
