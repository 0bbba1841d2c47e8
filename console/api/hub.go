package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xunjian/xunjian/console/store"
)

// The kinds of Hub.Publish, the event names of the stream.
const (
	// KindAlert announces a new alert (the consumer publishes it).
	KindAlert = "alert"
	// KindUpdate announces an alert after a transition.
	KindUpdate = "update"
)

// Defaults of zero HubConfig fields.
const (
	DefaultBuffer       = 256
	DefaultPing         = 15 * time.Second
	DefaultRetry        = 3 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultMaxClients   = 1000
)

// lagRetry is the reconnection delay told to a client dropped for falling
// behind: soon, but not at once.
const lagRetry = time.Second

// HubConfig tunes a Hub; its zero fields take the defaults.
type HubConfig struct {
	// Buffer is how many events may wait for one client; a client with
	// Buffer events waiting is dropped rather than made to slow the
	// publisher. Zero means DefaultBuffer.
	Buffer int
	// Ping is the interval of the ": ping" comment that keeps idle
	// streams open through proxies. Zero means DefaultPing.
	Ping time.Duration
	// Retry is the reconnection delay the stream tells browsers (its
	// retry: field). Zero means DefaultRetry.
	Retry time.Duration
	// WriteTimeout bounds each write to a client; a client that does not
	// take a write in time is disconnected. Zero means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxClients bounds the open streams; more are refused (503). Zero
	// means DefaultMaxClients.
	MaxClients int
}

// Hub fans alerts out to the open event streams (GET /api/stream), each
// client getting those its principal may see. Publish never blocks: a
// client too slow to keep up is dropped. It is safe for concurrent use.
type Hub struct {
	cfg HubConfig

	mu     sync.Mutex
	subs   map[*subscriber]struct{} // guarded by mu
	closed bool                     // guarded by mu

	dropped atomic.Uint64
}

// subscriber is one open stream.
type subscriber struct {
	p      principal
	events chan sseEvent
	// done is closed when the Hub ends the stream (the client lags, or
	// the Hub closes), after reason is set.
	done   chan struct{}
	reason string
}

// sseEvent is one event of a stream: its name and its data line.
type sseEvent struct {
	kind string
	data []byte
}

// Reasons the Hub ends a stream.
const (
	reasonLagging  = "too far behind: reconnect and reload"
	reasonShutdown = "shutting down"
)

var (
	errHubClosed = errors.New("api: hub closed")
	errHubFull   = errors.New("api: too many event streams")
)

// NewHub returns a Hub of cfg (its zero fields take the defaults).
func NewHub(cfg HubConfig) *Hub {
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.Ping <= 0 {
		cfg.Ping = DefaultPing
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	return &Hub{cfg: cfg, subs: map[*subscriber]struct{}{}}
}

// Publish sends a to every open stream whose principal may see it (its
// tenant, and its team unless an admin), as an event of kind: KindAlert
// for a new alert, KindUpdate for a changed one; any other kind is a
// programming error and panics. It never blocks: a client whose buffer is
// full is dropped. After Close it does nothing.
func (h *Hub) Publish(a store.Alert, kind string) {
	if kind != KindAlert && kind != KindUpdate {
		panic(fmt.Sprintf("api: Hub.Publish of kind %q (want KindAlert or KindUpdate)", kind))
	}
	data, err := json.Marshal(alertOf(a))
	if err != nil { // a float NaN in the risk; nothing to send
		return
	}
	ev := sseEvent{kind: kind, data: data}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if !s.p.sees(a.Tenant, a.Team) {
			continue
		}
		select {
		case s.events <- ev:
		default:
			h.end(s, reasonLagging)
			h.dropped.Add(1)
		}
	}
}

// end removes s and ends its stream for reason. h.mu must be held.
func (h *Hub) end(s *subscriber, reason string) {
	delete(h.subs, s)
	s.reason = reason
	close(s.done)
}

// Clients returns the number of open streams.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Dropped returns how many streams were dropped for falling behind.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Close ends every stream and refuses new ones (503), for a graceful
// shutdown: http.Server.Shutdown waits for open requests, and a stream
// would never end by itself. Publish does nothing afterwards. Close is
// idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.end(s, reasonShutdown)
	}
}

// subscribe opens a stream for p.
func (h *Hub) subscribe(p principal) (*subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, errHubClosed
	case len(h.subs) >= h.cfg.MaxClients:
		return nil, errHubFull
	}
	s := &subscriber{p: p, events: make(chan sseEvent, h.cfg.Buffer), done: make(chan struct{})}
	h.subs[s] = struct{}{}
	return s, nil
}

// unsubscribe forgets s, if the Hub has not ended it already.
func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

// serve streams s's events to w until the client goes, the Hub ends the
// stream, or the principal's credential expires (now is the clock).
func (h *Hub) serve(w http.ResponseWriter, r *http.Request, s *subscriber, now func() time.Time) {
	rc := http.NewResponseController(w)
	write := func(text string) error {
		// A deadline per write, so that a client that stopped reading is
		// let go (the server's WriteTimeout, if any, would cut every
		// stream at a fixed age instead).
		if err := rc.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
		return rc.Flush()
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if write(fmt.Sprintf("retry: %d\n\n", h.cfg.Retry.Milliseconds())) != nil {
		return
	}

	ping := time.NewTicker(h.cfg.Ping)
	defer ping.Stop()
	var expired <-chan time.Time
	if p := s.p; !p.expires.IsZero() {
		t := time.NewTimer(p.expires.Sub(now()))
		defer t.Stop()
		expired = t.C
	}
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			if s.reason == reasonLagging {
				write(fmt.Sprintf("retry: %d\n: %s\n\n", lagRetry.Milliseconds(), s.reason))
			} else {
				write(": " + s.reason + "\n\n")
			}
			return
		case <-expired:
			write(": session expired\n\n")
			return
		case ev := <-s.events:
			err = write("event: " + ev.kind + "\ndata: " + string(ev.data) + "\n\n")
		case <-ping.C:
			err = write(": ping\n\n")
		}
		if err != nil {
			return
		}
	}
}
