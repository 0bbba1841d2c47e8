package gateway

import (
	"encoding/json"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/api"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/jsonkeys"
)

// checkRequest is the body of POST /v1/check.
type checkRequest struct {
	Text           *string    `json:"text"`
	Role           string     `json:"role"`
	ConversationID string     `json:"conversation_id"`
	AgentID        string     `json:"agent_id"`
	Ack            string     `json:"ack"`
	Context        []api.Turn `json:"context"`
}

func (s *Server) serveCheck(ctx *fasthttp.RequestCtx, p auth.Principal, body []byte) string {
	var req checkRequest
	if !s.decodeJSON(ctx, body, &req) {
		return "none"
	}
	if req.Text == nil {
		s.metrics.Rejected("bad_request")
		writeError(ctx, errcode.InvalidField, "text: missing")
		return "none"
	}
	if !s.mayAct(ctx, p, auth.ForRole(req.Role), req.Role) || !s.contextFits(ctx, req.Context) {
		return "none"
	}
	for _, t := range req.Context {
		if t.Role == inspect.RoleCustomer && !s.mayAct(ctx, p, auth.ScopeCustomer, "customer (in context)") {
			return "none"
		}
	}
	m := message{text: *req.Text, role: req.Role, conversation: req.ConversationID, agent: req.AgentID, ack: req.Ack, context: api.Context(req.Context)}
	v, ok := s.verdict(ctx, p, s.inspector(), m)
	if !ok {
		return "none"
	}
	writeJSON(ctx, fasthttp.StatusOK, v)
	return v.Action.String()
}

// decodeJSON decodes body into v, refusing malformed JSON and duplicate
// keys (exact or but for case); on false it has written the 400 reply.
func (s *Server) decodeJSON(ctx *fasthttp.RequestCtx, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		s.metrics.Rejected("bad_request")
		code, msg := errcode.JSON(err)
		writeError(ctx, code, msg)
		return false
	}
	if err := jsonkeys.Check(body); err != nil {
		s.metrics.Rejected("bad_request")
		writeError(ctx, errcode.DuplicateKey, err.Error()+": a key may appear once per object, whatever its case")
		return false
	}
	return true
}
