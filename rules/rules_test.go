package rules

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// loadDefault loads the embedded default bundle or fails the test.
func loadDefault(t testing.TB) *Policy {
	t.Helper()
	p, err := Load(context.Background(), "")
	if err != nil {
		t.Fatalf("Load default: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func finding(detector, kind, severity string) Finding {
	return Finding{Detector: detector, Kind: kind, Severity: severity, Score: 0.9, Start: 0, End: 4, Evidence: "xxxx"}
}

func agentInput(findings ...Finding) *Input {
	return &Input{
		Draft:        Draft{Text: "hello", Normalized: "hello", Role: "agent", Lang: "zh"},
		Findings:     findings,
		Conversation: Conversation{ID: "c1", Turns: 3, Risk: 0.1, WaitSeconds: 5},
		Agent:        Agent{ID: "a1"},
		Tenant:       Tenant{ID: "t1"},
	}
}

// writeTarGz packs dir into a .tar.gz bundle at dst.
func writeTarGz(t *testing.T, dir, dst string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: "/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b))}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface{ Close() error }{tw, gz, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// copyDir copies the bundle at src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	tarball := filepath.Join(t.TempDir(), "bundle.tar.gz")
	writeTarGz(t, "bundle", tarball)

	wantModules := []string{"xunjian/alerts.rego", "xunjian/decision.rego"}
	for _, tc := range []struct {
		name string
		load func() (*Policy, error)
	}{
		{"dir", func() (*Policy, error) { return Load(ctx, "bundle") }},
		{"tar.gz", func() (*Policy, error) { return Load(ctx, tarball) }},
		{"embedded", func() (*Policy, error) { return Load(ctx, "") }},
		{"fs", func() (*Policy, error) { return LoadFS(ctx, os.DirFS("."), "bundle") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.load()
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Revision(); got != "default-1" {
				t.Errorf("Revision() = %q, want default-1", got)
			}
			if got := p.Modules(); strings.Join(got, ",") != strings.Join(wantModules, ",") {
				t.Errorf("Modules() = %v, want %v", got, wantModules)
			}
			x, _ := p.Data()["xunjian"].(map[string]any)
			if _, ok := x["lexicons"]; !ok {
				t.Errorf("Data() has no xunjian.lexicons: %v", p.Data())
			}
			cfg, _ := x["config"].(map[string]any)
			acts, _ := cfg["actions"].(map[string]any)
			if acts["tone.rude"] != "block" {
				t.Errorf("Data() xunjian.config.actions[tone.rude] = %v", acts["tone.rude"])
			}
			d, err := p.Decide(ctx, agentInput(finding("privacy", "credential", "high")))
			if err != nil || d.Action != Block {
				t.Errorf("Decide = %v, %v; want block", d.Action, err)
			}
			if d.Revision != "default-1" {
				t.Errorf("Decision.Revision = %q", d.Revision)
			}
			tm := p.Timings()
			if tm.Compile <= 0 || tm.Prepare <= 0 {
				t.Errorf("Timings() = %+v, want phases timed", tm)
			}
		})
	}
}

func TestDataIsACopy(t *testing.T) {
	p := loadDefault(t)
	p.Data()["xunjian"].(map[string]any)["config"] = nil
	if p.Data()["xunjian"].(map[string]any)["config"] == nil {
		t.Fatal("Data() returned the policy's own map")
	}
}

func TestRevisionHash(t *testing.T) {
	ctx := context.Background()
	p1, err := Load(ctx, "testdata/undefined")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{12}$`).MatchString(p1.Revision()) {
		t.Fatalf("Revision() = %q, want sha256:<12 hex>", p1.Revision())
	}
	p2, err := Load(ctx, "testdata/undefined")
	if err != nil {
		t.Fatal(err)
	}
	if p1.Revision() != p2.Revision() {
		t.Errorf("content hash not stable: %q vs %q", p1.Revision(), p2.Revision())
	}
	dir := copyDir(t, "testdata/undefined")
	f := filepath.Join(dir, "xunjian", "decision.rego")
	b, _ := os.ReadFile(f)
	os.WriteFile(f, append(b, "\n# changed\n"...), 0o644)
	p3, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if p3.Revision() == p1.Revision() {
		t.Errorf("content hash did not change with content: %q", p3.Revision())
	}
}

func TestDecideKinds(t *testing.T) {
	p := loadDefault(t)
	for _, tc := range []struct {
		kind     string
		severity string
		want     Action
		rule     string
		suggest  bool
	}{
		{"privacy.credential", "high", Block, "privacy.credential.block", false},
		{"privacy.id_card", "high", Redact, "privacy.id_card.redact", false},
		{"privacy.bank_card", "high", Redact, "privacy.bank_card.redact", false},
		{"privacy.passport", "high", Redact, "privacy.passport.redact", false},
		{"privacy.phone", "medium", Redact, "privacy.phone.redact", false},
		{"privacy.email", "medium", Redact, "privacy.email.redact", false},
		{"privacy.address", "medium", Redact, "privacy.address.redact", false},
		{"privacy.license_plate", "medium", Redact, "privacy.license_plate.redact", false},
		{"diversion.contact", "high", Block, "diversion.contact.block", true},
		{"diversion.payment", "high", Block, "diversion.payment.block", true},
		{"tone.rude", "medium", Block, "tone.rude.block", true},
		{"tone.profanity", "high", Block, "tone.profanity.block", true},
		{"tone.dismissive", "medium", Confirm, "tone.dismissive.confirm", false},
		{"tone.impatient", "low", Warn, "tone.impatient.warn", true},
		{"tone.impatient", "high", Confirm, "tone.impatient.confirm", true},
		{"commitment.guarantee", "medium", Confirm, "commitment.guarantee.confirm", false},
		{"commitment.compensation", "medium", Confirm, "commitment.compensation.confirm", false},
		{"commitment.compensation", "high", Block, "commitment.compensation.block", false},
		{"commitment.compensation", "critical", Block, "commitment.compensation.block", false},
		{"commitment.absolute_claim", "low", Warn, "commitment.absolute_claim.warn", false},
		{"link.external", "medium", Confirm, "link.external.confirm", false},
		{"privacy.credential", "info", Warn, "privacy.credential.warn", false},
		{"tone.rude", "info", Warn, "tone.rude.warn", true},
		{"complaint.escalation", "high", Allow, "", false},
		{"unknown.thing", "high", Allow, "", false},
	} {
		t.Run(tc.kind+"/"+tc.severity, func(t *testing.T) {
			det, kind, _ := strings.Cut(tc.kind, ".")
			d, err := p.Decide(context.Background(), agentInput(finding(det, kind, tc.severity)))
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != tc.want {
				t.Errorf("action = %v, want %v", d.Action, tc.want)
			}
			if tc.rule == "" {
				if len(d.Reasons) != 0 {
					t.Errorf("reasons = %+v, want none", d.Reasons)
				}
				return
			}
			if len(d.Reasons) != 1 {
				t.Fatalf("reasons = %+v, want one", d.Reasons)
			}
			r := d.Reasons[0]
			if r.Rule != tc.rule || r.Action != tc.want || r.Message == "" || r.Finding == nil || *r.Finding != 0 {
				t.Errorf("reason = %+v, want rule %s", r, tc.rule)
			}
			if (r.Suggestion != "") != tc.suggest {
				t.Errorf("suggestion = %q, want present=%v", r.Suggestion, tc.suggest)
			}
			if d.Sample != (tc.want == Block) {
				t.Errorf("sample = %v", d.Sample)
			}
		})
	}
}

func TestDecideScenarios(t *testing.T) {
	p := loadDefault(t)
	ctx := context.Background()

	t.Run("empty findings allow", func(t *testing.T) {
		d, err := p.Decide(ctx, agentInput())
		if err != nil {
			t.Fatal(err)
		}
		if d.Action != Allow || len(d.Reasons) != 0 || len(d.Alerts) != 0 || d.Sample {
			t.Errorf("decision = %+v, want bare allow", d)
		}
	})

	t.Run("zero input allow", func(t *testing.T) {
		d, err := p.Decide(ctx, &Input{})
		if err != nil || d.Action != Allow {
			t.Errorf("Decide(zero) = %+v, %v", d, err)
		}
	})

	t.Run("max over findings, finding index", func(t *testing.T) {
		d, err := p.Decide(ctx, agentInput(
			finding("tone", "impatient", "low"),
			finding("privacy", "phone", "medium"),
			finding("link", "external", "medium"),
		))
		if err != nil {
			t.Fatal(err)
		}
		if d.Action != Confirm || len(d.Reasons) != 3 {
			t.Fatalf("decision = %+v", d)
		}
		for i, r := range d.Reasons {
			if r.Finding == nil || *r.Finding != i {
				t.Errorf("reason %d finding = %v", i, r.Finding)
			}
		}
	})

	t.Run("customer always allow with alerts", func(t *testing.T) {
		in := agentInput(
			finding("tone", "profanity", "high"),
			finding("privacy", "phone", "medium"),
			finding("complaint", "escalation", "high"),
		)
		in.Draft.Role = "customer"
		d, err := p.Decide(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Action != Allow || len(d.Reasons) != 0 {
			t.Errorf("customer decision = %+v, want allow without reasons", d)
		}
		if len(d.Alerts) != 1 || d.Alerts[0].Level != "high" || d.Alerts[0].Kind != "complaint" || d.Alerts[0].Message == "" {
			t.Errorf("alerts = %+v", d.Alerts)
		}
		if !d.Sample {
			t.Error("high alert should sample")
		}
	})

	t.Run("risk and wait alerts", func(t *testing.T) {
		in := agentInput()
		in.Conversation.Risk = 0.85
		in.Conversation.WaitSeconds = 200
		in.Draft.Lang = "en"
		d, err := p.Decide(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]string{}
		for _, a := range d.Alerts {
			kinds[a.Kind] = a.Level
		}
		if kinds["risk"] != "high" || kinds["wait"] != "medium" || d.Action != Allow || !d.Sample {
			t.Errorf("decision = %+v", d)
		}
	})

	t.Run("english texts", func(t *testing.T) {
		in := agentInput(finding("diversion", "contact", "high"))
		in.Draft.Lang = "en"
		d, err := p.Decide(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Reasons[0].Suggestion != "Please keep talking with the customer in the platform chat" {
			t.Errorf("suggestion = %q", d.Reasons[0].Suggestion)
		}
		in.Draft.Lang = "zh"
		d, _ = p.Decide(ctx, in)
		if d.Reasons[0].Suggestion != "请通过平台内聊天与顾客沟通" {
			t.Errorf("suggestion = %q", d.Reasons[0].Suggestion)
		}
	})

	t.Run("json shape", func(t *testing.T) {
		d, _ := p.Decide(ctx, agentInput(finding("tone", "rude", "high")))
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"action":"block"`, `"rule":"tone.rude.block"`, `"finding":0`, `"policy_revision":"default-1"`, `"suggestion":`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("JSON %s lacks %s", b, want)
			}
		}
	})
}

func TestTenantOverride(t *testing.T) {
	dir := copyDir(t, "bundle")
	dataFile := filepath.Join(dir, "xunjian", "data.json")
	b, err := os.ReadFile(dataFile)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	data["tenants"] = map[string]any{
		"strict": map[string]any{
			"actions":    map[string]any{"tone.impatient": "block", "privacy.phone": "allow"},
			"thresholds": map[string]any{"wait": 30},
		},
	}
	b, _ = json.Marshal(data)
	os.WriteFile(dataFile, b, 0o644)

	p, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tenant string
		f      Finding
		wait   float64
		want   Action
		alerts int
	}{
		{"strict", finding("tone", "impatient", "low"), 0, Block, 0},
		{"other", finding("tone", "impatient", "low"), 0, Warn, 0},
		{"strict", finding("privacy", "phone", "medium"), 0, Allow, 0},
		{"other", finding("privacy", "phone", "medium"), 0, Redact, 0},
		{"strict", finding("link", "external", "medium"), 60, Confirm, 1},
		{"other", finding("link", "external", "medium"), 60, Confirm, 0},
	} {
		in := agentInput(tc.f)
		in.Tenant.ID = tc.tenant
		in.Conversation.WaitSeconds = tc.wait
		d, err := p.Decide(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Action != tc.want || len(d.Alerts) != tc.alerts {
			t.Errorf("tenant %s %s.%s: action %v alerts %d, want %v %d", tc.tenant, tc.f.Detector, tc.f.Kind, d.Action, len(d.Alerts), tc.want, tc.alerts)
		}
	}
}

func TestDecideConcurrent(t *testing.T) {
	p := loadDefault(t)
	kinds := [][3]string{
		{"privacy", "credential", "high"}, {"tone", "impatient", "low"},
		{"link", "external", "medium"}, {"privacy", "phone", "medium"},
	}
	want := []Action{Block, Warn, Confirm, Redact}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := (g + i) % len(kinds)
				d, err := p.Decide(context.Background(), agentInput(finding(kinds[k][0], kinds[k][1], kinds[k][2])))
				if err != nil {
					errs <- err
					return
				}
				if d.Action != want[k] {
					errs <- errors.New("wrong action " + d.Action.String() + " for " + kinds[k][1])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want []string // substrings of the error
	}{
		{"testdata/syntax", []string{
			"compile bundle testdata/syntax:",
			"xunjian/decision.rego:7: rego_parse_error",
			"xunjian/helpers.rego:4: rego_parse_error",
		}},
		{"testdata/type_error", []string{
			"compile bundle testdata/type_error:",
			"xunjian/decision.rego:5: rego_type_error",
			"count",
		}},
		{"testdata/no_decision", []string{
			"compile bundle testdata/no_decision:",
			"xunjian/decision.rego:1: rego_compile_error",
			`no rule "decision"`,
		}},
		{"testdata/does_not_exist", []string{"compile bundle testdata/does_not_exist:", "no such file"}},
	} {
		t.Run(filepath.Base(tc.dir), func(t *testing.T) {
			p, err := Load(context.Background(), tc.dir)
			if err == nil {
				t.Fatalf("Load(%s) = %v, want error", tc.dir, p)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestDecideErrors(t *testing.T) {
	ctx := context.Background()
	p, err := Load(ctx, "testdata/undefined")
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Decide(ctx, agentInput())
	if !errors.Is(err, ErrUndefined) {
		t.Errorf("Decide = %+v, %v; want ErrUndefined", d, err)
	}
	in := agentInput()
	in.Tenant.ID = "only-this-one"
	if d, err := p.Decide(ctx, in); err != nil || d.Action != Allow {
		t.Errorf("Decide(defined) = %+v, %v", d, err)
	}

	p, err = Load(ctx, "testdata/bad_action")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Decide(ctx, agentInput()); err == nil || !strings.Contains(err.Error(), `"explode"`) {
		t.Errorf("Decide(bad action) error = %v", err)
	}
}

func TestRunTests(t *testing.T) {
	ctx := context.Background()
	t.Run("default passes", func(t *testing.T) {
		r, err := RunTests(ctx, "bundle", TestOptions{Coverage: true})
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK() || r.Passed < 15 {
			t.Fatalf("report: %s\n%+v", r, r.Results)
		}
		if r.Coverage < 90 {
			t.Errorf("coverage = %.1f%%, want >= 90", r.Coverage)
		}
		if r.Revision != "default-1" {
			t.Errorf("revision = %q", r.Revision)
		}
	})
	t.Run("embedded with filter", func(t *testing.T) {
		r, err := RunTests(ctx, "", TestOptions{Run: "tenant"})
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK() || len(r.Results) != 4 { // the default bundle's four tests named for tenants
			t.Errorf("report: %s (%d results)", r, len(r.Results))
		}
	})
	t.Run("failure reported", func(t *testing.T) {
		r, err := RunTests(ctx, "testdata/failing_tests", TestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.OK() || r.Passed != 1 || r.Failed != 1 {
			t.Fatalf("report: %s", r)
		}
		var failed TestResult
		for _, res := range r.Results {
			if res.Fail {
				failed = res
			}
		}
		if failed.Name != "test_wrong_expectation" || failed.File != "xunjian/decision_test.rego" || failed.Line != 9 {
			t.Errorf("failed test = %+v", failed)
		}
		if !strings.Contains(r.String(), "FAIL: data.xunjian.decision_test.test_wrong_expectation") {
			t.Errorf("String() = %s", r)
		}
	})
	t.Run("broken bundle", func(t *testing.T) {
		_, err := RunTests(ctx, "testdata/syntax", TestOptions{})
		if err == nil || !strings.Contains(err.Error(), "decision.rego:7") {
			t.Errorf("RunTests(syntax) error = %v", err)
		}
	})
}

func TestAction(t *testing.T) {
	for i, name := range []string{"allow", "warn", "redact", "confirm", "block"} {
		a, err := ParseAction(name)
		if err != nil || a != Action(i) || a.String() != name {
			t.Errorf("ParseAction(%q) = %v, %v", name, a, err)
		}
		b, err := a.MarshalText()
		if err != nil || string(b) != name {
			t.Errorf("MarshalText(%v) = %s, %v", a, b, err)
		}
		var back Action
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Errorf("UnmarshalText(%s) = %v, %v", b, back, err)
		}
	}
	if !(Allow < Warn && Warn < Redact && Redact < Confirm && Confirm < Block) {
		t.Error("actions out of order")
	}
	if _, err := ParseAction("Block"); err == nil {
		t.Error("ParseAction is case-sensitive")
	}
	if _, err := Action(9).MarshalText(); err == nil || Action(9).String() != "Action(9)" {
		t.Error("out-of-range action")
	}
}

func TestWriteDefaultBundle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "b")
	if err := WriteDefaultBundle(dir); err != nil {
		t.Fatal(err)
	}
	p, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	def := loadDefault(t)
	if p.Revision() != def.Revision() || !slices.Equal(p.Modules(), def.Modules()) {
		t.Errorf("written bundle: revision %q modules %v, want the default's %q %v", p.Revision(), p.Modules(), def.Revision(), def.Modules())
	}
	if err := WriteDefaultBundle(dir); err == nil {
		t.Error("writing over an existing bundle succeeded")
	}
}

// TestAttachments: a bundle's model files (AttachmentExt) are held for the
// pipeline, not given to OPA, and count in the bundle's content hash, so a
// new model is a new version.
func TestAttachments(t *testing.T) {
	ctx := context.Background()
	dir, before := unversioned(t)
	if _, ok := before.Attachment("xunjian/tone.xjm"); ok {
		t.Fatal("an attachment the bundle does not have")
	}
	model := []byte("XJMODEL1 not read by OPA \x00\xff")
	if err := os.WriteFile(filepath.Join(dir, "xunjian", "tone.xjm"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(ctx, dir)
	if err != nil {
		t.Fatalf("a bundle with a model file: %v", err)
	}
	if got, ok := p.Attachment("xunjian/tone.xjm"); !ok || !bytes.Equal(got, model) {
		t.Errorf("Attachment = %q, %v; want the file", got, ok)
	}
	if p.Revision() == before.Revision() {
		t.Errorf("revision %s unchanged by a new model file", p.Revision())
	}
	tarball := filepath.Join(t.TempDir(), "b.tar.gz")
	writeTarGz(t, dir, tarball)
	if p, err = Load(ctx, tarball); err != nil {
		t.Fatal(err)
	}
	if got, ok := p.Attachment("xunjian/tone.xjm"); !ok || !bytes.Equal(got, model) {
		t.Errorf("from a .tar.gz: Attachment = %q, %v; want the file", got, ok)
	}
}

// TestStrayFilesNotInDigest: a file the bundle does not read (an editor's
// swap file, a deploy's temporary copy) does not change the content hash,
// so it cannot make a new version of the same policy.
func TestStrayFilesNotInDigest(t *testing.T) {
	ctx := context.Background()
	dir, before := unversioned(t)
	for _, name := range []string{"xunjian/decision.rego.tmp", "xunjian/.data.json.swp", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte("stray"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	after, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if after.Revision() != before.Revision() {
		t.Errorf("revision %s with stray files, %s without", after.Revision(), before.Revision())
	}
}

// unversioned copies the default bundle without its manifest, so that its
// revision is its content hash, and loads it.
func unversioned(t *testing.T) (string, *Policy) {
	t.Helper()
	dir := copyDir(t, "bundle")
	if err := os.Remove(filepath.Join(dir, ".manifest")); err != nil {
		t.Fatal(err)
	}
	p, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, p
}
