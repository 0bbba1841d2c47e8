package inspect

import (
	"context"
	"time"
)

// inspectInto runs in.Inspect on *conv (the zero Conversation when conv is
// nil) and, on success, stores the next conversation in *conv: the way a
// caller keeps a conversation across messages, for tests that follow one.
func inspectInto(in *Inspector, ctx context.Context, req Request, conv *Conversation, now time.Time) (Verdict, error) {
	var c Conversation
	if conv != nil {
		c = *conv
	}
	v, next, err := in.Inspect(ctx, req, c, now)
	if err == nil && conv != nil {
		*conv = next
	}
	return v, err
}
