package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// events is go test -json output of one passing package (a passing test
// with a log line, a skipped one) and one failing package (a failing test
// with a failing and a passing subtest, and a passing test), as go1.26
// writes it.
const events = `{"Action":"start","Package":"m/ok"}
{"Action":"run","Package":"m/ok","Test":"TestA"}
{"Action":"output","Package":"m/ok","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"m/ok","Test":"TestA","Output":"    ok_test.go:3: hidden log\n"}
{"Action":"output","Package":"m/ok","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"m/ok","Test":"TestA","Elapsed":0}
{"Action":"run","Package":"m/ok","Test":"TestSkip"}
{"Action":"output","Package":"m/ok","Test":"TestSkip","Output":"=== RUN   TestSkip\n"}
{"Action":"output","Package":"m/ok","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Action":"skip","Package":"m/ok","Test":"TestSkip","Elapsed":0}
{"Action":"output","Package":"m/ok","Output":"PASS\n"}
{"Action":"output","Package":"m/ok","Output":"ok  \tm/ok\t0.005s\n"}
{"Action":"pass","Package":"m/ok","Elapsed":0.007}
{"Action":"start","Package":"m/bad"}
{"Action":"run","Package":"m/bad","Test":"TestBad"}
{"Action":"output","Package":"m/bad","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"run","Package":"m/bad","Test":"TestBad/s1"}
{"Action":"output","Package":"m/bad","Test":"TestBad/s1","Output":"=== RUN   TestBad/s1\n"}
{"Action":"output","Package":"m/bad","Test":"TestBad/s1","Output":"    bad_test.go:3: boom\n"}
{"Action":"output","Package":"m/bad","Test":"TestBad/s1","Output":"--- FAIL: TestBad/s1 (0.00s)\n"}
{"Action":"fail","Package":"m/bad","Test":"TestBad/s1","Elapsed":0}
{"Action":"run","Package":"m/bad","Test":"TestBad/s2"}
{"Action":"output","Package":"m/bad","Test":"TestBad/s2","Output":"=== RUN   TestBad/s2\n"}
{"Action":"output","Package":"m/bad","Test":"TestBad/s2","Output":"--- PASS: TestBad/s2 (0.00s)\n"}
{"Action":"pass","Package":"m/bad","Test":"TestBad/s2","Elapsed":0}
{"Action":"output","Package":"m/bad","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"m/bad","Test":"TestBad","Elapsed":0}
{"Action":"run","Package":"m/bad","Test":"TestGood"}
{"Action":"output","Package":"m/bad","Test":"TestGood","Output":"=== RUN   TestGood\n"}
{"Action":"output","Package":"m/bad","Test":"TestGood","Output":"--- PASS: TestGood (0.00s)\n"}
{"Action":"pass","Package":"m/bad","Test":"TestGood","Elapsed":0}
{"Action":"output","Package":"m/bad","Output":"FAIL\n"}
{"Action":"output","Package":"m/bad","Output":"FAIL\tm/bad\t0.010s\n"}
{"Action":"fail","Package":"m/bad","Elapsed":0.016}
`

// buildFail is a package whose test binary did not compile.
const buildFail = `{"ImportPath":"m/build [m/build.test]","Action":"build-output","Output":"# m/build [m/build.test]\n"}
{"ImportPath":"m/build [m/build.test]","Action":"build-output","Output":"build/b_test.go:3:27: undefined: undefined\n"}
{"ImportPath":"m/build [m/build.test]","Action":"build-fail"}
{"Action":"start","Package":"m/build"}
{"Action":"output","Package":"m/build","Output":"FAIL\tm/build [build failed]\n"}
{"Action":"fail","Package":"m/build","Elapsed":0,"FailedBuild":"m/build [m/build.test]"}
`

// crashed is a package whose binary timed out inside a test: the test
// never ended.
const crashed = `{"Action":"start","Package":"m/slow"}
{"Action":"run","Package":"m/slow","Test":"TestSlow"}
{"Action":"output","Package":"m/slow","Test":"TestSlow","Output":"=== RUN   TestSlow\n"}
{"Action":"output","Package":"m/slow","Test":"TestSlow","Output":"panic: test timed out after 2s\n"}
{"Action":"output","Package":"m/slow","Output":"FAIL\tm/slow\t2.007s\n"}
{"Action":"fail","Package":"m/slow","Elapsed":2.007}
`

func summarise(t *testing.T, in string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(in), &out, &errOut)
	return out.String(), errOut.String(), code
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestSummaryCounts(t *testing.T) {
	out, _, code := summarise(t, events)
	if got, want := lastLine(out), "3 passed, 2 failed, 1 skipped"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if code != 1 {
		t.Errorf("exit %d with failed tests, want 1", code)
	}
	// As go test without -v: no progress lines, no passing test's output,
	// the failure with its subtest under it, the packages' result lines.
	want := "ok  \tm/ok\t0.005s\n" +
		"--- FAIL: TestBad (0.00s)\n" +
		"    --- FAIL: TestBad/s1 (0.00s)\n" +
		"        bad_test.go:3: boom\n" +
		"FAIL\n" +
		"FAIL\tm/bad\t0.010s\n" +
		"3 passed, 2 failed, 1 skipped\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}

	passing := strings.Join(strings.Split(events, "\n")[:13], "\n") + "\n"
	out, _, code = summarise(t, passing)
	if lastLine(out) != "1 passed, 0 failed, 1 skipped" || code != 0 {
		t.Errorf("a passing package: %q, exit %d", lastLine(out), code)
	}
}

func TestSummaryBuildFailureIsAFailure(t *testing.T) {
	out, errOut, code := summarise(t, buildFail+events)
	if got, want := lastLine(out), "3 passed, 3 failed, 1 skipped (1 failed outside any test: m/build [build failed])"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if code != 1 || !strings.Contains(errOut, "undefined: undefined") || !strings.Contains(out, "FAIL\tm/build [build failed]\n") {
		t.Errorf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	// Only a build failure: never "0 failed".
	out, _, code = summarise(t, buildFail)
	if lastLine(out) != "0 passed, 1 failed, 0 skipped (1 failed outside any test: m/build [build failed])" || code != 1 {
		t.Errorf("a build failure alone: %q, exit %d", lastLine(out), code)
	}
}

func TestSummaryUnfinishedTest(t *testing.T) {
	out, _, code := summarise(t, crashed)
	if lastLine(out) != "0 passed, 1 failed, 0 skipped" || code != 1 {
		t.Errorf("a test that never ended: %q, exit %d", lastLine(out), code)
	}
	// Its output (the panic) comes before the package's result line.
	if i, j := strings.Index(out, "panic: test timed out"), strings.Index(out, "FAIL\tm/slow"); i < 0 || j < i {
		t.Errorf("output:\n%s", out)
	}
	// The stream cut off inside a test: go test died.
	cut := strings.Join(strings.Split(crashed, "\n")[:4], "\n") + "\n"
	if out, _, code := summarise(t, cut); lastLine(out) != "0 passed, 1 failed, 0 skipped" || code != 1 {
		t.Errorf("a stream cut short: %q, exit %d", lastLine(out), code)
	}
}

func TestSummaryPassesOtherLinesOn(t *testing.T) {
	out, _, code := summarise(t, "not json\n{\"Action\":\"start\",\"Package\":\"m\"}\n")
	if out != "not json\n0 passed, 0 failed, 0 skipped\n" || code != 0 {
		t.Errorf("output %q, exit %d", out, code)
	}
}

func TestSummaryVerbose(t *testing.T) {
	if !verboseFlag([]string{"go", "test", "-json", "-v", "./..."}) || verboseFlag([]string{"go", "test", "-json", "./..."}) {
		t.Error("verboseFlag does not see -v")
	}
	var buf, errOut bytes.Buffer
	s := newSummary(&buf, &errOut, true)
	if err := consume(s, strings.NewReader(events)); err != nil {
		t.Fatal(err)
	}
	line, failed := s.end(nil)
	if line != "3 passed, 2 failed, 1 skipped" || !failed {
		t.Errorf("verbose summary %q", line)
	}
	for _, want := range []string{"=== RUN   TestA\n", "hidden log", "--- PASS: TestGood", "PASS\n"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("verbose output lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestSummaryRunsGoTest runs the real go test on a throwaway module with a
// passing, a failing and a non-compiling package, as scripts/test.sh runs
// the suite.
func TestSummaryRunsGoTest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":            "module tmpmod\n\ngo 1.26\n",
		"ok/ok_test.go":     "package ok\n\nimport \"testing\"\n\nfunc TestOK(t *testing.T) {}\n\nfunc TestSkip(t *testing.T) { t.Skip(\"later\") }\n",
		"bad/bad_test.go":   "package bad\n\nimport \"testing\"\n\nfunc TestBad(t *testing.T) { t.Error(\"deliberately\") }\n",
		"build/b_test.go":   "package build\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) { undefined() }\n",
		"nofiles/nofile.go": "package nofiles\n",
	}
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "-mod=mod")

	out, errOut, code := summarise(t, "", goBin, "test", "-json", "-count=1", "./...")
	if got, want := lastLine(out), "1 passed, 2 failed, 1 skipped (1 failed outside any test: tmpmod/build [build failed])"; got != want {
		t.Errorf("summary %q, want %q\nstdout:\n%s\nstderr:\n%s", got, want, out, errOut)
	}
	if code == 0 {
		t.Error("exit 0 with a failing test and a build failure")
	}
	for _, want := range []string{"--- FAIL: TestBad", "deliberately", "ok  \ttmpmod/ok", "FAIL\ttmpmod/bad", "tmpmod/build [build failed]"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "undefined: undefined") {
		t.Errorf("stderr lacks the build error:\n%s\nstdout:\n%s", errOut, out)
	}

	file := filepath.Join(t.TempDir(), "summary")
	out, _, code = summarise(t, "", "-o", file, goBin, "test", "-json", "-count=1", "./ok")
	if lastLine(out) != "1 passed, 0 failed, 1 skipped" || code != 0 {
		t.Errorf("passing package: %q, exit %d\n%s", lastLine(out), code, out)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "1 passed, 0 failed, 1 skipped\n" {
		t.Errorf("-o file: %q, %v", b, err)
	}
	// A go test that fails before any test (no such package).
	out, _, code = summarise(t, "", goBin, "test", "-json", "./nosuch")
	if code == 0 || !strings.Contains(lastLine(out), "1 failed") {
		t.Errorf("go test on a missing package: %q, exit %d", lastLine(out), code)
	}
	// Without -json there is nothing to count.
	if _, _, code := summarise(t, "", goBin, "test", "./ok"); code != 2 {
		t.Errorf("a command without -json: exit %d, want 2", code)
	}
}
