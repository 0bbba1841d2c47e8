// Package errcode is the one table of the error codes the gateway answers
// with: on the agent port, on the admin port and in the error objects of
// `xunjian check --jsonl`. A client branches on the code, never on the
// message (which is for people and may change).
//
// Every error reply has the shape {"error": {"code": "...", "message": "..."}}
// and the status Code.Status gives. A Code is a small integer, not a string,
// so that a code outside the table does not compile.
package errcode

import "fmt"

// Code is one error code of the contract.
type Code uint8

// The codes, in the order of their statuses. The README and the OpenAPI
// document list the same table; tests hold the three together.
const (
	_ Code = iota
	// BadRequest is an HTTP request that could not be parsed at all.
	BadRequest
	// InvalidJSON is a body (or a JSONL line) that is not JSON.
	InvalidJSON
	// InvalidUTF8 is a body (or a JSONL line) that is not valid UTF-8.
	InvalidUTF8
	// InvalidField is a field that is missing, of the wrong type or holds a
	// value the contract does not allow; the message names the field.
	InvalidField
	// DuplicateKey is a JSON object with a key twice (or twice but for
	// case): one copy would be inspected and the other acted on.
	DuplicateKey
	// QueryNotAllowed is a query parameter a proxy route does not declare.
	QueryNotAllowed
	// NoCredential is a request with no credential at all.
	NoCredential
	// Unauthorized is a credential that is not valid.
	Unauthorized
	// RoleForbidden is a message on behalf of a role the credential or the
	// route may not speak as.
	RoleForbidden
	// LifecycleForbidden is a conversation event from a credential without
	// the lifecycle scope.
	LifecycleForbidden
	// AckInvalid is an ack token that is not one the gateways issued.
	AckInvalid
	// AckUsed is an ack token already redeemed.
	AckUsed
	// AckExpired is an ack token past its lifetime.
	AckExpired
	// AckMismatch is an ack token issued for another message or conversation.
	AckMismatch
	// NotFound is a path no route serves.
	NotFound
	// MethodNotAllowed is a method the path does not serve.
	MethodNotAllowed
	// RequestTimeout is a connection that sent no whole request in time.
	RequestTimeout
	// NoPreviousPolicy is a rollback with no earlier policy version.
	NoPreviousPolicy
	// BodyTooLarge is a body (or JSONL line) over the size limit.
	BodyTooLarge
	// ContextTooLarge is inline context over limits.max_context_*.
	ContextTooLarge
	// UnsupportedMediaType is a proxy body whose Content-Type the route
	// does not accept.
	UnsupportedMediaType
	// UnsupportedEncoding is a compressed proxy body (Content-Encoding).
	UnsupportedEncoding
	// PolicyRefused is a policy reload refused: the candidate does not
	// compile, fails its tests or its probes; the reply lists the problems.
	PolicyRefused
	// RateLimited is an agent or credential over its rate.
	RateLimited
	// HeadersTooLarge is a header block over limits.max_header_bytes.
	HeadersTooLarge
	// Internal is a fault of the gateway; the message carries an id that is
	// in the log.
	Internal
	// ReloadFailed is a policy reload that could not read its source.
	ReloadFailed
	// RollbackFailed is a rollback that could not be applied.
	RollbackFailed
	// UpstreamUnavailable is a chat backend that could not be reached; the
	// message was not sent.
	UpstreamUnavailable
	// DeliveryUnknown is a chat backend that received the message but did
	// not answer: it may have been delivered.
	DeliveryUnknown
	// Overloaded is a gateway at capacity; the message was not inspected
	// nor sent (Retry-After).
	Overloaded
	// EventsUnavailable is a message that could not be recorded for audit
	// and was held (Retry-After).
	EventsUnavailable
	// InspectionFailed is a message the policy could not decide and the
	// tenant's fail mode held.
	InspectionFailed
	// StateUnavailable is a message held because the state the gateways
	// share could not be reached in time and shared_state.mode is
	// fail_closed (Retry-After).
	StateUnavailable
	// UpstreamTimeout is a chat backend that did not accept the message in
	// time; it was not sent.
	UpstreamTimeout
	numCodes
)

type entry struct {
	name     string
	statuses []int // the first is the usual one
	ports    string
	summary  string
}

// table is read-only: indexed by Code.
var table = [numCodes]entry{
	BadRequest:           {"bad_request", []int{400}, "agent, admin", "The HTTP request could not be parsed."},
	InvalidJSON:          {"invalid_json", []int{400}, "agent, jsonl", "The body (JSONL: the line) is not JSON."},
	InvalidUTF8:          {"invalid_utf8", []int{400}, "agent, jsonl", "The body (JSONL: the line) is not valid UTF-8."},
	InvalidField:         {"invalid_field", []int{400}, "agent, jsonl", "A field is missing, of the wrong type or not allowed; the message names it."},
	DuplicateKey:         {"duplicate_key", []int{400}, "agent, jsonl", "A JSON key appears twice in one object (also twice but for case)."},
	QueryNotAllowed:      {"query_not_allowed", []int{400}, "agent", "A query parameter the proxy route does not declare."},
	NoCredential:         {"no_credential", []int{401}, "agent, admin", "No credential was sent."},
	Unauthorized:         {"unauthorized", []int{401}, "agent, admin", "The credential is not valid."},
	RoleForbidden:        {"role_forbidden", []int{403}, "agent", "The credential or the route may not send messages as this role."},
	LifecycleForbidden:   {"lifecycle_forbidden", []int{403}, "agent", "Conversation events need a credential with the lifecycle scope."},
	AckInvalid:           {"ack_invalid", []int{403}, "agent", "The ack token was not issued by these gateways."},
	AckUsed:              {"ack_used", []int{403}, "agent", "The ack token was already used."},
	AckExpired:           {"ack_expired", []int{403}, "agent", "The ack token expired; send the draft again for a new one."},
	AckMismatch:          {"ack_mismatch", []int{403}, "agent", "The ack token was issued for another message or conversation."},
	NotFound:             {"not_found", []int{404}, "agent, admin", "No route for this method and path."},
	MethodNotAllowed:     {"method_not_allowed", []int{405}, "agent, admin", "The path does not serve this method."},
	RequestTimeout:       {"request_timeout", []int{408}, "agent, admin", "No complete request within the read timeout."},
	NoPreviousPolicy:     {"no_previous_policy", []int{409}, "admin", "There is no earlier policy version to roll back to."},
	BodyTooLarge:         {"body_too_large", []int{413}, "agent, admin, jsonl", "The body (JSONL: the line) is over the size limit."},
	ContextTooLarge:      {"context_too_large", []int{413}, "agent", "The inline context is over limits.max_context_turns or max_context_bytes."},
	UnsupportedMediaType: {"unsupported_media_type", []int{415}, "agent", "The proxy route does not accept this Content-Type."},
	UnsupportedEncoding:  {"unsupported_encoding", []int{415}, "agent", "The body is compressed (Content-Encoding); send it uncompressed."},
	PolicyRefused:        {"policy_refused", []int{422}, "admin", "The candidate policy was refused; `stage` and `problems` say why. The old one stays."},
	RateLimited:          {"rate_limited", []int{429}, "agent", "The agent or credential is over its rate; see Retry-After."},
	HeadersTooLarge:      {"headers_too_large", []int{431}, "agent, admin", "The request headers are over limits.max_header_bytes."},
	Internal:             {"internal", []int{500}, "agent, admin", "A fault of the gateway; the message carries an id that is in the log."},
	ReloadFailed:         {"reload_failed", []int{500}, "admin", "The policy source could not be read; the old policy stays."},
	RollbackFailed:       {"rollback_failed", []int{500}, "admin", "The rollback could not be applied; the policy in force stays."},
	UpstreamUnavailable:  {"upstream_unavailable", []int{502}, "agent", "The chat backend could not be reached; the message was not sent."},
	DeliveryUnknown:      {"delivery_unknown", []int{502, 504}, "agent", "The chat backend received the message but did not answer: check before sending again."},
	Overloaded:           {"overloaded", []int{503}, "agent", "The gateway is at capacity; the message was neither inspected nor sent. Retry-After."},
	EventsUnavailable:    {"events_unavailable", []int{503}, "agent", "The message could not be recorded for audit and was held. Retry-After."},
	InspectionFailed:     {"inspection_failed", []int{503}, "agent", "The policy could not decide in time and the tenant's fail mode held the message."},
	StateUnavailable:     {"state_unavailable", []int{503}, "agent", "The state the gateways share (Redis) could not be reached in time and shared_state.mode is fail_closed; the message was held. Retry-After."},
	UpstreamTimeout:      {"upstream_timeout", []int{504}, "agent", "The chat backend did not accept the message in time; it was not sent."},
}

// String returns the code as it appears on the wire, e.g. "invalid_json".
func (c Code) String() string {
	if c == 0 || c >= numCodes {
		return fmt.Sprintf("errcode(%d)", uint8(c))
	}
	return table[c].name
}

// Status returns the HTTP status the code is usually answered with.
func (c Code) Status() int {
	if c == 0 || c >= numCodes {
		return 500
	}
	return table[c].statuses[0]
}

// Statuses returns every HTTP status the code may be answered with (most
// have one; delivery_unknown is 502 or 504 as the backend failed). The
// slice is a copy.
func (c Code) Statuses() []int {
	if c == 0 || c >= numCodes {
		return nil
	}
	return append([]int(nil), table[c].statuses...)
}

// Allows reports whether status is one the code may be answered with.
func (c Code) Allows(status int) bool {
	if c == 0 || c >= numCodes {
		return false
	}
	for _, s := range table[c].statuses {
		if s == status {
			return true
		}
	}
	return false
}

// Where says where the code can appear: "agent", "admin" (the ports) and
// "jsonl" (error objects of check --jsonl), comma separated.
func (c Code) Where() string {
	if c == 0 || c >= numCodes {
		return ""
	}
	return table[c].ports
}

// Summary is one sentence on what the code means and what the client does.
func (c Code) Summary() string {
	if c == 0 || c >= numCodes {
		return ""
	}
	return table[c].summary
}

// All returns every code, in table order.
func All() []Code {
	out := make([]Code, 0, numCodes-1)
	for c := Code(1); c < numCodes; c++ {
		out = append(out, c)
	}
	return out
}

// Parse returns the code named name, as String spells it.
func Parse(name string) (Code, bool) {
	for c := Code(1); c < numCodes; c++ {
		if table[c].name == name {
			return c, true
		}
	}
	return 0, false
}

// MarkdownTable renders the table as the README lists it: code, statuses,
// where, meaning.
func MarkdownTable() string {
	b := []byte("| code | status | where | meaning |\n|---|---|---|---|\n")
	for _, c := range All() {
		e := table[c]
		st := ""
		for i, s := range e.statuses {
			if i > 0 {
				st += ", "
			}
			st += fmt.Sprint(s)
		}
		b = fmt.Appendf(b, "| `%s` | %s | %s | %s |\n", e.name, st, e.ports, e.summary)
	}
	return string(b)
}
