package gateway

import (
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/errcode"
)

// unauthorized answers a request whose credential err refused: 401 with
// the challenge (RFC 9110 section 11.6.1), no_credential when there was
// none.
func (s *Server) unauthorized(ctx *fasthttp.RequestCtx, err error) {
	s.metrics.Rejected("auth")
	code := errcode.Unauthorized
	if errors.Is(err, auth.ErrNoCredential) {
		code = errcode.NoCredential
	}
	ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="xunjian"`)
	writeError(ctx, code, err.Error())
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers with the JSON error shape of the contract,
// {"error": {"code", "message"}}, and the code's status.
func writeError(ctx *fasthttp.RequestCtx, code errcode.Code, msg string) {
	writeErrorStatus(ctx, code.Status(), code, msg)
}

// writeErrorStatus is writeError with a status of the code's other ones
// (delivery_unknown answers 502 or 504 as the backend failed).
func writeErrorStatus(ctx *fasthttp.RequestCtx, status int, code errcode.Code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code.String(), msg
	writeJSON(ctx, status, &b)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.Response.Header.SetContentType("application/json; charset=utf-8")
	ctx.SetStatusCode(status)
	enc := json.NewEncoder(ctx)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		ctx.ResetBody()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetBodyString(`{"error":{"code":"` + errcode.Internal.String() + `","message":"encode reply"}}`)
	}
}
