// Command testsummary runs `go test -json …` (or reads its output on stdin),
// prints the human-readable output go test would print without -json, and
// ends with one summary line over all packages:
//
//	1234 passed, 0 failed, 5 skipped
//
// counted from the test events (Action pass, fail or skip on a Test,
// subtests included). A package that fails outside any test (it did not
// build, TestMain exited, a panic or timeout after its tests) counts as one
// failure and is named on the line, so a build failure is never "0 failed".
//
// Usage:
//
//	go run ./scripts/testsummary [-o FILE] go test -json [flags] [packages]
//	go test -json [flags] [packages] | go run ./scripts/testsummary [-o FILE]
//
// -o FILE also writes the summary line to FILE (scripts/test.sh prints it
// again at its end).
//
// The exit status is 1 when anything failed, or the command's own non-zero
// status when it failed without a failure in its output; 0 otherwise.
//
// As go test does without -v, the output of a passing or skipped test is
// left out (its t.Log lines, and what it printed itself), and the output of
// a failing test is shown with its subtests' under it. With -v among the
// go test flags every output line is printed as it arrives.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"sync"
)

// event is one line of `go test -json` (cmd/test2json), with the build
// events of go 1.24 and later.
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string // build-output, build-fail
	FailedBuild string // on a package's fail: the package that did not build
}

type testKey struct{ pkg, test string }

// summary consumes events and writes the human-readable output.
type summary struct {
	out, errOut io.Writer
	verbose     bool

	passed, failed, skipped int
	// pkgFailed: packages that failed with no failing test of their own.
	pkgFailed []string

	running    map[testKey]bool     // tests started and not ended
	buf        map[testKey][]string // their output, without -v's progress lines
	testFailed map[string]bool      // packages with a failing test
}

func newSummary(out, errOut io.Writer, verbose bool) *summary {
	return &summary{out: out, errOut: errOut, verbose: verbose, running: map[testKey]bool{}, buf: map[testKey][]string{}, testFailed: map[string]bool{}}
}

// line handles one line of go test's standard output.
func (s *summary) line(raw []byte) {
	var e event
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &e) != nil || e.Action == "" {
		fmt.Fprintf(s.out, "%s\n", raw) // not an event: pass it on
		return
	}
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.errOut, e.Output) // go test prints build errors on stderr
		return
	case "build-fail", "start":
		return
	}
	if s.verbose {
		fmt.Fprint(s.out, e.Output)
	}
	if e.Test == "" {
		s.packageEvent(e)
		return
	}
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "run":
		s.running[k] = true
	case "output":
		if !s.verbose && !isProgress(e.Output) {
			s.buf[k] = append(s.buf[k], e.Output)
		}
	case "pass", "skip", "fail":
		s.count(e.Action, e.Package)
		s.finish(k, e.Action == "fail")
	}
}

func (s *summary) count(action, pkg string) {
	switch action {
	case "pass":
		s.passed++
	case "skip":
		s.skipped++
	case "fail":
		s.failed++
		s.testFailed[pkg] = true
	}
}

// isProgress reports whether a line is one of -v's progress lines, which go
// test without -v does not print.
func isProgress(line string) bool {
	for _, p := range []string{"=== RUN ", "=== PAUSE ", "=== CONT ", "=== NAME "} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// finish ends a test: a passing one's output is dropped; a failing one's is
// shown as go test shows it, its "--- FAIL" line first and its subtests'
// output indented under it: by its parent when it is a subtest, now when it
// is a top-level test.
func (s *summary) finish(k testKey, failed bool) {
	lines := s.buf[k]
	delete(s.buf, k)
	delete(s.running, k)
	if s.verbose || !failed {
		return
	}
	head := "--- FAIL: " + k.test + " "
	for i, l := range lines {
		if strings.HasPrefix(l, head) {
			lines = append(append([]string{l}, lines[:i]...), lines[i+1:]...)
			break
		}
	}
	// The parent: the longest running test whose name is a prefix at a
	// "/" (a subtest's own name may hold a "/").
	name := k.test
	for {
		i := strings.LastIndex(name, "/")
		if i < 0 {
			break
		}
		name = name[:i]
		if pk := (testKey{k.pkg, name}); s.running[pk] {
			for _, l := range lines {
				s.buf[pk] = append(s.buf[pk], "    "+l)
			}
			return
		}
	}
	for _, l := range lines {
		fmt.Fprint(s.out, l)
	}
}

// packageEvent handles an event of a package as a whole.
func (s *summary) packageEvent(e event) {
	switch e.Action {
	case "output":
		// The package's result line: what its unfinished tests printed
		// (a panic, a timeout's goroutines) comes before it.
		if strings.HasPrefix(e.Output, "FAIL\t"+e.Package) || strings.HasPrefix(e.Output, "ok  \t"+e.Package) {
			s.printUnfinished(e.Package)
		}
		// Without -v go test prints no PASS line for a passing package.
		if !s.verbose && e.Output != "PASS\n" {
			fmt.Fprint(s.out, e.Output)
		}
	case "pass", "fail", "skip":
		unfinished := s.flush(e.Package, e.Action == "fail")
		if e.Action == "fail" && !s.testFailed[e.Package] && unfinished == 0 {
			name := e.Package
			if e.FailedBuild != "" {
				name += " [build failed]"
			}
			s.pkgFailed = append(s.pkgFailed, name)
		}
	}
}

// printUnfinished prints the output of the package's tests that have not
// ended, and forgets it.
func (s *summary) printUnfinished(pkg string) {
	var keys []testKey
	for k := range s.buf {
		if k.pkg == pkg {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].test < keys[j].test })
	for _, k := range keys {
		for _, l := range s.buf[k] {
			fmt.Fprint(s.out, l)
		}
		delete(s.buf, k)
	}
}

// flush ends the package's tests that never reported an end (the binary
// crashed or timed out in them): their output is shown, and in a failed
// package each counts as failed. It returns how many there were.
func (s *summary) flush(pkg string, failed bool) int {
	s.printUnfinished(pkg)
	var keys []testKey
	for k := range s.running {
		if k.pkg == pkg {
			keys = append(keys, k)
		}
	}
	n := 0
	for _, k := range keys {
		if failed {
			n++
			s.count("fail", pkg)
		}
		delete(s.running, k)
	}
	return n
}

// end flushes what is left and returns the summary line and whether
// anything failed. cmdErr is the command's error, if it ran one.
func (s *summary) end(cmdErr error) (string, bool) {
	pkgs := map[string]bool{}
	for k := range s.buf {
		pkgs[k.pkg] = true
	}
	for k := range s.running {
		pkgs[k.pkg] = true
	}
	for pkg := range pkgs {
		s.flush(pkg, true) // no end at all: go test died
	}
	failed := s.failed + len(s.pkgFailed)
	var notes []string
	if len(s.pkgFailed) > 0 {
		notes = append(notes, fmt.Sprintf("%d failed outside any test: %s", len(s.pkgFailed), strings.Join(s.pkgFailed, ", ")))
	}
	if cmdErr != nil && failed == 0 {
		failed = 1
		notes = append(notes, fmt.Sprintf("go test failed before reporting a failure: %v", cmdErr))
	}
	line := fmt.Sprintf("%d passed, %d failed, %d skipped", s.passed, failed, s.skipped)
	if len(notes) > 0 {
		line += " (" + strings.Join(notes, "; ") + ")"
	}
	return line, failed > 0
}

// verboseFlag reports whether go test arguments ask for -v output.
func verboseFlag(args []string) bool {
	for _, a := range args {
		switch a {
		case "-v", "--v", "-test.v", "--test.v", "-v=true", "-test.v=true":
			return true
		}
	}
	return false
}

// consume feeds r to s line by line; lines may be long (a test's output).
func consume(s *summary, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			s.line([]byte(strings.TrimRight(string(line), "\r\n")))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lockedWriter serialises the writes of the command's stderr copier and of
// the summary (build errors) to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testsummary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	summaryFile := fs.String("o", "", "also write the summary line to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	args = fs.Args()
	if _, ok := stderr.(*os.File); !ok {
		stderr = &lockedWriter{w: stderr}
	}
	s := newSummary(stdout, stderr, verboseFlag(args))
	var cmdErr error
	if len(args) == 0 {
		if err := consume(s, stdin); err != nil {
			cmdErr = err
		}
	} else {
		if !strings.Contains(" "+strings.Join(args, " ")+" ", " -json ") {
			fmt.Fprintln(stderr, "testsummary: the command must be go test with -json")
			return 2
		}
		// An interrupt reaches go test from the terminal; wait for it to
		// end and summarise what ran.
		signal.Ignore(os.Interrupt)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin, cmd.Stderr = stdin, stderr
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			fmt.Fprintln(stderr, "testsummary:", err)
			return 2
		}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(stderr, "testsummary:", err)
			return 2
		}
		readErr := consume(s, pipe)
		cmdErr = cmd.Wait()
		if cmdErr == nil {
			cmdErr = readErr
		}
	}
	line, failed := s.end(cmdErr)
	fmt.Fprintln(stdout, line)
	if *summaryFile != "" {
		if err := os.WriteFile(*summaryFile, []byte(line+"\n"), 0o644); err != nil {
			fmt.Fprintln(stderr, "testsummary:", err)
			return 2
		}
	}
	var exit *exec.ExitError
	switch {
	case errors.As(cmdErr, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	case failed || cmdErr != nil:
		return 1
	}
	return 0
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
