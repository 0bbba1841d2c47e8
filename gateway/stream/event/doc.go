// Package event is the xunjian.event/v1 schema: the event the gateway
// emits for every inspected message, agent draft or customer message, as
// JSON, Kafka key = conversation_id (one conversation's events stay in
// order on one partition), Kafka headers "tenant" and "schema" (=
// SchemaID). The JSON Schema (draft 2020-12) is schema.json, returned by
// Schema; it sets additionalProperties false everywhere, so no raw text
// field can appear.
//
// The package holds the schema only: the event's types, their JSON
// encoding and the sealing of raw text. Its own Action, Severity, Finding,
// Reason and Alert types stand for the policy's and the detectors' (same
// names, same JSON), so that it imports nothing of the inspection
// pipeline and a plain consumer such as `xunjian tail` links no detector
// and no policy engine. The gateway builds events from its inspections
// where it publishes them, in package stream (stream.NewEvent), which
// checks the values this package cannot know and masks the text.
//
// Fields (required unless marked optional):
//
//   - event_id: UUIDv7, lower case; unique per event, consumers deduplicate
//     on it (delivery is at-least-once). It is also the additional data of
//     text_enc.
//   - ts: when the message was inspected, RFC 3339 with milliseconds.
//   - tenant: the tenant id (also the "tenant" header).
//   - conversation_id: the conversation (also the Kafka key).
//   - agent_id: the agent of the conversation.
//   - role: "agent" (a draft) or "customer" (an observed message).
//   - action: allow, warn, redact, confirm or block; always allow for
//     customer messages and fail-open releases.
//   - findings: what the detectors found, each {detector, kind, severity,
//     score, start, end, evidence, rule?, lexicon?} with the taxonomy names
//     of DESIGN.md; start/end are code-point offsets into the original
//     text; score is in [0, 1]; evidence is masked (see below).
//   - reasons: the policy's reasons for the action, each {rule, action,
//     message, finding?, suggestion?}; finding indexes findings.
//   - alerts: supervisor alerts, each {level, kind, message}; level is low,
//     medium, high or critical.
//   - policy_revision: the revision of the policy that decided.
//   - shadow: the would-be reasons of shadow rules (same shape as
//     reasons); they never changed the action. May be empty.
//   - latency_us: the inspection's latency in microseconds.
//   - sampled: the message belongs to the QA sample.
//   - agent_claimed (optional): agent_id was named by the request, not
//     established by the credential (a key that pins no agent): an
//     attribution to weigh, not a verified one.
//   - fail_open (optional): the policy could not decide and the tenant's
//     fail-open mode released the message, masked, on the detectors'
//     findings alone.
//   - degraded (optional): the gateway decided on state of its own
//     (conversation context, alert deduplication, sampling, limits)
//     because the state its gateways share (Redis) was unreachable and
//     shared_state.mode is degrade; absent when false.
//   - route (optional): the proxied route.
//   - text_enc (optional): the raw text sealed for auditors, {alg
//     "AES-256-GCM", key_id, nonce, ciphertext}, nonce (12 bytes) and
//     ciphertext (with the GCM tag) in standard base64, the event_id as
//     additional data. Present only when the gateway has an Encryptor (a
//     key from the environment); DecryptText opens it.
//   - text_masked (optional): the text with private data masked, as the
//     gateway masks it for the backend.
//   - risk (optional): the conversation's complaint risk after this
//     message, in [0, 1]; absent when zero.
//   - context (optional): on the alerts topic, the conversation's last few
//     turns, each {role, ts, text_masked, action?, delivered}, oldest
//     first, ending with this message, scrubbed like evidence. action is
//     the gateway's action on an agent draft (absent for a customer
//     message, never gated); delivered tells the turns the customer saw
//     from drafts blocked, held for an ack or not taken by the chat
//     backend (false), so a supervisor reads the conversation as the
//     customer had it. A customer message is always delivered.
//   - opinion (optional): the second opinion asked about a draft the
//     learned model scored in a grey zone, {verdict?, kinds?, reason?,
//     model?, mode, error?, latency_ms, applied}: verdict ok or harmful,
//     or error naming why there is none (timeout, busy, unavailable,
//     bad_answer, closed, canceled, error); mode shadow (recorded, never
//     the action) or enforce (applied: a harmful opinion held a draft
//     the policy released). reason is scrubbed like evidence.
//
// Raw text never appears in clear. It goes into text_enc or nowhere.
// Every text field of an event (text_masked, context[].text_masked,
// evidence, the messages and suggestions of reasons and shadow, alert
// messages) has its private data masked, then scrubbed with scrub.Text,
// before it is set: stream.NewEvent documents how.
//
// Marshal appends the JSON encoding to a caller's buffer (for the spool);
// Parse reads it back strictly.
package event
