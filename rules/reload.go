package rules

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Hot reload
//
// A Reloader serves one version at a time (a Policy and the caller's
// attachment built from it) from an atomic.Pointer, so the hot path
// (Current) takes no lock. A new version goes through the same
// steps whether it comes from a poll, a forced Reload or the first load:
// fetch, read and parse, compile and prepare, check the data, run the
// bundle's Rego tests, the caller's Attach hook; only then is it swapped in.
// Requests that already hold the old version finish on it; the next Current
// returns the new one. A version that fails any step is refused, and the
// current one keeps serving.
//
// Closing a replaced version (which stops its decision cache) is never done
// on swap: in-flight requests may still be using it. Replaced versions are
// kept open for Rollback (History of them); one that leaves the history, or
// that Rollback moves away from, is closed after CloseDelay, its attachment
// too. A Decide racing the Policy's Close would still be safe (a closed
// Policy answers by evaluating, without its cache); the delay is for the
// attachment, which may not be as forgiving (the gateway's Inspector must
// not be used after its Close).

// DefaultPollInterval is how often [Reloader.Run] polls its source unless
// [ReloaderOptions.Interval] says otherwise.
const DefaultPollInterval = 2 * time.Second

// DefaultCloseDelay is how long a policy version that is neither served nor
// kept for rollback stays open unless [ReloaderOptions.CloseDelay] says
// otherwise.
const DefaultCloseDelay = 10 * time.Second

// ErrNoPrevious is returned by [Reloader.Rollback] when there is no earlier
// version to return to.
var ErrNoPrevious = errors.New("rules: no previous policy version to roll back to")

// ErrClosed is returned by a [Reloader]'s methods after Close.
var ErrClosed = errors.New("rules: reloader closed")

// Stage is the step of a reload attempt that failed.
type Stage string

// The stages of a reload attempt, in order.
const (
	// StageFetch: the source could not be read (I/O, network, HTTP status,
	// size limit). Not a refusal: the next poll tries again.
	StageFetch Stage = "fetch"
	// StageLoad: the bundle could not be read, parsed, compiled or prepared.
	StageLoad Stage = "load"
	// StageData: the data document has values the policy would misread
	// (see [Check]).
	StageData Stage = "data"
	// StageTest: a Rego test failed or errored (or, with RequireTests,
	// there was none).
	StageTest Stage = "test"
	// StageDecision: on a probe input the policy's decision broke the
	// decision schema (see [ErrInvalidDecision]).
	StageDecision Stage = "decision"
	// StageAttach: the caller's Attach hook rejected the policy.
	StageAttach Stage = "attach"
)

// ReloadError is why a reload attempt failed: the source, the stage, the
// bundle revision when known, and every problem with its file and line.
// Its fields must not be modified.
type ReloadError struct {
	// Source names the source, as Source.String does.
	Source string `json:"source"`
	// Stage is the step that failed.
	Stage Stage `json:"stage"`
	// Revision is the refused bundle's revision, if it got far enough to
	// have one.
	Revision string `json:"revision,omitempty"`
	// Digest is the hex SHA-256 of the refused bundle's contents (see
	// VersionInfo.Digest), when it was read: it tells a refused bundle from
	// the served one of the same revision.
	Digest string `json:"digest,omitempty"`
	// Time is when the attempt started.
	Time time.Time `json:"time"`
	// Problems lists what is wrong, located where possible.
	Problems []Problem `json:"problems"`
	// Message is the whole error on one line, as Error returns it.
	Message string `json:"message"`
	// Err is the underlying error, for errors.Is and errors.As.
	Err error `json:"-"`
}

// Error returns Message.
func (e *ReloadError) Error() string { return e.Message }

// Unwrap returns Err.
func (e *ReloadError) Unwrap() error { return e.Err }

func newReloadError(source string, stage Stage, revision string, at time.Time, err error, problems []Problem) *ReloadError {
	e := &ReloadError{Source: source, Stage: stage, Revision: revision, Time: at, Problems: problems, Err: err}
	if stage == StageFetch {
		e.Message = err.Error()
		return e
	}
	var b strings.Builder
	fmt.Fprintf(&b, "policy bundle %s", source)
	if revision != "" {
		fmt.Fprintf(&b, " (revision %s)", revision)
	}
	fmt.Fprintf(&b, " refused at %s: ", stage)
	for i, p := range problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	e.Message = b.String()
	return e
}

// ReloaderOptions configure a [Reloader]. The zero value polls every 2 s,
// keeps one previous version, and accepts a bundle that compiles, has sane
// data and passes its tests (if it has any).
type ReloaderOptions[T io.Closer] struct {
	// Interval is the time between two polls in Run; zero means
	// DefaultPollInterval.
	Interval time.Duration
	// History is how many replaced versions are kept open for Rollback;
	// zero means 1, the previous one. Each keeps its decision cache (see
	// WithCacheBytes).
	History int
	// CloseDelay is how long a version that is neither served nor kept is
	// left open before its Policy and attachment are closed, so that
	// requests still using it finish first: it must exceed the longest
	// time a request holds a version. Zero means DefaultCloseDelay.
	CloseDelay time.Duration
	// LoadOptions apply to every version loaded, e.g. WithCacheBytes.
	LoadOptions []LoadOption
	// RequireTests refuses a bundle that has no Rego test. By default such
	// a bundle is accepted; one with a failing test never is.
	RequireTests bool
	// TestTimeout bounds each Rego test; zero means 5 s.
	TestTimeout time.Duration
	// TestBudget bounds all of a new version's Rego tests together, and
	// then its probe evaluations together; past it the version is refused
	// (CodeTestBudget, at StageTest or StageDecision) and the evaluation
	// stops (its context is cancelled). Zero means DefaultTestBudget.
	TestBudget time.Duration
	// TestShare is the share of one CPU a new version's tests may use
	// while the current version serves traffic (the first version's tests
	// run at full speed): evaluation pauses as long
	// as needed to stay under it, so that vetting a slow bundle does not
	// slow live decisions. Zero means DefaultTestShare; 1 means no pause.
	TestShare float64
	// Probes are inputs every new version is evaluated on before it is
	// swapped in, besides the built-in probe set ([Probes], always
	// evaluated: every taxonomy kind, role, conversation state, lexicon
	// entry and tenant of the bundle); a decision that breaks the decision
	// schema on any of them refuses the version (StageDecision,
	// CodeInvalidDecision) and the last good one keeps serving. The probes
	// are evaluated at TestShare within TestBudget, as the tests are.
	Probes []*Input
	// Attach, if set, is called with each version that compiled, has sane
	// data and passed its tests, before it is swapped in (the first version
	// included). It builds what the caller derives from a policy and must
	// swap together with it: the gateway's Inspector, whose detectors come
	// from the bundle's lexicons. The value it returns travels with the
	// version (Current, Swap) and is closed with the version. An error
	// refuses the version at StageAttach (a bad lexicon is refused rather
	// than served); the value returned with an error is ignored, as Go's
	// convention has it. Without Attach every version's attachment is T's
	// zero value, never closed.
	Attach func(ctx context.Context, p *Policy) (T, error)
	// OnSwap, if set, is called after every swap (a reload or a Rollback,
	// not the first load), in swap order, from the goroutine that swapped,
	// before Reload or Rollback returns. It must not call Reload or
	// Rollback (they would deadlock; Current and Status are fine), and it
	// holds up the next swap while it runs.
	OnSwap func(Swap[T])
	// OnError, if set, is called with every failed attempt after the first
	// load: a source that could not be read, or a bundle refused. Same
	// goroutine and restrictions as OnSwap.
	OnError func(*ReloadError)
}

// Swap describes one change of the served version, for [ReloaderOptions.OnSwap].
type Swap[T io.Closer] struct {
	// Old is the policy served until now, New the one served from now on.
	// The Reloader owns both: do not Close them.
	Old, New *Policy
	// OldAttachment and NewAttachment are what Attach returned for them
	// (T's zero value without Attach). The Reloader closes them too.
	OldAttachment, NewAttachment T
	// OldVersion and NewVersion identify Old and New: revision and the
	// digest of the bundle's contents. Two versions of one revision (a
	// bundle edited without bumping its manifest, then rolled back) differ
	// in their digests, which logs of the swap must show.
	OldVersion, NewVersion VersionInfo
	// Rollback is true when Rollback, not a new bundle, made the swap.
	Rollback bool
	// Time is when the swap happened.
	Time time.Time
}

// LogAttrs returns the swap as log attributes: the revisions served until
// now and from now on (from, to) and their bundle digests (from_digest,
// to_digest), so that a log tells apart two versions of one revision.
func (s Swap[T]) LogAttrs() []slog.Attr {
	return []slog.Attr{
		slog.String("from", s.OldVersion.Revision), slog.String("to", s.NewVersion.Revision),
		slog.String("from_digest", s.OldVersion.Digest), slog.String("to_digest", s.NewVersion.Digest),
	}
}

// VersionInfo identifies a policy version held by a [Reloader].
type VersionInfo struct {
	// Revision is the bundle revision, as Policy.Revision reports it.
	Revision string `json:"revision"`
	// Digest is the hex SHA-256 over the bundle's file names and contents:
	// unlike a manifest revision, it changes with any change, and it is the
	// same for every load of identical contents (whatever the source, the
	// file order or the modification times).
	Digest string `json:"digest"`
	// Since is when the version last became the served one.
	Since time.Time `json:"since"`
}

// ReloadStatus is a [Reloader]'s state, for the gateway's /v1/policy, its
// metrics and its logs.
type ReloadStatus struct {
	// Source names where bundles come from.
	Source string `json:"source"`
	// Current is the version being served.
	Current VersionInfo `json:"current"`
	// Previous are the versions Rollback returns to, the most recent first.
	Previous []VersionInfo `json:"previous"`
	// LastCheck is when the source was last polled (or force-reloaded).
	LastCheck time.Time `json:"last_check,omitzero"`
	// Refused explains why the latest bundle the source offered is not
	// served; nil once a newer one is accepted.
	Refused *ReloadError `json:"refused,omitempty"`
	// FetchError is why the source could not be read at the last check;
	// nil once it can be read again.
	FetchError *ReloadError `json:"fetch_error,omitempty"`
	// Reloads counts new versions swapped in, Refusals bundles refused,
	// FetchErrors failed reads of the source, Rollbacks rollbacks.
	Reloads     uint64 `json:"reloads"`
	Refusals    uint64 `json:"refusals"`
	FetchErrors uint64 `json:"fetch_errors"`
	Rollbacks   uint64 `json:"rollbacks"`
}

// Reloader serves the current version of a policy bundle and replaces it,
// atomically, when its [Source] offers a new version that compiles and
// passes its tests; it keeps the previous versions for [Reloader.Rollback].
// It is safe for concurrent use: Current is lock-free and meant for every
// request; Reload, Rollback and Run may be called from any
// goroutine.
//
// The Reloader owns every Policy it loads and every attachment (see
// [ReloaderOptions.CloseDelay]): callers must not Close them.
//
// T is what the caller derives from each policy and swaps with it
// ([ReloaderOptions.Attach]); [NoAttachment] when there is none.
type Reloader[T io.Closer] struct {
	src  Source
	opts ReloaderOptions[T] // defaults resolved
	// cur points to a copy of current, never modified once stored.
	cur atomic.Pointer[version[T]]

	// attemptMu serializes reload attempts (fetch, load, tests, Attach:
	// the slow part). Rollback and Current never take it.
	attemptMu sync.Mutex
	// swapMu serializes swaps together with their OnSwap calls, so the
	// callback sees swaps in the order they happened.
	swapMu sync.Mutex

	mu sync.Mutex // guards the fields below
	// current is the served version.
	current version[T]
	// history holds replaced versions for Rollback, the most recent last.
	history []version[T]
	// lastDigest is the digest of the last bundle content an attempt
	// handled (accepted or refused): a poll that finds the same content
	// again does nothing, so a refused or rolled-back version is not
	// retried until the source changes (or Reload forces it).
	lastDigest string
	lastCheck  time.Time
	refused    *ReloadError
	fetchErr   *ReloadError
	counts     struct{ reloads, refusals, fetchErrors, rollbacks uint64 }
	// closing holds the versions waiting for CloseDelay, by policy.
	closing map[*Policy]closingVersion[T]
	closed  bool
}

// NoAttachment is the attachment of a [Reloader] that derives nothing from
// its policies: Reloader[NoAttachment] with no Attach.
type NoAttachment struct{}

// Close does nothing.
func (NoAttachment) Close() error { return nil }

// version is one policy version: the Policy and its attachment.
type version[T io.Closer] struct {
	p      *Policy
	att    T
	hasAtt bool // att came from Attach
	since  time.Time
}

func (v version[T]) info() VersionInfo {
	return VersionInfo{Revision: v.p.revision, Digest: v.p.digest, Since: v.since}
}

// close closes the Policy and the attachment Attach built for it.
func (v version[T]) close() {
	v.p.Close()
	if v.hasAtt {
		_ = v.att.Close() // an attachment's close has no one to report to
	}
}

type closingVersion[T io.Closer] struct {
	v     version[T]
	timer *time.Timer
}

// NewReloader loads the first version from src, through the same steps as
// every reload (compile, data check, tests, Attach), and returns a
// Reloader serving it. It fails, with a *ReloadError, if that version
// cannot be read or is refused: a gateway should not start without a
// policy it trusts. Call Run to poll src for new versions, and Close when
// done.
func NewReloader[T io.Closer](ctx context.Context, src Source, opts ReloaderOptions[T]) (*Reloader[T], error) {
	if src == nil {
		return nil, errors.New("rules: NewReloader: nil Source")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultPollInterval
	}
	if opts.History <= 0 {
		opts.History = 1
	}
	if opts.CloseDelay <= 0 {
		opts.CloseDelay = DefaultCloseDelay
	}
	r := &Reloader[T]{src: src, opts: opts, closing: map[*Policy]closingVersion[T]{}}
	now := time.Now()
	snap, err := src.fetch(ctx, true)
	if err != nil {
		return nil, newReloadError(src.String(), StageFetch, "", now, err, []Problem{{Code: CodeBundle, Message: err.Error()}})
	}
	v, rerr := r.vet(ctx, now, snap)
	if rerr != nil {
		if snap.src != nil {
			rerr.Digest = snap.src.digest
		}
		return nil, rerr
	}
	v.since = time.Now()
	r.current = v
	r.lastDigest = v.p.digest
	r.lastCheck = now
	r.cur.Store(&v)
	return r, nil
}

// vet takes a snapshot through every check and Attach; on failure it has
// closed whatever it built.
func (r *Reloader[T]) vet(ctx context.Context, at time.Time, snap *snapshot) (version[T], *ReloadError) {
	var att T
	o := vetOptions{
		load:         r.opts.LoadOptions,
		tests:        TestOptions{Timeout: r.opts.TestTimeout, Budget: cmpDuration(r.opts.TestBudget, DefaultTestBudget), Share: r.opts.TestShare},
		requireTests: r.opts.RequireTests,
		probes:       r.opts.Probes,
		stage:        StageAttach,
	}
	if o.tests.Share == 0 {
		o.tests.Share = DefaultTestShare
	}
	if r.cur.Load() == nil {
		o.tests.Share = 1 // the first version: no live traffic to yield to yet
	}
	hasAtt := false
	if r.opts.Attach != nil {
		o.validate = func(ctx context.Context, p *Policy) error {
			a, err := r.opts.Attach(ctx, p)
			if err != nil {
				return err // vet's caller closes p
			}
			att, hasAtt = a, true
			return nil
		}
	}
	v, rerr := vet(ctx, r.src.String(), at, snap, o)
	if rerr != nil {
		if v.policy != nil {
			v.policy.Close()
		}
		if hasAtt {
			_ = att.Close()
		}
		return version[T]{}, rerr
	}
	return version[T]{p: v.policy, att: att, hasAtt: hasAtt}, nil
}

// Current returns the version being served: its policy (never nil) and
// what Attach built for it, from one atomic load, so the two always belong
// together. It never blocks; call it once per request and use what it
// returned for the whole request.
func (r *Reloader[T]) Current() (*Policy, T) {
	v := r.cur.Load()
	return v.p, v.att
}

// Source returns the source the Reloader polls.
func (r *Reloader[T]) Source() Source { return r.src }

// Run polls the source every Interval, reloading when it offers a new
// version, until ctx is done; it then returns ctx.Err() (or ErrClosed once
// the Reloader is closed). Failed attempts do not stop it: they are
// reported through OnError and Status.
func (r *Reloader[T]) Run(ctx context.Context) error {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if _, err := r.check(ctx, false); errors.Is(err, ErrClosed) {
				return err
			}
		}
	}
}

// Reload checks the source now, bypassing its change detection (an HTTP
// source asks without If-None-Match), and swaps in what it offers unless
// that is the version already served. Unlike a poll, it retries a version
// that was refused or rolled back from. It reports whether a new version
// was swapped in; a failed attempt returns its *ReloadError (the current
// version keeps serving).
func (r *Reloader[T]) Reload(ctx context.Context) (bool, error) { return r.check(ctx, true) }

// check runs one reload attempt; force is Reload's.
func (r *Reloader[T]) check(ctx context.Context, force bool) (bool, error) {
	r.attemptMu.Lock()
	defer r.attemptMu.Unlock()
	now := time.Now()
	r.mu.Lock()
	closed := r.closed
	r.lastCheck = now
	r.mu.Unlock()
	if closed {
		return false, ErrClosed
	}

	snap, err := r.src.fetch(ctx, force)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err() // shutting down: not the source's fault
		}
		rerr := newReloadError(r.src.String(), StageFetch, "", now, err, []Problem{{Code: CodeBundle, Message: err.Error()}})
		r.mu.Lock()
		r.fetchErr = rerr
		r.counts.fetchErrors++
		r.mu.Unlock()
		r.report(rerr)
		return false, rerr
	}
	r.mu.Lock()
	r.fetchErr = nil
	serving, last := r.current.p.digest, r.lastDigest
	r.mu.Unlock()
	if snap == nil {
		return false, nil
	}
	if snap.src != nil && (snap.src.digest == serving || (!force && snap.src.digest == last)) {
		return false, nil
	}

	v, rerr := r.vet(ctx, now, snap)
	if rerr != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if snap.src != nil {
			rerr.Digest = snap.src.digest
		}
		r.mu.Lock()
		r.refused = rerr
		r.counts.refusals++
		if snap.src != nil {
			r.lastDigest = snap.src.digest
		}
		r.mu.Unlock()
		r.report(rerr)
		return false, rerr
	}
	return r.swapIn(v)
}

// report hands a failed attempt to OnError.
func (r *Reloader[T]) report(err *ReloadError) {
	if r.opts.OnError != nil {
		r.opts.OnError(err)
	}
}

// swapIn makes v the served version and pushes the old one onto the
// history.
func (r *Reloader[T]) swapIn(v version[T]) (bool, error) {
	r.swapMu.Lock()
	defer r.swapMu.Unlock()
	v.since = time.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		v.close()
		return false, ErrClosed
	}
	old := r.current
	r.current = v
	r.cur.Store(&v)
	r.history = append(r.history, old)
	sw := Swap[T]{Old: old.p, New: v.p, OldAttachment: old.att, NewAttachment: v.att,
		OldVersion: old.info(), NewVersion: v.info(), Time: v.since}
	if n := len(r.history) - r.opts.History; n > 0 {
		for _, h := range r.history[:n] {
			r.closeLater(h)
		}
		r.history = slices.Delete(r.history, 0, n)
	}
	r.lastDigest = v.p.digest
	r.refused = nil
	r.counts.reloads++
	r.mu.Unlock()
	if r.opts.OnSwap != nil {
		r.opts.OnSwap(sw)
	}
	return true, nil
}

// Rollback serves the most recent previous version again and drops the
// current one (closed after CloseDelay). It is immediate: nothing is
// fetched, compiled or attached. It returns ErrNoPrevious when the history
// is empty. Polls do not bring back the version rolled back from until the
// source changes; Reload does.
func (r *Reloader[T]) Rollback() error {
	r.swapMu.Lock()
	defer r.swapMu.Unlock()
	now := time.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	if len(r.history) == 0 {
		r.mu.Unlock()
		return fmt.Errorf("%w (serving %s)", ErrNoPrevious, r.current.p.revision)
	}
	prev := r.history[len(r.history)-1]
	r.history = r.history[:len(r.history)-1]
	prev.since = now
	old := r.current
	sw := Swap[T]{Old: old.p, New: prev.p, OldAttachment: old.att, NewAttachment: prev.att,
		OldVersion: old.info(), NewVersion: prev.info(), Rollback: true, Time: now}
	r.current = prev
	r.cur.Store(&prev)
	r.closeLater(old)
	r.counts.rollbacks++
	r.mu.Unlock()
	if r.opts.OnSwap != nil {
		r.opts.OnSwap(sw)
	}
	return nil
}

// closeLater closes v after CloseDelay. Called with mu held.
func (r *Reloader[T]) closeLater(v version[T]) {
	r.closing[v.p] = closingVersion[T]{v: v, timer: time.AfterFunc(r.opts.CloseDelay, func() {
		r.mu.Lock()
		_, mine := r.closing[v.p] // else Close took it
		delete(r.closing, v.p)
		r.mu.Unlock()
		if mine {
			v.close()
		}
	})}
}

// Status returns a snapshot of the Reloader's state. The *ReloadError
// values in it are shared and must not be modified.
func (r *Reloader[T]) Status() ReloadStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ReloadStatus{
		Source:      r.src.String(),
		Current:     r.current.info(),
		Previous:    make([]VersionInfo, 0, len(r.history)),
		LastCheck:   r.lastCheck,
		Refused:     r.refused,
		FetchError:  r.fetchErr,
		Reloads:     r.counts.reloads,
		Refusals:    r.counts.refusals,
		FetchErrors: r.counts.fetchErrors,
		Rollbacks:   r.counts.rollbacks,
	}
	for i := len(r.history) - 1; i >= 0; i-- {
		s.Previous = append(s.Previous, r.history[i].info())
	}
	return s
}

// Close stops further reloads and closes every version the Reloader holds,
// the current one and the attachments included, without waiting for
// CloseDelay: call it once nothing serves requests any more. Current keeps
// returning the last Policy, which still decides correctly (uncached).
// Close is idempotent and never fails. Run returns ErrClosed at its next
// poll; cancel its context to stop it at once.
func (r *Reloader[T]) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	vs := append([]version[T]{r.current}, r.history...)
	for _, c := range r.closing {
		c.timer.Stop()
		vs = append(vs, c.v)
	}
	clear(r.closing)
	r.mu.Unlock()
	for _, v := range vs {
		v.close()
	}
	return nil
}

// vetOptions configure vet.
type vetOptions struct {
	load         []LoadOption
	tests        TestOptions
	skipTests    bool
	requireTests bool
	probes       []*Input
	// validate is the caller's last check; its error fails at stage.
	validate func(context.Context, *Policy) error
	stage    Stage
}

// vetted is what vet got done: the policy, if it compiled, and the test
// report, if the tests ran.
type vetted struct {
	policy *Policy
	tests  *TestReport
}

// vet takes a fetched bundle through every check a version must pass
// before it is served: build (compile, prepare), data, tests, validate. It
// goes on past data problems to the tests, so one report lists both; a
// build error stops it. On failure the caller closes the returned policy.
func vet(ctx context.Context, name string, at time.Time, snap *snapshot, o vetOptions) (*vetted, *ReloadError) {
	v := &vetted{}
	if snap.err != nil {
		return v, newReloadError(name, StageLoad, "", at, snap.err, Problems(snap.err))
	}
	src := snap.src
	p, err := build(ctx, name, src, snap.readTime, o.load)
	if err != nil {
		return v, newReloadError(name, StageLoad, src.revision, at, err, Problems(err))
	}
	v.policy = p

	var (
		stage    Stage
		problems []Problem
		errs     []error
	)
	if dp := dataProblems(src.data, src.dataFiles); len(dp) > 0 {
		stage, problems = StageData, dp
		errs = append(errs, errors.New("data problems"))
	}
	if !o.skipTests {
		tp, err := vetTests(ctx, src, name, o, v)
		if len(tp) > 0 {
			if stage == "" {
				stage = StageTest
			}
			problems = append(problems, tp...)
			errs = append(errs, err)
		}
	}
	if !slices.ContainsFunc(problems, func(p Problem) bool { return p.Code == CodeTestBudget }) {
		dp, err := vetDecisions(ctx, p, src, o)
		if len(dp) > 0 {
			if stage == "" {
				stage = StageDecision
			}
			problems = append(problems, dp...)
			errs = append(errs, err)
		}
	}
	if len(problems) > 0 {
		return v, newReloadError(name, stage, src.revision, at, errors.Join(errs...), problems)
	}
	if o.validate != nil {
		if err := o.validate(ctx, p); err != nil {
			problems := Problems(err)
			for i := range problems {
				if problems[i].Code == CodeBundle {
					problems[i].Code = CodeRejected
				}
			}
			return v, newReloadError(name, o.stage, src.revision, at, err, problems)
		}
	}
	return v, nil
}

// errProbeBudget ends a probe run that went past TestOptions.Budget.
var errProbeBudget = errors.New("the probe inputs ran past their time budget")

// vetDecisions evaluates p on the built-in probes and o.probes, within
// the test budget and at the tests' CPU share, and lists the invalid
// decisions, with the error that sums them up.
func vetDecisions(ctx context.Context, p *Policy, src *source, o vetOptions) ([]Problem, error) {
	probes := append(Probes(p), o.probes...)
	if o.tests.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, o.tests.Budget, errProbeBudget)
		defer cancel()
	}
	ps, err := checkDecisions(ctx, p, probes, src.modules, o.tests.Share)
	switch {
	case errors.Is(err, errProbeBudget):
		return []Problem{{Code: CodeTestBudget, Message: fmt.Sprintf(
			"evaluating the policy on %d probe inputs ran past the budget of %s and was stopped", len(probes), o.tests.Budget)}}, err
	case err != nil:
		return []Problem{{Code: CodeInvalidDecision, Message: err.Error()}}, err
	case len(ps) > 0:
		return ps, fmt.Errorf("%w: %d problems over %d probe inputs", ErrInvalidDecision, len(ps), len(probes))
	}
	return nil, nil
}

// vetTests runs the bundle's tests and lists their problems, with the
// error that sums them up.
func vetTests(ctx context.Context, src *source, name string, o vetOptions, v *vetted) ([]Problem, error) {
	report, err := runTests(ctx, src, name, o.tests)
	if errors.Is(err, errTestBudget) {
		return []Problem{{Code: CodeTestBudget, Message: fmt.Sprintf("the tests ran past their budget of %s and were stopped", o.tests.Budget)}}, err
	}
	if err != nil {
		ps := Problems(err)
		for i := range ps {
			if ps[i].Code == CodeBundle {
				ps[i].Code = CodeTestError
			}
		}
		return ps, err
	}
	v.tests = &report
	ps := testProblems(report)
	if len(report.Results) == 0 && o.requireTests {
		ps = append(ps, Problem{Code: CodeNoTests, Message: "the bundle has no tests (test_* rules in *_test.rego files)"})
	}
	if len(ps) > 0 {
		return ps, fmt.Errorf("tests: %s", report)
	}
	return nil, nil
}
