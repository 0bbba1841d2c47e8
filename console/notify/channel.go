package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sender posts deliveries to one chat channel, one type per platform.
// Send is called by the Dispatcher's workers, possibly concurrently, once
// per attempt; it must honour ctx (the attempt's deadline) and return nil
// only when the platform accepted the post.
type sender interface {
	// Name returns the channel's configured name.
	Name() string
	// Type returns the channel's type (TypeWebhook, TypeDingTalk, …).
	Type() string
	// Send makes one attempt to post d. Its error should be a *SendError,
	// which tells whether a later attempt may succeed; any other error is
	// taken as retryable.
	Send(ctx context.Context, d *Delivery) error
}

// Delivery is one notification, or one digest, for one channel: what is
// posted and what a dead letter records.
type Delivery struct {
	// Key is the idempotency key: Notification.Key for a notification,
	// Digest.Key for a digest.
	Key string
	// Channel is the channel's name.
	Channel string
	// Lang is the message's language, zh or en.
	Lang string
	// Notification is the notification, nil for a digest.
	Notification *Notification
	// Digest is the digest, nil for a notification.
	Digest *Digest
	// Attempts counts the attempts made, the last included.
	Attempts int
}

// SendError is a failed attempt. Its text holds the channel's name, the
// HTTP status and the platform's code and message, never a token, a
// secret, a URL with a token in it or the message's text.
type SendError struct {
	// Channel is the channel's name.
	Channel string
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// Code is the platform's error code (DingTalk's and WeCom's errcode,
	// Feishu's code), 0 when none.
	Code int
	// Msg is the platform's error message (or Slack's error string), cut
	// short and scrubbed of the channel's secrets.
	Msg string
	// Retryable reports that a later attempt may succeed.
	Retryable bool
	// RetryAfter is how long the platform asked to wait (Retry-After, or
	// the rate-limit window of a rate-limit code), 0 when it did not say.
	RetryAfter time.Duration
	// Err is the cause when there was no answer (a timeout, a refused
	// connection), scrubbed of the URL.
	Err error
}

// Error describes the failure: the channel, the status or the cause, the
// platform's code and message, the wait asked for.
func (e *SendError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "notify: channel %s: ", e.Channel)
	switch {
	case e.Status == 0 && e.Err != nil:
		b.WriteString(e.Err.Error())
	case e.Status != 0:
		fmt.Fprintf(&b, "status %d %s", e.Status, http.StatusText(e.Status))
	default:
		b.WriteString("failed")
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, ", code %d", e.Code)
	}
	if e.Msg != "" {
		fmt.Fprintf(&b, " (%s)", e.Msg)
	}
	if e.Status != 0 && e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %v", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *SendError) Unwrap() error { return e.Err }

// rateLimitWait is the wait after a platform's rate-limit code: the
// DingTalk, WeCom and Feishu robots count their limits per minute.
const rateLimitWait = time.Minute

// The channel types are senders, and MemLedger a Ledger.
var (
	_ sender = (*webhook)(nil)
	_ sender = (*dingTalk)(nil)
	_ sender = (*weCom)(nil)
	_ sender = (*feishu)(nil)
	_ sender = (*slack)(nil)
	_ Ledger = (*MemLedger)(nil)
)

// maxAnswer bounds the answer read: the platforms answer a few dozen
// bytes.
const maxAnswer = 64 << 10

// poster is what every HTTP channel shares: the client, the secrets to
// scrub from errors, the clock for timestamps and Retry-After dates, the
// renderer.
type poster struct {
	name, typ string
	hc        *http.Client
	secrets   []string
	clock     Clock
	r         *renderer
	maxTurns  int
	digestTop int
}

func (p *poster) Name() string { return p.name }
func (p *poster) Type() string { return p.typ }

// answer is a platform's answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// post POSTs body as JSON to target under ctx with hdr, and returns the
// answer, or a retryable *SendError when there is none.
func (p *poster) post(ctx context.Context, target string, body []byte, hdr http.Header) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, &SendError{Channel: p.name, Err: p.scrub(err)}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := p.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &SendError{Channel: p.name, Retryable: true, Err: p.scrub(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		// The post may have been taken; only the answer was lost. It is
		// retried, as a timeout would be: at least once.
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &SendError{Channel: p.name, Status: resp.StatusCode, Retryable: true, Err: p.scrub(fmt.Errorf("read the answer: %w", err))}
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// statusError returns the *SendError of an answer with a status other
// than 2xx: retryable for 408, 429 and 5xx, with the Retry-After of a 429
// or 503.
func (p *poster) statusError(a *answer) *SendError {
	e := &SendError{Channel: p.name, Status: a.status, Retryable: retryableStatus(a.status)}
	if a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(a.header.Get("Retry-After"), p.clock.Now())
	}
	return e
}

// retryableStatus reports whether an attempt answered with status may
// succeed later: 408, 429 and 5xx. A redirect is not followed (it could
// carry the message elsewhere) and is a failure like any other 4xx.
func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// retryAfter parses a Retry-After value, delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3), into a wait from now; 0 when absent, unparsable or
// past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// scrub returns err without the request's URL (which holds tokens) and
// with every secret of the channel replaced.
func (p *poster) scrub(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if r := p.redact(s); r != s {
		return errors.New(r)
	}
	return err
}

// redact returns s with every secret of the channel replaced by
// "[redacted]".
func (p *poster) redact(s string) string {
	for _, sec := range p.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// platformMsg returns a platform's error message fit for an error: on one
// line, short, scrubbed.
func (p *poster) platformMsg(s string) string { return cut(flatten(p.redact(s)), 120) }

// codeAnswer checks an answer carrying a code in its JSON body (DingTalk's
// and WeCom's errcode, Feishu's code): nil for a 2xx answer with code 0;
// else a *SendError, retryable when the status is, or the code is in
// retry (with RetryAfter rateLimitWait for a code in rateLimited). A 2xx
// answer without a readable code is a failure that is not retried: the
// post may have been taken.
func (p *poster) codeAnswer(a *answer, code func([]byte) (int, string, bool), retry, rateLimited map[int]bool) error {
	c, msg, ok := code(a.body)
	ok2xx := a.status >= 200 && a.status <= 299
	switch {
	case ok && c == 0 && ok2xx:
		return nil
	case ok && c != 0:
		e := &SendError{Channel: p.name, Code: c, Msg: p.platformMsg(msg), Retryable: retry[c] || retryableStatus(a.status)}
		if !ok2xx {
			e.Status = a.status
		}
		if rateLimited[c] {
			e.RetryAfter = rateLimitWait
		}
		if ra := retryAfter(a.header.Get("Retry-After"), p.clock.Now()); ra > 0 {
			e.RetryAfter = ra
		}
		return e
	case !ok2xx:
		return p.statusError(a)
	}
	return &SendError{Channel: p.name, Status: a.status, Msg: "answer without a readable code"}
}

// marshal encodes v as JSON without escaping <, > and & (the platforms
// read them as they are, and the lengths measured are the lengths sent).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode the message: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// view returns d laid out with at most n turns (or digest items).
func (p *poster) view(d *Delivery, n int) view {
	if d.Digest != nil {
		return p.r.digest(d.Digest, d.Lang, n)
	}
	return p.r.alert(d.Notification, d.Lang, n)
}

// most returns how many turns (or digest items) d may show at most.
func (p *poster) most(d *Delivery) int {
	if d.Digest != nil {
		return p.digestTop
	}
	return p.maxTurns
}

// fitText returns d rendered by render, with fewer turns (or items) until
// it is at most limit bytes, then cut to limit.
func (p *poster) fitText(d *Delivery, limit int, render func(view) string) string {
	s := fit(p.most(d), func(n int) string { return render(p.view(d, n)) }, func(s string) bool { return len(s) <= limit })
	return cutBytes(s, limit)
}
