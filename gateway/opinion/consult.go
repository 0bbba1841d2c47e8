package opinion

import (
	"context"
	"time"

	"github.com/xunjian/xunjian/gateway/inspect"
)

// Consultant is a Client as the inspection Session asks it
// (inspect.SecondOpinion): it decides whether a message qualifies, asks,
// and turns the answer or the failure into an inspect.Opinion.
type Consultant struct {
	// Client asks; a Client that is not enabled never qualifies a message.
	Client *Client
	// OnAsk, when set, is called once per question asked with its tenant,
	// its mode and the result: the verdict, or the error's Code. For
	// metrics; it must not block.
	OnAsk func(tenant string, mode Mode, result string)
}

// Consult implements inspect.SecondOpinion: a message qualifies when its
// tenant's mode is not off and one of its findings is a grey-zone finding
// of the learned model (Client.ShouldAsk). The question carries the masked
// text only. The call is bounded by ctx and the Client's timeout; its
// failure is returned in Opinion.Error.
func (c Consultant) Consult(ctx context.Context, q *inspect.Consultation) (inspect.Opinion, bool) {
	if c.Client == nil || !c.Client.ShouldAsk(q.Findings, q.Tenant) {
		return inspect.Opinion{}, false
	}
	mode := c.Client.Mode(q.Tenant)
	start := time.Now()
	got, err := c.Client.Ask(ctx, Question{
		Text: q.Text, Lang: q.Lang, Role: q.Role, Kinds: c.Client.Suspects(q.Findings), Tenant: q.Tenant,
	})
	op := inspect.Opinion{Mode: string(mode), Model: c.Client.cfg.Model, Latency: time.Since(start)}
	result := Code(err)
	if err == nil {
		op.Verdict, op.Kinds, op.Reason = string(got.Verdict), got.Kinds, got.Reason
		if got.Model != "" {
			op.Model = got.Model
		}
		result = op.Verdict
	} else {
		op.Error = result
	}
	if c.OnAsk != nil {
		c.OnAsk(q.Tenant, mode, result)
	}
	return op, true
}
