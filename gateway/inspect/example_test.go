package inspect_test

import (
	"context"
	"fmt"
	"time"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/rules"
)

// An Inspector runs one message through the normalizer, the detectors and
// the policy. Here an agent's draft writes out the customer's phone number:
// the built-in policy releases it masked.
func ExampleInspector_Inspect() {
	ctx := context.Background()
	p, err := rules.Load(ctx, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	in, err := inspect.New(p, inspect.Options{})
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
