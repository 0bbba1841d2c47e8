package rules

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		path string
		opts CheckOptions
		want []string // Problem.String() substrings, in order; none: OK
	}{
		{path: "bundle"},
		{path: ""},
		{path: "testdata/reload/v1"},
		{path: "testdata/reload/broken", want: []string{"xunjian/decision.rego:7: rego_type_error: count"}},
		{path: "testdata/syntax", want: []string{"xunjian/decision.rego:7: rego_parse_error", "xunjian/helpers.rego:4: rego_parse_error"}},
		{path: "testdata/reload/failing", want: []string{"xunjian/decision_test.rego:5: test_failed: data.xunjian_test.test_finding_warns failed"}},
		{path: "testdata/reload/failing", opts: CheckOptions{SkipTests: true}},
		{path: "testdata/reload/baddata", want: []string{
			`xunjian/data.json: data_error: data.xunjian.config.actions["tone.rude"]: "blok" is not an action`,
			`severity_actions.urgent: "urgent" is not a severity`,
			`data.xunjian.tenants.acme.actions["link.external"]: want an action name`,
			"xunjian/decision_test.rego:5: test_failed",
		}},
		{path: "testdata/undefined"},
		{path: "testdata/undefined", opts: CheckOptions{RequireTests: true}, want: []string{"no_tests: "}},
		{path: "testdata/no_decision", want: []string{`xunjian/decision.rego:1: rego_compile_error: package xunjian defines no rule "decision"`}},
		{path: "testdata/does_not_exist", want: []string{"bundle_error: bundle testdata/does_not_exist:", "no such file"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r, err := Check(ctx, tc.path, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() != (len(tc.want) == 0) {
				t.Fatalf("OK() = %v, problems %v", r.OK(), r.Problems)
			}
			var all []string
			for _, p := range r.Problems {
				all = append(all, p.String())
			}
			text := strings.Join(all, "\n")
			at := 0
			for _, w := range tc.want {
				i := strings.Index(text[at:], w)
				if i < 0 {
					t.Errorf("problems lack %q (in order):\n%s", w, text)
					break
				}
				at += i + len(w)
			}
			if len(tc.want) == 0 && (r.Revision == "" || len(r.Modules) == 0 || r.Cache == nil) {
				t.Errorf("report %+v", r)
			}
		})
	}
	tarball := filepath.Join(t.TempDir(), "b.tar.gz")
	writeTarGz(t, "testdata/reload/broken", tarball)
	r, _ := Check(ctx, tarball, CheckOptions{})
	if len(r.Problems) != 1 || r.Problems[0].File != "xunjian/decision.rego" || r.Problems[0].Line != 7 {
		t.Errorf("broken tarball: %+v", r.Problems)
	}
	r, _ = Check(ctx, "bundle", CheckOptions{})
	if r.Revision != "default-1" || r.Tests == nil || !r.Tests.OK() || !r.Cache.Enabled {
		t.Errorf("default bundle: %+v", r)
	}
}

func TestProblems(t *testing.T) {
	_, err := Load(context.Background(), "testdata/type_error")
	ps := Problems(err)
	if len(ps) != 1 || ps[0].File != "xunjian/decision.rego" || ps[0].Line != 5 || ps[0].Code != "rego_type_error" {
		t.Errorf("Problems(type error) = %+v", ps)
	}
	if Problems(nil) != nil {
		t.Error("Problems(nil) is not nil")
	}
	if got := (Problem{Code: "x", Message: "m"}).String(); got != "x: m" {
		t.Errorf("String() = %q", got)
	}
}
