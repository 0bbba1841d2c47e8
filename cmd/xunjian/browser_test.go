//go:build browser

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xunjian/xunjian/internal/testproc"
)

// The browser build tag runs these tests in a real Chromium (headless);
// scripts/test.sh sets it, and CI installs Debian's chromium.

// TestReadmeRunShowsAlertsInABrowser runs the README's first command
// (`xunjian serve`, no configuration: the gateway, its built-in broker and
// the console beside it), opens the console in Chromium, and sends
// customer threats to the gateway: each alert appears on the wall within a
// second, with the phone the customer typed masked in the conversation
// view, which opens from the keyboard.
func TestReadmeRunShowsAlertsInABrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the browser build tag needs chromium on PATH (apt-get install chromium)")
	}
	agent, admin, broker, consoleAddr := testproc.FreeAddr(t), testproc.FreeAddr(t), testproc.FreeAddr(t), testproc.FreeAddr(t)
	t.Setenv("XUNJIAN_LISTEN", agent)
	t.Setenv("XUNJIAN_ADMIN_LISTEN", admin)
	t.Setenv("XUNJIAN_EMBEDDED_BROKER", broker)
	t.Setenv("XUNJIAN_SPOOL_DIR", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testproc.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--console-listen", consoleAddr}, strings.NewReader(""), io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("serve logs:\n%s", logs.String())
		}
	})
	for _, u := range []string{"http://" + admin + "/readyz", "http://" + consoleAddr + "/readyz"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not ready:\n%s", u, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("lang", "en-US"), chromedp.WindowSize(1400, 900))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 90*time.Second)
	defer tcancel()
	console := "http://" + consoleAddr + "/?lang=en"
	if err := chromedp.Do(bctx, chromedp.Navigate(console), chromedp.WaitVisible(`table.alerts`)); err != nil {
		t.Fatalf("the wall did not show: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // the live stream is open

	rows := func() int {
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('tr[data-alert-id]').length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var took []time.Duration
	for i := range 5 {
		before := rows()
		body := fmt.Sprintf(`{"text":"再不给我退款我就去12315投诉你们，电话13812345678","role":"customer","conversation_id":"browser-%d"}`, i)
		start := time.Now()
		resp, err := http.Post("http://"+agent+"/v1/check", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for rows() <= before {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("alert %d not on the wall after 10s", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	sorted := append([]time.Duration(nil), took...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	t.Logf("draft to a row on the wall in the browser: %v (median %v)", took, sorted[len(sorted)/2])
	if sorted[len(sorted)/2] > time.Second {
		t.Errorf("median %v from the draft to the wall, want within a second", sorted[len(sorted)/2])
	}

	shot(t, bctx, "wall")

	// The keyboard: j selects the first alert, Enter opens its conversation,
	// where the customer's phone shows masked.
	if err := chromedp.Do(bctx, chromedp.KeyEvent("j"), chromedp.KeyEvent("\r"), chromedp.WaitVisible(`li.turn`)); err != nil {
		t.Fatalf("the conversation view: %v", err)
	}
	text, err := chromedp.Run(bctx, chromedp.Text(`li.turn`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "13812345678") || !strings.Contains(text, "12315") {
		t.Errorf("conversation turn %q: want the text with the phone masked", text)
	}
	shot(t, bctx, "conversation")
	location, _ := chromedp.Run(bctx, chromedp.Location())
	if !strings.Contains(location, "/conversations/browser-") {
		t.Errorf("Enter went to %s, want a conversation", location)
	}
	resp, err := http.Get("http://" + consoleAddr + "/api/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct{ Alerts []json.RawMessage }
	json.NewDecoder(resp.Body).Decode(&page)
	if len(page.Alerts) < 5 {
		t.Errorf("the API lists %d alerts, want at least 5", len(page.Alerts))
	}
}

// shot saves a screenshot of the page as NAME.png in the directory
// XUNJIAN_BROWSER_SHOTS names, when it is set: for a person to look at.
func shot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("XUNJIAN_BROWSER_SHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}
