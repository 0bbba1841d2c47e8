package rules_test

import (
	"context"
	"fmt"

	"github.com/xunjian/xunjian/rules"
)

// Load the built-in policy and decide on an agent draft in which the
// detectors found a WeChat handle: the policy stops it and says why.
func ExampleLoad() {
	ctx := context.Background()
	p, err := rules.Load(ctx, "") // "" is the embedded default bundle
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	d, err := p.Decide(ctx, &rules.Input{
		Draft: rules.Draft{Text: "加我微信 wxid_abc123", Normalized: "加我微信 wxid_abc123", Role: "agent", Lang: "zh"},
		Findings: []rules.Finding{{Detector: "diversion", Kind: "contact", Severity: "high", Score: 0.95,
			Start: 0, End: 16, Evidence: "加我微信 wxid_a******"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Action)
	for _, r := range d.Reasons {
		fmt.Println(r.Rule, r.Action)
	}
	// Output:
	// block
	// diversion.contact.block block
}
