// Package event builds the event the gateway emits for every inspected
// message, agent draft or customer message: schema xunjian.event/v1, JSON,
// Kafka key = conversation_id (one conversation's events stay in order on
// one partition), Kafka headers "tenant" and "schema" (= SchemaID). The
// JSON Schema (draft 2020-12) is schema.json, returned by Schema; it sets
// additionalProperties false everywhere, so no raw text field can appear.
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
//   - fail_open (optional): inspection failed and the tenant's fail-open
//     mode released the message uninspected.
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
//     turns, each {role, ts, text_masked}, oldest first, ending with this
//     message, scrubbed like evidence.
//
// Raw text never appears in clear. It goes into text_enc or nowhere.
// Evidence comes from the verdict, where privacy detectors already mask it;
// New still passes every evidence, reason message, suggestion and alert
// message through Scrub, which stars digit runs longer than four and e-mail
// user parts, so a detector that forgot to mask (or a diversion finding
// quoting a phone number) cannot leak one.
//
// Marshal appends the JSON encoding to a caller's buffer (for the spool);
// Parse reads it back strictly.
package event
