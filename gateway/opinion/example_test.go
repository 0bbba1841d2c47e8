package opinion_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/opinion"
)

// A draft the learned model finds rude with a score of 0.62, in the grey
// zone, gets a second opinion. The caller asks with the text as the
// pipeline masked it, and goes on without an opinion on any error: the
// call never takes longer than its deadline. Here a local server stands
// in for the chat-completions endpoint.
func ExampleClient_Ask() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"model":"qwen-plus","choices":[{"message":{"role":"assistant",`+
			`"content":"{\"verdict\":\"harmful\",\"kinds\":[\"tone.rude\"],\"reason\":\"反问嘲讽顾客\"}"}}]}`)
	}))
	defer srv.Close()

	cfg := opinion.Config{
		Enabled:   true,
		BaseURL:   srv.URL + "/v1", // e.g. https://dashscope.aliyuncs.com/compatible-mode/v1
		Model:     "qwen-plus",
		APIKeyEnv: "DASHSCOPE_API_KEY",
		Tenants:   map[string]opinion.Mode{"acme": opinion.ModeEnforce},
	}
	getenv := func(string) string { return "sk-example" } // os.Getenv in the gateway
	client, err := opinion.New(cfg, getenv)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	// What the pipeline found, and the text as it masked it.
	findings := []detectors.Finding{{Detector: "tone", Kind: "rude", Score: 0.62, Rule: "model:381d9e7645f6b15b"}}
	masked := "这都看不懂吗？您的手机 138 **** 5678 已经登记了"
	if !client.ShouldAsk(findings, "acme") {
		return
	}
	op, err := client.Ask(context.Background(), opinion.Question{
		Text: masked, Lang: "zh", Role: "agent", Kinds: client.Suspects(findings), Tenant: "acme",
	})
	if err != nil {
		// Busy, timed out, unavailable, a bad answer: the draft goes on
		// as the policy decided, and the event says why there is no
		// opinion.
		fmt.Println("no opinion:", opinion.Code(err))
		return
	}
	fmt.Println(op.Verdict, op.Kinds, op.Reason, op.Mode)
	// Output:
	// harmful [tone.rude] 反问嘲讽顾客 enforce
}
