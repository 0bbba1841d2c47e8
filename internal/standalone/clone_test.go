package standalone

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/internal/corpora"
)

const (
	// inCloneEnv is set to 1 for the go test run inside the clone, whose
	// own TestFreshCloneRunsDataTests then skips instead of cloning again.
	inCloneEnv = "XUNJIAN_IN_CLONE"
	// corporaPkg is the locator of the vendored corpora; a package whose
	// tests import it reads corpora.
	corporaPkg = corpora.Module + "/internal/corpora"
	// selfPkg is this package, whose tests read no corpus.
	selfPkg = corpora.Module + "/internal/standalone"
)

// run runs name with args in dir and env (nil: this process's), and
// returns its standard output, or an error with its standard error.
func run(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(cmd.Environ(), env...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %w\n%s", name, strings.Join(args, " "), dir, err, stderr.String())
	}
	return string(out), nil
}

// childEnv returns the environment additions for the go commands run in
// the clone: this environment's module and build caches and GOFLAGS (with
// -buildvcs=false: a test of a clone has no use for VCS stamping), no
// workspace file from above the clone, and inCloneEnv.
func childEnv(ctx context.Context, dir string) ([]string, error) {
	out, err := run(ctx, dir, nil, "go", "env", "-json", "GOMODCACHE", "GOCACHE", "GOFLAGS")
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	var goenv struct{ GOMODCACHE, GOCACHE, GOFLAGS string }
	if err := json.Unmarshal([]byte(out), &goenv); err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	flags := goenv.GOFLAGS
	if !slices.ContainsFunc(strings.Fields(flags), func(f string) bool { return strings.HasPrefix(f, "-buildvcs") }) {
		flags = strings.TrimSpace(flags + " -buildvcs=false")
	}
	return []string{
		"GOMODCACHE=" + goenv.GOMODCACHE,
		"GOCACHE=" + goenv.GOCACHE,
		"GOFLAGS=" + flags,
		"GOWORK=off",
		inCloneEnv + "=1",
	}, nil
}

// dataPackages parses the output of
//
//	go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./...
//
// and returns the packages whose tests read the vendored corpora: those
// whose tests import internal/corpora, and internal/corpora itself (its
// tests check the vendored files are all there), but not this package.
// It reports false when internal/corpora is not among the packages.
func dataPackages(list string) ([]string, bool) {
	var pkgs []string
	haveCorpora := false
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == corporaPkg:
			haveCorpora = true
			pkgs = append(pkgs, f[0])
		case f[0] == selfPkg:
		case slices.Contains(f[1:], corporaPkg):
			pkgs = append(pkgs, f[0])
		}
	}
	slices.Sort(pkgs)
	return slices.Compact(pkgs), haveCorpora
}

func TestDataPackages(t *testing.T) {
	for _, tc := range []struct {
		name, list string
		want       []string
		ok         bool
	}{
		{"readers and the locator", corporaPkg + " errors testing\n" +
			"m/a " + corporaPkg + " testing \n" +
			"m/b testing  m/b " + corporaPkg + "\n" +
			"m/c testing \n" +
			selfPkg + " " + corporaPkg + " testing \n", []string{corporaPkg, "m/a", "m/b"}, true},
		{"no locator", "m/a testing \nm/c  \n", nil, false},
		{"empty", "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := dataPackages(tc.list)
			if !slices.Equal(got, tc.want) || ok != tc.ok {
				t.Errorf("dataPackages = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestFreshCloneRunsDataTests clones the repository's HEAD alone into an
// empty temporary folder and runs, inside the clone, the tests of every
// package that reads the vendored corpora: it fails when a corpus, or
// anything else those tests need, is not committed, or is looked for
// outside the repository. It needs git (CI has it) and no network: the
// module cache is this environment's.
func TestFreshCloneRunsDataTests(t *testing.T) {
	if os.Getenv(inCloneEnv) == "1" {
		t.Skipf("%s=1: this is the run inside the clone", inCloneEnv)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git not found: %v (this test clones the repository)", err)
	}
	ctx := t.Context()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-30*time.Second))
		defer cancel()
	}
	root, err := corpora.Root()
	if err != nil {
		t.Fatal(err)
	}
	top, err := run(ctx, root, nil, "git", "rev-parse", "--show-toplevel")
	if err != nil {
		t.Fatalf("the repository at %s is not a git checkout: %v", root, err)
	}
	top = strings.TrimSpace(top)
	sub, err := filepath.Rel(top, root)
	if err != nil {
		t.Fatal(err)
	}
	head, err := run(ctx, root, nil, "git", "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	head = strings.TrimSpace(head)
	status, err := run(ctx, root, nil, "git", "status", "--porcelain")
	if err != nil {
		t.Fatal(err)
	}
	if changed := strings.Count(status, "\n"); changed > 0 {
		t.Logf("the working tree has %d uncommitted changes: the clone tests HEAD (%s), not the working tree", changed, head)
	}

	alone := filepath.Join(t.TempDir(), "alone")
	if err := os.Mkdir(alone, 0o755); err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(alone, "xunjian")
	if _, err := run(ctx, alone, nil, "git", "clone", "--quiet", "--no-hardlinks", top, clone); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(alone); err != nil {
		t.Fatal(err)
	} else if len(entries) != 1 {
		t.Fatalf("%s holds %d entries, want the clone alone", alone, len(entries))
	}
	mod := filepath.Join(clone, sub)
	env, err := childEnv(ctx, mod)
	if err != nil {
		t.Fatal(err)
	}
	list, err := run(ctx, mod, env, "go", "list", "-f", `{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "./...")
	if err != nil {
		t.Fatalf("go list in the clone of %s: %v", head, err)
	}
	pkgs, ok := dataPackages(list)
	if !ok {
		t.Fatalf("HEAD (%s) has no package %s: commit internal/corpora and testdata/corpora", head, corporaPkg)
	}
	if len(pkgs) < 2 {
		t.Fatalf("HEAD (%s): no package's tests import %s", head, corporaPkg)
	}
	t.Logf("HEAD %s cloned to %s; go test -count=1 %s", head, clone, strings.Join(pkgs, " "))

	cmd := exec.CommandContext(ctx, "go", append([]string{"test", "-count=1"}, pkgs...)...)
	cmd.Dir = mod
	cmd.Env = append(cmd.Environ(), env...)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the data tests fail in a fresh clone of HEAD (%s): %v\n%s", head, err, out)
	}
	t.Logf("\n%s", out)
}
