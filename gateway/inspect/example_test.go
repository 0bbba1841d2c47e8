package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/rules"
)

// builtIn returns an Inspector of the built-in policy. Closing it leaves
// the policy open, which a program that loads one policy for its whole
// life does not mind.
func builtIn(ctx context.Context) (*inspect.Inspector, error) {
	p, err := rules.Load(ctx, "")
	if err != nil {
		return nil, err
	}
	return inspect.New(p, inspect.Options{})
}

// An Inspector runs one message through the normalizer, the detectors and
// the policy. Here an agent's draft writes out the customer's phone number:
// the built-in policy releases it masked.
func ExampleInspector_Inspect() {
	ctx := context.Background()
	in, err := builtIn(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer in.Close()

	// A conversation in, the verdict and the next conversation out: the
	// caller keeps conv for the conversation's next message.
	conv := inspect.Conversation{ID: "c-1"}
	v, conv, err := in.Inspect(ctx, inspect.Request{Text: "您的手机 138 1234 5678 已登记", Role: inspect.RoleAgent, ConversationID: "c-1"}, conv, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Action)
	fmt.Println(v.Redacted)
	for _, f := range v.Findings {
		fmt.Println(f.Detector+"."+f.Kind, f.Severity, f.Evidence)
	}
	fmt.Println(conv.Turns, conv.Recent[0].Text)
	// Output:
	// redact
	// 您的手机 138 **** 5678 已登记
	// privacy.phone medium 138 **** 5678
	// 1 您的手机 138 **** 5678 已登记
}

// A Session carries each message of a conversation through the pipeline:
// it keeps the conversation between messages (here in a MemStore), so the
// customer's complaint raises the risk the agent's next draft is judged
// with, and a refused message leaves the conversation as it was.
func ExampleSession() {
	ctx := context.Background()
	in, err := builtIn(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer in.Close()

	store := &inspect.MemStore{}
	// The gateway gives each message limits.inspect_timeout (50 ms); an
	// example on a busy machine gives it more.
	sess := &inspect.Session{Store: store, Timeout: 10 * time.Second}
	for _, m := range []inspect.Request{
		{Role: inspect.RoleCustomer, Text: "再不退款我就去12315投诉你们"},
		{Role: inspect.RoleAgent, Text: ""}, // refused: empty
		{Role: inspect.RoleAgent, Text: "你是不是傻，看不懂字吗"},
	} {
		m.ConversationID, m.TenantID = "c-1", "shop"
		v, err := sess.Inspect(ctx, in, inspect.Message{Request: m})
		if err != nil {
			fmt.Println("refused:", errors.Is(err, inspect.ErrInvalid))
			continue
		}
		fmt.Println(m.Role, v.Action)
	}
	conv, unlock, _ := store.Lock(ctx, "shop", "c-1")
	unlock(nil)
	fmt.Println("turns:", conv.Turns, "risk above 0:", conv.Risk > 0)
	// Output:
	// customer allow
	// refused: true
	// agent block
	// turns: 2 risk above 0: true
}
