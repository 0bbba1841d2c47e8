package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// copyTree copies the directory src into a new temporary directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "b")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestRulesFmt(t *testing.T) {
	dir := copyTree(t, "../../rules/testdata/unformatted")
	file := filepath.Join(dir, "xunjian", "decision.rego")
	golden, err := os.ReadFile(file + ".golden")
	if err != nil {
		t.Fatal(err)
	}

	out, _, err := runCLI(t, "", "rules", "fmt", "-l", dir)
	if !errors.Is(err, errNotFormatted) {
		t.Errorf("fmt -l on unformatted files: err = %v, want errNotFormatted", err)
	}
	if lines := strings.Fields(out); len(lines) != 2 || lines[0] != file {
		t.Errorf("fmt -l listed:\n%s", out)
	}

	out, _, err = runCLI(t, "", "rules", "fmt", dir, "-d") // flags may follow the paths
	if !errors.Is(err, errNotFormatted) {
		t.Errorf("fmt -d: err = %v", err)
	}
	for _, want := range []string{"--- " + file + ".orig\n+++ " + file + "\n@@ ", "\n-    count(input.findings) > 0\n", "\n+\tcount(input.findings) > 0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("fmt -d output lacks %q:\n%s", want, out)
		}
	}

	out, _, err = runCLI(t, "", "rules", "fmt", file)
	if err != nil || out != string(golden) {
		t.Errorf("fmt FILE = %v:\n%s", err, out)
	}

	if out, _, err = runCLI(t, "", "rules", "fmt", "-w", "-l", dir); err != nil || strings.Count(out, "\n") != 2 {
		t.Errorf("fmt -w -l = %v:\n%s", err, out)
	}
	if got, _ := os.ReadFile(file); string(got) != string(golden) {
		t.Errorf("fmt -w wrote:\n%s", got)
	}
	if out, _, err = runCLI(t, "", "rules", "fmt", "-l", "-d", dir); err != nil || out != "" {
		t.Errorf("fmt -l -d after -w = %v:\n%s", err, out)
	}

	// The default bundle is formatted.
	if out, _, err = runCLI(t, "", "rules", "fmt", "-l", "../../rules/bundle"); err != nil || out != "" {
		t.Errorf("fmt -l on the default bundle = %v:\n%s", err, out)
	}

	_, _, err = runCLI(t, "", "rules", "fmt", "-l", "../../rules/testdata/syntax")
	if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), "decision.rego:7: rego_parse_error") {
		t.Errorf("fmt on a syntax error: %v", err)
	}
	for _, args := range [][]string{{"rules", "fmt"}, {"rules", "fmt", "-x", dir}, {"rules", "frobnicate"}} {
		if _, _, err := runCLI(t, "", args...); !errors.Is(err, errUsage) {
			t.Errorf("xunjian %q: err = %v, want a usage error", args, err)
		}
	}
}

func TestRulesCheck(t *testing.T) {
	// The bundle's tests, counted from its sources: every rule named test_*.
	tests := 0
	files, _ := filepath.Glob("../../rules/bundle/xunjian/*_test.rego")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tests += len(regexp.MustCompile(`(?m)^test_\w+ if`).FindAll(b, -1))
	}
	want := fmt.Sprintf("ok  ../../rules/bundle revision default-1, 2 modules, tests PASS: %d/%d, decision cache on", tests, tests)
	out, _, err := runCLI(t, "", "rules", "check", "../../rules/bundle")
	if err != nil || tests == 0 || !strings.HasPrefix(out, want) {
		t.Errorf("check on the default bundle = %v:\n%s", err, out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"type error", []string{"../../rules/testdata/reload/broken"}, []string{"xunjian/decision.rego:7: rego_type_error: "}},
		{"failing test", []string{"../../rules/testdata/reload/failing"}, []string{"xunjian/decision_test.rego:5: test_failed: "}},
		{"bad data", []string{"../../rules/testdata/reload/baddata", "--no-test"}, []string{
			`xunjian/data.json: data_error: data.xunjian.config.actions["tone.rude"]: "blok" is not an action`,
		}},
		{"no tests", []string{"--require-tests", "../../rules/testdata/undefined"}, []string{"no_tests: "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runCLI(t, "", append([]string{"rules", "check"}, tc.args...)...)
			if !errors.Is(err, errCheckFailed) {
				t.Errorf("err = %v, want errCheckFailed", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "ok  ") {
				t.Errorf("a failed check says ok:\n%s", out)
			}
		})
	}

	// A lexicon the gateway's detectors cannot build is refused, as the
	// gateway would refuse it.
	dir := copyTree(t, "../../rules/testdata/reload/v1")
	os.WriteFile(filepath.Join(dir, "xunjian", "data.json"), []byte(`{"lexicons": {"tone": 42}}`), 0o644)
	out, _, err = runCLI(t, "", "rules", "check", "--json", dir)
	if !errors.Is(err, errCheckFailed) {
		t.Errorf("bad lexicon: err = %v", err)
	}
	var report struct {
		Revision string
		Problems []struct{ Code, Message string }
		Tests    *struct{ Passed int }
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if report.Revision != "v1" || len(report.Problems) != 1 || report.Problems[0].Code != "rejected" ||
		!strings.Contains(report.Problems[0].Message, "tone") || report.Tests == nil || report.Tests.Passed != 2 {
		t.Errorf("bad lexicon report: %s", out)
	}

	for _, args := range [][]string{{"rules", "check"}, {"rules", "check", "a", "b"}, {"rules", "check", "--nope", "a"}} {
		if _, _, err := runCLI(t, "", args...); !errors.Is(err, errUsage) {
			t.Errorf("xunjian %q: err = %v, want a usage error", args, err)
		}
	}
}
