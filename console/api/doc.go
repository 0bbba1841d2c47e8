// Package api is the HTTP API of `xunjian console`, the supervisors'
// console: the endpoints of docs/console.md (the contract the web UI is
// built against), the sign-in session, the live alert stream (Server-Sent
// Events) and the operations endpoints (/healthz, /readyz, /metrics).
//
// New builds a Handler from the `auth` section of the console's
// configuration (Config) and its collaborators (Options: the store, the
// Hub, the Prometheus registry, the readiness check, the web UI). The
// consumer of the gateway's alerts topic calls Hub.Publish for every new
// alert it stores; the Handler publishes the updates of the transitions it
// makes. The command serving it calls CheckListen first, and on shutdown
// Handler.Close (which ends the event streams) before http.Server.Shutdown
// (which would wait for them for ever).
//
// # Who may see what
//
// Every request is made by a principal with a tenant, a role and teams,
// all from its credential (an API key of Config.APIKeys, a JWT verified by
// the gateway's verifier, or the session cookie that one of them signed
// in), never from the request. The rules:
//
//   - The tenant is always the principal's: another tenant's alert,
//     conversation or agent is not found (404), never forbidden, so that
//     an id reveals nothing.
//   - An admin sees every team of its tenant, and the alerts of agents
//     without a team. A supervisor or an auditor sees the alerts of its
//     teams only; one with no team sees the alerts of agents without a
//     team only (store.NoTeam). An alert outside these is not found (404)
//     for reading and for transitions alike.
//   - The query parameter team narrows a list (alerts, counters) within
//     the principal's teams; naming a team that is not one of them is
//     forbidden (403), so that a filter cannot silently show less than
//     asked.
//   - Auditors read as supervisors do and never change an alert (403).
//   - A conversation is shown to a supervisor or an auditor when it raised
//     at least one alert they see: supervisors reach conversations from
//     their alerts, and an alert is stamped with its agent's team when it
//     is raised (store.SetAgentTeams), which is the one team fact the store
//     keeps per conversation. It is then shown whole, turns of agents of
//     other teams included (the supervisor needs the context), but the
//     alerts attached to its turns are those they see only. A conversation
//     that raised no alert they see is not found.
//   - An agent's sparkline counts, for a supervisor or an auditor, the
//     findings and alerts stamped with their teams only
//     (store.AgentStatsOfTeams): an agent of another team shows zero
//     buckets, exactly as an unknown agent does, so it reveals nothing.
//   - Dead letters belong to the operator, not to a tenant (the notifier's
//     ledger holds no tenant), so they are shown to the admins of
//     Config.OperatorTenant only (and in dev mode); with no operator
//     tenant configured nobody reads them through the API.
//   - The event stream carries to each client only the alerts its
//     principal may see, by the same rules.
//   - A principal of role agent (its credential names the agent) calls
//     GET /api/me and the quality audits only: every other endpoint, the
//     event stream included, is forbidden (403).
//
// # Quality audits
//
// With Options.QA the Handler serves /api/qa (docs/qa.md, which is the
// contract, decisions included): review tasks, reviews, disputes, the
// quota, precision and calibration reports, exports and the audit log.
// A task is seen by an admin, by a supervisor of its team, by the auditor
// it is assigned to (and, unassigned, by the auditors of its team), and by
// its agent; what one does not see is not found (404). The raw text of a
// sampled conversation is opened only for a principal with the decrypt
// permission (403 before anything is read otherwise), with the console's
// text key (QAOptions.TextKey), and only after the access is written to
// the audit log; no other answer and no log line holds raw text.
//
// # Credentials and sessions
//
// A request carries an API key (X-API-Key, or Authorization: Bearer), a
// JWT (Authorization: Bearer), or the session cookie; a header wins over
// the cookie. API keys carry their role and teams in the configuration; a
// JWT in its role and teams claims (auth.JWTConfig.RoleClaim, TeamsClaim).
// A JWT whose role is missing or unknown, or that has no "sub" (there
// would be no one to record as the actor of a transition), is forbidden
// (403): it is a valid token that grants nothing here.
//
// POST /api/session turns the header's credential into a session cookie:
// HttpOnly, SameSite=Strict, Path=/, Secure and named
// __Host-xunjian_session when Config.SecureCookie is set, xunjian_session
// otherwise. The cookie holds no secret: it is an HMAC-SHA256-signed token
// naming the principal and the expiry, 12 hours after sign-in and never
// after the exp of the JWT it came from. A session of an API key names the
// key by a fingerprint of its hash and takes the key's tenant, role and
// teams from the configuration at every request: once the key is removed
// from the configuration (and the console restarted), its sessions end
// (401). Sessions are stateless: DELETE /api/session clears the browser's
// cookie, and a copy of the cookie stays valid until it expires. The
// signing key is Config.SessionKey (or the variable SessionKeyEnv names);
// without one it is random per process, so sessions end with the process
// and are not shared by several consoles.
//
// A state-changing request (any method but GET, HEAD and OPTIONS)
// authenticated by the cookie must carry the header X-Xunjian-Console: 1,
// which a cross-site form cannot set; without it the request is forbidden
// (403).
//
// In dev mode (no API key and no JWT configured) every request is the
// admin of tenant "default" with subject "dev", and no session is issued.
// The console must then listen on loopback only (CheckListen), answers
// only requests whose Host is a loopback name (a DNS-rebinding page cannot
// reach it by a name of its own), and requires X-Xunjian-Console: 1 on
// state-changing requests (a page in the developer's browser cannot post a
// form to it).
//
// # Requests and answers
//
// Bodies are at most 64 KiB of UTF-8 JSON, decoded strictly: unknown
// fields, trailing data and invalid UTF-8 are 400 bad_request. Query
// parameters that are not valid UTF-8, or out of range (limit over 500, an
// unknown state or level), are 400 too. Every error is
// {"error": {"code", "message"}} with the status of its code (bad_request
// 400, unauthenticated 401, forbidden 403, not_found 404, conflict 409,
// invalid_transition 422, internal 500, and unavailable 503 for an event
// stream refused while the Hub is closed or full). A panic in a handler is
// recovered into a 500. Nothing logged holds a credential, a token or a
// cookie.
//
// Where docs/console.md is silent: POST /api/alerts/{id}/transition
// answers the alert itself (the same object as "alert" of GET
// /api/alerts/{id}), and a "to" other than acknowledged or resolved is a
// bad request (400), while a move the workflow refuses (resolved →
// acknowledged) is invalid_transition (422). POST /api/session answers
// the body of GET /api/me with "expires_at"; DELETE /api/session answers
// 204. GET /api/dead-letters answers {"dead_letters": [...]}. GET
// /api/counters takes team as GET /api/alerts does. A malformed alert id
// is a bad request (400). An unknown /api/ path, or a method a path does
// not serve, is not_found.
//
// # Event stream
//
// GET /api/stream opens a text/event-stream: first a retry: field (the
// reconnection delay), then event: alert and event: update, each with an
// Alert as data, and a ": ping" comment every 15 s. A client that falls
// too far behind (its buffer of HubConfig.Buffer events full) is dropped
// with a short retry: and a comment instead of slowing the publisher; its
// browser reconnects by itself, and the web UI must reload the wall on
// every (re)connection, since a stream does not replay what it missed. A
// stream ends when its session expires and when the Hub is closed.
package api
