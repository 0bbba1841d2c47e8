package gateway

import (
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
)

// eventRequest is the body of POST /v1/events.
type eventRequest struct {
	Type           string     `json:"type"` // message, assigned, transferred, closed
	ConversationID string     `json:"conversation_id"`
	Role           string     `json:"role"`
	Text           *string    `json:"text"`
	AgentID        string     `json:"agent_id"`
	TS             *time.Time `json:"ts"`
}

// serveEvent takes customer messages (observed, never held) and
// conversation events.
func (s *Server) serveEvent(ctx *fasthttp.RequestCtx, p auth.Principal, body []byte) string {
	var ev eventRequest
	if !s.decodeJSON(ctx, body, &ev) {
		return "none"
	}
	if ev.ConversationID == "" {
		writeError(ctx, errcode.InvalidField, "conversation_id: missing")
		return "none"
	}
	switch ev.Type {
	case "message", "":
		if ev.Text == nil {
			writeError(ctx, errcode.InvalidField, "text: missing")
			return "none"
		}
		role := ev.Role
		if role == "" {
			role = inspect.RoleCustomer
		}
		if !s.mayAct(ctx, p, auth.ForRole(role), role) {
			return "none"
		}
		v, ok := s.verdict(ctx, p, s.inspector(), message{text: *ev.Text, role: role, conversation: ev.ConversationID, agent: ev.AgentID})
		if !ok {
			return "none"
		}
		writeJSON(ctx, fasthttp.StatusAccepted, v)
		return v.Action.String()
	case "closed", "assigned", "transferred":
		if !s.mayAct(ctx, p, auth.ScopeLifecycle, ev.Type) {
			return "none"
		}
		if !s.lifecycle(ctx, p.Tenant, ev.ConversationID, ev.Type == "closed") {
			return "none"
		}
	default:
		writeError(ctx, errcode.InvalidField, fmt.Sprintf("type %q: want message, assigned, transferred or closed", ev.Type))
		return "none"
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]string{"status": "accepted"})
	return "none"
}
