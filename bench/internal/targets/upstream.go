package targets

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Upstream is the stand-in chat backend: it accepts POSTed messages and
// answers like a chat service's send API, 200 with
// {"message_id", "status": "sent", "ts"}. A body without a "text" field
// gets 400, so a proxy that loses the body shows up as errors. It is safe
// for concurrent use.
type Upstream struct {
	seq atomic.Uint64
}

// NewUpstream returns an Upstream.
func NewUpstream() *Upstream { return &Upstream{} }

var textField = []byte(`"text"`)

// Handle serves one request.
func (u *Upstream) Handle(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.SetContentType("application/json")
	if !ctx.IsPost() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetBodyString(`{"error":{"code":"method_not_allowed","message":"use POST"}}`)
		return
	}
	if !bytes.Contains(ctx.PostBody(), textField) {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(`{"error":{"code":"invalid_field","message":"message text missing"}}`)
		return
	}
	var buf [96]byte
	b := append(buf[:0], `{"message_id":"m-`...)
	b = strconv.AppendUint(b, u.seq.Add(1), 10)
	b = append(b, `","status":"sent","ts":`...)
	b = strconv.AppendInt(b, time.Now().UnixMilli(), 10)
	b = append(b, '}')
	ctx.SetBody(b)
}
