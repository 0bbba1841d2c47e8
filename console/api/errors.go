package api

import (
	"encoding/json"
	"net/http"
)

// The error codes of docs/console.md, and the status each answers with.
const (
	CodeBadRequest        = "bad_request"        // 400
	CodeUnauthenticated   = "unauthenticated"    // 401
	CodeForbidden         = "forbidden"          // 403
	CodeNotFound          = "not_found"          // 404
	CodeConflict          = "conflict"           // 409
	CodeInvalidTransition = "invalid_transition" // 422
	CodeInternal          = "internal"           // 500
	// CodeUnavailable (503) refuses an event stream while the Hub is
	// closed (shutting down) or full.
	CodeUnavailable = "unavailable"
)

// apiError is an error answered to the client as it is: its message is
// meant for the client and holds nothing secret. Any other error a
// handler returns is logged and answered as internal.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// The apiErrors of each code, with msg as their message.

func errBadRequest(msg string) *apiError {
	return &apiError{http.StatusBadRequest, CodeBadRequest, msg}
}
func errUnauthenticated(msg string) *apiError {
	return &apiError{http.StatusUnauthorized, CodeUnauthenticated, msg}
}
func errForbidden(msg string) *apiError { return &apiError{http.StatusForbidden, CodeForbidden, msg} }
func errNotFound(msg string) *apiError  { return &apiError{http.StatusNotFound, CodeNotFound, msg} }
func errConflict(msg string) *apiError  { return &apiError{http.StatusConflict, CodeConflict, msg} }
func errInvalidTransition(msg string) *apiError {
	return &apiError{http.StatusUnprocessableEntity, CodeInvalidTransition, msg}
}
func errUnavailable(msg string) *apiError {
	return &apiError{http.StatusServiceUnavailable, CodeUnavailable, msg}
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers e.
func writeError(w http.ResponseWriter, e *apiError) {
	var b errorBody
	b.Error.Code, b.Error.Message = e.code, e.message
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="xunjian-console"`)
	}
	writeJSON(w, e.status, &b)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encode reply"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
