package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// The results OnDelivery reports, one per delivery (and one per retry).
const (
	// ResultDelivered: the platform accepted the post (a digest counts
	// once, however many notifications it folds).
	ResultDelivered = "delivered"
	// ResultDuplicate: the ledger says the key is done, or the same key
	// is already queued or being delivered: nothing was posted.
	ResultDuplicate = "duplicate"
	// ResultThrottled: the channel's limit was reached; the notification
	// was folded into the window's digest.
	ResultThrottled = "throttled"
	// ResultRetry: an attempt failed and another will follow.
	ResultRetry = "retry"
	// ResultDead: the delivery failed for good and went to the dead
	// letters.
	ResultDead = "dead"
	// ResultCanceled: Close gave up on the delivery before it ended; it is
	// not done, and is delivered again when re-submitted.
	ResultCanceled = "canceled"
)

// ErrClosed is returned by Submit once Close has been called.
var ErrClosed = errors.New("notify: dispatcher closed")

// Options are a Dispatcher's collaborators; the zero value works, without
// restart safety (an in-memory ledger) and dropping dead letters (they are
// logged).
type Options struct {
	// Getenv reads the channels' secrets; nil means os.Getenv.
	Getenv func(string) string
	// Ledger records the deliveries done; nil means a new MemLedger,
	// which forgets them at exit.
	Ledger Ledger
	// DeadLetters receives the deliveries that failed for good; nil logs
	// them only.
	DeadLetters DeadLetters
	// OnDelivery, when set, is called with the channel's name and one of
	// the Result constants for each delivery's outcome (and each retry),
	// e.g. to count them for Prometheus. It is called from the workers
	// and from Submit, concurrently, and must not block.
	OnDelivery func(channel, result string)
	// Logger logs failures (ids, channels and errors only, never text);
	// nil means slog.Default().
	Logger *slog.Logger
	// Clock is the time of waits, windows and signatures; nil means the
	// real clock. The per-attempt timeout is always real time.
	Clock Clock
	// Rand returns a number in [0, 1) for the backoff's jitter; nil means
	// math/rand/v2.
	Rand func() float64
	// Transport sends the requests; nil means a Transport of the
	// Dispatcher's own (proxy from the environment, HTTP/2, keep-alive).
	// Close closes its idle connections.
	Transport http.RoundTripper
}

// Dispatcher routes notifications to channels and delivers them: Submit
// queues, a bounded pool of workers posts, Close drains. It is safe for
// concurrent use.
type Dispatcher struct {
	router     *Router
	channels   map[string]*channel
	ledger     Ledger
	dead       DeadLetters
	onDelivery func(channel, result string)
	log        *slog.Logger
	clock      Clock
	rand       func() float64
	retry      RetryConfig
	transport  http.RoundTripper

	queue chan job
	// ctx is the deliveries' context, cancelled when Close gives up.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool                // guarded by mu
	closing  chan struct{}       // closed by Close, wakes blocked Submits
	inflight map[string]struct{} // keys queued, folded or in delivery; guarded by mu

	submits sync.WaitGroup // Submits in progress, added to under mu
	workers sync.WaitGroup // the pool
	digests sync.WaitGroup // digest deliveries (outside the pool), added to under mu
}

// channel is a configured sender with its throttle, pacer and settings.
type channel struct {
	sender
	lang     string
	timeout  time.Duration
	throttle *throttle
	pacer    *pacer
}

// job is one delivery for a worker.
type job struct {
	ch *channel
	d  *Delivery
}

// New returns a Dispatcher of cfg (its zero fields take their defaults),
// with its workers started. It reads the channels' secrets through
// opts.Getenv and fails when cfg does not validate or a secret is missing;
// no error quotes a secret.
func New(cfg Config, opts Options) (*Dispatcher, error) {
	cfg.Channels = slices.Clone(cfg.Channels)
	cfg.Defaults()
	router, err := NewRouter(cfg)
	if err != nil {
		return nil, err
	}
	loc := time.Local
	if cfg.TimeZone != "" {
		if loc, err = time.LoadLocation(cfg.TimeZone); err != nil {
			return nil, fmt.Errorf("notify: time_zone: %w", err)
		}
	}
	d := &Dispatcher{
		router:     router,
		channels:   map[string]*channel{},
		ledger:     opts.Ledger,
		dead:       opts.DeadLetters,
		onDelivery: opts.OnDelivery,
		log:        opts.Logger,
		clock:      opts.Clock,
		rand:       opts.Rand,
		retry:      cfg.Retry,
		transport:  opts.Transport,
		queue:      make(chan job, cfg.QueueSize),
		closing:    make(chan struct{}),
		inflight:   map[string]struct{}{},
	}
	if d.ledger == nil {
		d.ledger = &MemLedger{}
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.clock == nil {
		d.clock = realClock{}
	}
	if d.rand == nil {
		d.rand = rand.Float64
	}
	if d.transport == nil {
		d.transport = newTransport()
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	hc := &http.Client{
		Transport: d.transport,
		// Never follow a redirect: it could carry the message and the
		// token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	r := &renderer{consoleURL: strings.TrimRight(cfg.ConsoleURL, "/"), loc: loc}
	var errs []error
	for i, cc := range cfg.Channels {
		ch, err := newChannel(cc, getenv, hc, d.clock, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("channels[%d] (%s): %w", i, cc.Name, err))
			continue
		}
		lang := cc.Lang
		if lang == "" {
			lang = cfg.Lang
		}
		d.channels[cc.Name] = &channel{
			sender:  ch,
			lang:    lang,
			timeout: cc.Timeout.D(),
			throttle: &throttle{
				channel: cc.Name, limit: cc.Throttle.Limit,
				window: cc.Throttle.Window.D(), top: cc.Throttle.DigestTop,
			},
			pacer: &pacer{interval: cc.Throttle.MinInterval.D()},
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		d.workers.Add(1)
		go d.work()
	}
	return d, nil
}

// newTransport returns the Dispatcher's Transport: the proxy from the
// environment (never for loopback), HTTP/2, a few keep-alive connections
// per platform, dial and TLS bounded.
func newTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    5 * time.Second,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// newChannel returns the sender of cc, its secrets read through getenv.
func newChannel(cc ChannelConfig, getenv func(string) string, hc *http.Client, clock Clock, r *renderer) (sender, error) {
	var (
		secrets []string
		errs    []error
	)
	// get returns the value of the environment variable env (named by
	// field), "" when env is "".
	get := func(field, env string, required bool) string {
		if env == "" {
			return ""
		}
		v := strings.TrimSpace(getenv(env))
		switch {
		case v == "" && required:
			errs = append(errs, fmt.Errorf("%s: the environment variable %s is empty", field, env))
		case v == "":
			errs = append(errs, fmt.Errorf("%s: the environment variable %s is empty (remove %s for an unsigned channel)", field, env, field))
		case strings.ContainsFunc(v, func(r rune) bool { return r < 0x21 || r == 0x7f }):
			errs = append(errs, fmt.Errorf("%s: the value of %s holds spaces or control characters", field, env))
		default:
			secrets = append(secrets, v)
			return v
		}
		return ""
	}
	var (
		ch   sender
		base *poster
	)
	switch cc.Type {
	case TypeWebhook:
		c := &webhook{url: cc.URL, secret: []byte(get("secret_env", cc.SecretEnv, true))}
		ch, base = c, &c.poster
	case TypeDingTalk:
		c := &dingTalk{base: cc.BaseURL, token: get("token_env", cc.TokenEnv, true), secret: get("secret_env", cc.SecretEnv, false)}
		ch, base = c, &c.poster
	case TypeWeCom:
		c := &weCom{base: cc.BaseURL, key: get("token_env", cc.TokenEnv, true)}
		ch, base = c, &c.poster
	case TypeFeishu:
		hook := get("token_env", cc.TokenEnv, true)
		c := &feishu{endpoint: feishuEndpoint(cc.BaseURL, hook), secret: get("secret_env", cc.SecretEnv, false)}
		ch, base = c, &c.poster
	case TypeSlack:
		u := get("url_env", cc.URLEnv, true)
		if u != "" && checkURL(u, true, false) != "" {
			// Not quoted: the URL is the secret.
			errs = append(errs, fmt.Errorf("url_env: the value of %s is not a usable webhook URL (https, or http to a loopback address)", cc.URLEnv))
		}
		c := &slack{url: u}
		ch, base = c, &c.poster
	default:
		return nil, fmt.Errorf("type %q: unknown", cc.Type)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	*base = poster{
		name: cc.Name, typ: cc.Type, hc: hc, secrets: secrets, clock: clock, r: r,
		maxTurns: cc.MaxTurns, digestTop: cc.Throttle.DigestTop,
	}
	return ch, nil
}

// Route returns the targets of n (see Router).
func (d *Dispatcher) Route(n *Notification) []Target { return d.router.Route(n) }

// Submit routes n and queues its deliveries, one per channel, skipping
// those the ledger marks done and those already queued. It returns once
// they are queued (or folded into a digest by a channel's throttle), not
// when they are posted: the ledger records what was posted. It blocks
// while the queue is full, under ctx. It fails with ErrClosed after
// Close, with ctx's error, or when n lacks an event id, a kind or a valid
// level. A ledger that cannot answer does not stop a delivery (at least
// once); the failure is logged.
func (d *Dispatcher) Submit(ctx context.Context, n Notification) error {
	if err := n.check(); err != nil {
		return fmt.Errorf("notify: submit: %w", err)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.submits.Add(1)
	d.mu.Unlock()
	defer d.submits.Done()

	n.Context = slices.Clone(n.Context)
	for _, t := range d.router.Route(&n) {
		ch := d.channels[t.Channel]
		key := n.Key(ch.Name())
		if !d.hold(key) {
			d.report(ch.Name(), ResultDuplicate)
			continue
		}
		done, err := d.ledger.Claim(ctx, key)
		switch {
		case err != nil && ctx.Err() != nil:
			d.release(key)
			return fmt.Errorf("notify: submit: %w", ctx.Err())
		case err != nil:
			d.log.Warn("notify: ledger claim failed; delivering anyway", "key", key, "channel", ch.Name(), "notification", n, "err", err)
		case done:
			d.release(key)
			d.report(ch.Name(), ResultDuplicate)
			continue
		}
		lang := t.Lang
		if lang == "" {
			lang = ch.lang
		}
		send, kept, flushed := ch.throttle.admit(&n, key, d.clock.Now(), func(after time.Duration) func() bool {
			return d.clock.AfterFunc(after, func() { d.windowEnd(ch) })
		})
		if flushed != nil {
			d.mu.Lock()
			d.digests.Add(1)
			d.mu.Unlock()
			go d.postDigest(ch, flushed)
		}
		if !send {
			if !kept {
				// Past the digest's keys: not marked done by it.
				d.release(key)
			}
			d.report(ch.Name(), ResultThrottled)
			continue
		}
		del := &Delivery{Key: key, Channel: ch.Name(), Lang: lang, Notification: &n}
		select {
		case d.queue <- job{ch: ch, d: del}:
		case <-ctx.Done():
			d.release(key)
			return fmt.Errorf("notify: submit: %w", ctx.Err())
		case <-d.closing:
			d.release(key)
			return ErrClosed
		}
	}
	return nil
}

// hold marks key in flight; false when it already is.
func (d *Dispatcher) hold(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.inflight[key]; ok {
		return false
	}
	d.inflight[key] = struct{}{}
	return true
}

// release forgets keys in flight.
func (d *Dispatcher) release(keys ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		delete(d.inflight, k)
	}
}

// report calls OnDelivery.
func (d *Dispatcher) report(channel, result string) {
	if d.onDelivery != nil {
		d.onDelivery(channel, result)
	}
}

// windowEnd is the end-of-window timer of ch's throttle: it posts the
// pending digest, unless Close has begun (Close posts it).
func (d *Dispatcher) windowEnd(ch *channel) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.digests.Add(1)
	d.mu.Unlock()
	dg := ch.throttle.flush(d.clock.Now())
	if dg == nil {
		d.digests.Done()
		return
	}
	d.postDigest(ch, dg)
}

// postDigest delivers dg on ch, outside the pool (at most one per channel
// per window), and marks its notifications done when it is posted. The
// caller has added to d.digests.
func (d *Dispatcher) postDigest(ch *channel, dg *Digest) {
	defer d.digests.Done()
	del := &Delivery{Key: dg.Key(), Channel: ch.Name(), Lang: ch.lang, Digest: dg}
	d.deliver(ch, del)
}

// work is a worker: it delivers the queue's jobs until the queue is
// closed.
func (d *Dispatcher) work() {
	defer d.workers.Done()
	for j := range d.queue {
		d.deliver(j.ch, j.d)
	}
}

// deliver runs del's attempts on ch and records the outcome: the ledger's
// Done (for a digest, of each notification folded into it), a dead
// letter, or nothing when Close gave up.
func (d *Dispatcher) deliver(ch *channel, del *Delivery) {
	keys := []string{del.Key}
	if del.Digest != nil {
		keys = append(keys, del.Digest.Keys...)
	}
	defer d.release(keys...)
	err := d.attempts(ch, del)
	switch {
	case err == nil:
		// The window of a double post after a crash is from the
		// platform's answer to here: the ledger is told at once, under a
		// context Close does not cancel.
		ctx, cancel := context.WithTimeout(context.Background(), ch.timeout)
		defer cancel()
		for _, k := range keys {
			if err := d.ledger.Done(ctx, k); err != nil {
				d.log.Error("notify: ledger done failed: the alert may be posted again after a restart", "key", k, "channel", ch.Name(), "err", err)
			}
		}
		d.report(ch.Name(), ResultDelivered)
	case errors.Is(err, context.Canceled) && d.ctx.Err() != nil:
		d.report(ch.Name(), ResultCanceled)
	default:
		d.report(ch.Name(), ResultDead)
		d.log.Warn("notify: delivery failed for good", "key", del.Key, "channel", ch.Name(), "attempts", del.Attempts, "err", err)
		if d.dead != nil {
			ctx, cancel := context.WithTimeout(context.Background(), ch.timeout)
			defer cancel()
			if derr := d.dead.Dead(ctx, *del, err); derr != nil {
				d.log.Error("notify: dead letter not recorded", "key", del.Key, "channel", ch.Name(), "err", derr)
			}
		}
	}
}

// attempts posts del on ch until it succeeds, fails for good, runs out of
// attempts or Close gives up; it returns the last error.
func (d *Dispatcher) attempts(ch *channel, del *Delivery) error {
	for attempt := 1; ; attempt++ {
		del.Attempts = attempt
		if err := d.clock.Sleep(d.ctx, ch.pacer.reserve(d.clock.Now())); err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(d.ctx, ch.timeout)
		err := ch.Send(actx, del)
		timedOut := errors.Is(actx.Err(), context.DeadlineExceeded)
		cancel()
		if err == nil {
			return nil
		}
		if d.ctx.Err() != nil {
			return d.ctx.Err()
		}
		var se *SendError
		if !errors.As(err, &se) {
			se = &SendError{Channel: ch.Name(), Retryable: true, Err: err}
		}
		if timedOut && se.Status == 0 {
			se.Retryable = true
			se.Err = fmt.Errorf("attempt timed out after %v: %w", ch.timeout, context.DeadlineExceeded)
		}
		if !se.Retryable {
			return se
		}
		if attempt >= d.retry.MaxAttempts {
			return fmt.Errorf("%w (after %d attempts)", se, attempt)
		}
		wait := d.backoff(attempt)
		if se.RetryAfter > 0 {
			if se.RetryAfter > d.retry.MaxRetryAfter.D() {
				return fmt.Errorf("%w, more than max_retry_after %v: given up", se, d.retry.MaxRetryAfter)
			}
			wait = max(wait, se.RetryAfter)
		}
		d.report(ch.Name(), ResultRetry)
		if err := d.clock.Sleep(d.ctx, wait); err != nil {
			return err
		}
	}
}

// backoff returns the wait after the attempt-th attempt failed:
// Backoff·2^(attempt-1), at most MaxBackoff, half of it fixed and half
// random (equal jitter), so that retries of many deliveries spread out
// but never come sooner than half the computed wait.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	w, ceiling := d.retry.Backoff.D(), d.retry.MaxBackoff.D()
	for i := 1; i < attempt && w < ceiling; i++ {
		w *= 2
	}
	w = min(w, ceiling)
	return w/2 + time.Duration(d.rand()*float64(w/2))
}

// Close stops accepting notifications (Submit returns ErrClosed), posts
// the pending digests at once, and waits until the queued and in-flight
// deliveries have ended, or until ctx is done: then it cancels them (they
// end as ResultCanceled, not done, to be delivered again when
// re-submitted) and returns ctx's error once they have returned. A
// delivery waiting for its next attempt keeps Close waiting. Once Close
// returns, no request of the Dispatcher is in flight. Later calls return
// nil at once.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.closing)
	d.mu.Unlock()

	d.submits.Wait()
	now := d.clock.Now()
	for _, name := range slices.Sorted(maps.Keys(d.channels)) {
		ch := d.channels[name]
		if dg := ch.throttle.flush(now); dg != nil {
			d.digests.Add(1)
			go d.postDigest(ch, dg)
		}
	}
	close(d.queue)
	done := make(chan struct{})
	go func() {
		d.workers.Wait()
		d.digests.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		d.cancel()
		<-done
		err = fmt.Errorf("notify: close: %w", ctx.Err())
	}
	d.cancel()
	if t, ok := d.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return err
}
