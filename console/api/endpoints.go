package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/auth"
)

// me answers GET /api/me.
func (h *Handler) me(w http.ResponseWriter, _ *http.Request, p principal) error {
	writeJSON(w, http.StatusOK, p.me())
	return nil
}

// defaultStates is the state selection of GET /api/alerts without state.
var defaultStates = []store.State{store.StateNew, store.StateAcknowledged}

// listAlerts answers GET /api/alerts.
func (h *Handler) listAlerts(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	f := store.Filter{
		Tenant: p.tenant, AgentID: q.Get("agent"), Kind: q.Get("kind"), ConversationID: q.Get("conversation"),
		Cursor: q.Get("cursor"), States: defaultStates,
	}
	var err error
	if f.Teams, err = p.narrow(q.Get("team")); err != nil {
		return err
	}
	if s := q.Get("state"); s != "" {
		f.States = nil
		for name := range strings.SplitSeq(s, ",") {
			st := store.State(strings.TrimSpace(name))
			if !st.Valid() {
				return errBadRequest(fmt.Sprintf("state: %q is not new, acknowledged or resolved", name))
			}
			f.States = append(f.States, st)
		}
	}
	if s := q.Get("min_level"); s != "" {
		if f.MinLevel, err = store.ParseLevel(s); err != nil {
			return errBadRequest("min_level: want low, medium, high or critical")
		}
	}
	if s := q.Get("since"); s != "" {
		if f.Since, err = parseSince("since", s, h.now()); err != nil {
			return err
		}
	}
	if f.Limit, err = queryInt(q, "limit", store.DefaultLimit, 1, store.MaxLimit); err != nil {
		return err
	}
	alerts, next, err := h.store.ListAlerts(r.Context(), f)
	switch {
	case errors.Is(err, store.ErrMalformedCursor):
		return errBadRequest("cursor: not one this API returned")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Alerts []alertJSON `json:"alerts"`
		Next   string      `json:"next"`
	}{alertsOf(alerts), next})
	return nil
}

// alertID reads the {id} of an alert's path.
func alertID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errBadRequest("alert id: want a positive integer")
	}
	return id, nil
}

// visibleAlert returns the alert id if p may see it, else not_found: an
// alert of another tenant or team is not revealed to exist.
func (h *Handler) visibleAlert(r *http.Request, p principal, id int64) (store.Alert, error) {
	a, err := h.store.Alert(r.Context(), p.tenant, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !p.sees(a.Tenant, a.Team):
		return store.Alert{}, errNotFound(fmt.Sprintf("no alert %d", id))
	case err != nil:
		return store.Alert{}, err
	}
	return a, nil
}

// getAlert answers GET /api/alerts/{id}.
func (h *Handler) getAlert(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := alertID(r)
	if err != nil {
		return err
	}
	a, err := h.visibleAlert(r, p, id)
	if err != nil {
		return err
	}
	history, err := h.store.History(r.Context(), p.tenant, id)
	if err != nil {
		return err
	}
	changes := make([]changeJSON, len(history))
	for i, c := range history {
		changes[i] = changeJSON{Actor: c.Actor, At: c.At.UTC(), From: string(c.From), To: string(c.To), Assignee: c.Assignee, Note: c.Note}
	}
	writeJSON(w, http.StatusOK, struct {
		Alert   alertJSON    `json:"alert"`
		History []changeJSON `json:"history"`
	}{alertOf(a), changes})
	return nil
}

// transitionRequest is the body of POST /api/alerts/{id}/transition.
type transitionRequest struct {
	To       string `json:"to"`
	Assignee string `json:"assignee"`
	Note     string `json:"note"`
	Version  int64  `json:"version"`
}

// transition answers POST /api/alerts/{id}/transition, and publishes the
// changed alert to the event streams.
func (h *Handler) transition(w http.ResponseWriter, r *http.Request, p principal) error {
	if p.role == RoleAuditor {
		return errForbidden("auditors do not change alerts")
	}
	id, err := alertID(r)
	if err != nil {
		return err
	}
	var req transitionRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	to := store.State(req.To)
	switch {
	case to != store.StateAcknowledged && to != store.StateResolved:
		return errBadRequest("to: want acknowledged or resolved")
	case req.Version < 0:
		return errBadRequest("version: want the alert's version as read, or 0")
	}
	if err := validText("assignee", req.Assignee, maxAssignee, false); err != nil {
		return err
	}
	if err := validText("note", req.Note, MaxNote, true); err != nil {
		return err
	}
	// The team of an alert is fixed when it is raised, so the check holds
	// for the transition that follows.
	if _, err := h.visibleAlert(r, p, id); err != nil {
		h.metrics.transition(req.To, "not_found")
		return err
	}
	a, err := h.store.Transition(r.Context(), p.tenant, id, p.subject, to, req.Assignee, req.Note, req.Version)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.metrics.transition(req.To, "not_found")
		return errNotFound(fmt.Sprintf("no alert %d", id))
	case errors.Is(err, store.ErrConflict):
		h.metrics.transition(req.To, "conflict")
		return errConflict("the alert changed since you read it: read it again")
	case errors.Is(err, store.ErrInvalidTransition):
		h.metrics.transition(req.To, "invalid")
		return errInvalidTransition(fmt.Sprintf("an alert cannot go from its state to %s", to))
	case err != nil:
		h.metrics.transition(req.To, "error")
		return err
	}
	h.metrics.transition(req.To, "ok")
	h.hub.Publish(a, KindUpdate)
	writeJSON(w, http.StatusOK, alertOf(a))
	return nil
}

// conversation answers GET /api/conversations/{id}: for a supervisor or an
// auditor, only a conversation that raised an alert they see (see the
// package comment).
func (h *Handler) conversation(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if id == "" || len(id) > maxParam {
		return errBadRequest("conversation id: want 1 to 512 bytes")
	}
	notFound := errNotFound(fmt.Sprintf("no conversation %q", id))
	if p.restricted() {
		seen, _, err := h.store.ListAlerts(r.Context(), store.Filter{Tenant: p.tenant, Teams: p.teamFilter(), ConversationID: id, Limit: 1})
		if err != nil {
			return err
		}
		if len(seen) == 0 {
			return notFound
		}
	}
	c, err := h.store.Conversation(r.Context(), p.tenant, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, conversationOf(c, func(a store.Alert) bool { return p.sees(a.Tenant, a.Team) }))
	return nil
}

// Bounds of GET /api/agents/{id}/stats.
const (
	defaultStatsSince = 24 * time.Hour
	defaultBucket     = time.Hour
	minBucket         = time.Minute
)

// agentStats answers GET /api/agents/{id}/stats.
func (h *Handler) agentStats(w http.ResponseWriter, r *http.Request, p principal) error {
	agent := r.PathValue("id")
	if agent == "" || len(agent) > maxParam {
		return errBadRequest("agent id: want 1 to 512 bytes")
	}
	q, now := r.URL.Query(), h.now()
	since, bucket := now.Add(-defaultStatsSince), defaultBucket
	var err error
	if s := q.Get("since"); s != "" {
		if since, err = parseSince("since", s, now); err != nil {
			return err
		}
	}
	if s := q.Get("bucket"); s != "" {
		if bucket, err = time.ParseDuration(s); err != nil || bucket < minBucket {
			return errBadRequest(fmt.Sprintf("bucket: want a duration of at least %s", minBucket))
		}
	}
	if n := buckets(since, now, bucket); n > store.MaxBuckets {
		return errBadRequest(fmt.Sprintf("since and bucket make %d buckets, more than %d", n, store.MaxBuckets))
	}
	bs, err := h.store.AgentStatsOfTeams(r.Context(), p.tenant, p.teamFilter(), agent, since, bucket)
	if err != nil {
		return err
	}
	out := make([]bucketJSON, len(bs))
	for i, b := range bs {
		out[i] = bucketJSON{Start: b.Start.UTC(), Findings: b.Findings, Alerts: b.Alerts}
	}
	writeJSON(w, http.StatusOK, struct {
		Agent   string       `json:"agent"`
		Buckets []bucketJSON `json:"buckets"`
	}{agent, out})
	return nil
}

// buckets returns how many buckets of width bucket AgentStats returns
// from since to now.
func buckets(since, now time.Time, bucket time.Duration) int64 {
	w := bucket.Milliseconds()
	from, to := since.UnixMilli(), now.UnixMilli()
	first, last := from-from%w, to-to%w
	if last < first {
		return 1
	}
	return (last-first)/w + 1
}

// windows are the windows of GET /api/counters.
var windows = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour}

// counters answers GET /api/counters.
func (h *Handler) counters(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	window := q.Get("window")
	if window == "" {
		window = "1h"
	}
	d, ok := windows[window]
	if !ok {
		return errBadRequest("window: want 1h or 24h")
	}
	teams, err := p.narrow(q.Get("team"))
	if err != nil {
		return err
	}
	c, err := h.store.Counters(r.Context(), p.tenant, teams, h.now().Add(-d))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Window   string         `json:"window"`
		Alerts   map[string]int `json:"alerts"`
		Findings map[string]int `json:"findings"`
		Open     map[string]int `json:"open"`
	}{window, c.Alerts, c.Findings, c.Open})
	return nil
}

// deadLetters answers GET /api/dead-letters: the operator's admins only.
func (h *Handler) deadLetters(w http.ResponseWriter, r *http.Request, p principal) error {
	switch {
	case p.role != RoleAdmin:
		return errForbidden("dead letters are for admins")
	case !p.dev && (h.operator == "" || p.tenant != h.operator):
		return errForbidden("dead letters span every tenant: they are for the admins of the operator's tenant (auth.operator_tenant)")
	}
	limit, err := queryInt(r.URL.Query(), "limit", store.DefaultLimit, 1, store.MaxLimit)
	if err != nil {
		return err
	}
	dls, err := h.store.DeadLetters(r.Context(), limit)
	if err != nil {
		return err
	}
	out := make([]deadLetterJSON, len(dls))
	for i, d := range dls {
		out[i] = deadLetterJSON{ID: d.ID, Key: d.Key, Channel: d.Channel, Summary: d.Summary, Error: d.Error, CreatedAt: d.CreatedAt.UTC()}
	}
	writeJSON(w, http.StatusOK, struct {
		DeadLetters []deadLetterJSON `json:"dead_letters"`
	}{out})
	return nil
}

// stream answers GET /api/stream with the event stream of the
// principal's alerts.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request) error {
	p, err := h.principal(r)
	if err != nil {
		return err
	}
	if p.role == RoleAgent {
		return errForbidden("agents read the reviews of their conversations under /api/qa only")
	}
	sub, err := h.hub.subscribe(p)
	switch {
	case errors.Is(err, errHubClosed):
		return errUnavailable("the console is shutting down: reconnect")
	case errors.Is(err, errHubFull):
		return errUnavailable("too many event streams: retry later")
	case err != nil:
		return err
	}
	defer h.hub.unsubscribe(sub)
	h.hub.serve(w, r, sub, h.now)
	return nil
}

// sessionJSON is the body of POST /api/session.
type sessionJSON struct {
	meJSON
	ExpiresAt time.Time `json:"expires_at"`
}

// signIn answers POST /api/session: the credential of the request's
// headers becomes a session cookie.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) error {
	now := h.now()
	if h.authn.dev {
		// No session in dev mode: every request is the dev admin anyway.
		writeJSON(w, http.StatusOK, sessionJSON{meJSON: devPrincipal().me(), ExpiresAt: now.Add(SessionTTL).UTC()})
		return nil
	}
	if !hasHeader(r, auth.HeaderAPIKey) && !hasHeader(r, auth.HeaderAuthorization) {
		return errUnauthenticated("sign in with an API key or a token in Authorization: Bearer or X-API-Key")
	}
	p, err := h.authn.fromHeaders(r)
	if err != nil {
		return err
	}
	claims, exp := h.authn.signIn(p, now)
	if !now.Before(exp) {
		return errUnauthenticated("jwt: token expired")
	}
	tok, err := h.authn.sessions.sign(claims)
	if err != nil {
		return err
	}
	http.SetCookie(w, h.authn.sessions.cookie(tok, exp, now))
	writeJSON(w, http.StatusOK, sessionJSON{meJSON: p.me(), ExpiresAt: exp.UTC()})
	return nil
}

// signOut answers DELETE /api/session: the browser forgets its cookie.
// Made with the cookie, it needs X-Xunjian-Console: 1 as every
// state-changing request does.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) error {
	if _, err := r.Cookie(h.authn.sessions.name); err == nil && r.Header.Get(consoleHeader) != "1" {
		return errForbidden("signing out with the session cookie needs the header " + consoleHeader + ": 1")
	}
	http.SetCookie(w, h.authn.sessions.clear())
	w.WriteHeader(http.StatusNoContent)
	return nil
}
