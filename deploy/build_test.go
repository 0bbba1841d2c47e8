package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gconfig "github.com/xunjian/xunjian/gateway/config"
)

// dockerignored reports whether rel (a slash path from the build
// context's root) is left out by the .dockerignore patterns, as Docker
// reads them: the last matching pattern wins, "!" re-includes, a pattern
// matches a path or any of its parent directories, "**" any number of
// directories.
func dockerignored(patterns []string, rel string) bool {
	out := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		for dir := rel; dir != "." && dir != "/"; dir = path.Dir(dir) {
			if globMatch(p, dir) {
				out = !neg
				break
			}
		}
	}
	return out
}

// globMatch is path.Match with "**/" matching any number of directories.
func globMatch(pattern, name string) bool {
	if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
		for {
			if globMatch(rest, name) {
				return true
			}
			i := strings.IndexByte(name, '/')
			if i < 0 {
				return false
			}
			name = name[i+1:]
		}
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

// TestDockerignore: nothing the image's two binaries need (their packages'
// Go files and embedded files, this module's) is out of the build context.
func TestDockerignore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, p := range []string{".git", "deploy/k8s/secrets/gateway.env"} {
		if !dockerignored(patterns, p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,Module,GoFiles,EmbedFiles", "./cmd/xunjian", "./deploy/probe")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	files := 0
	for {
		var p struct {
			Dir                 string
			Module              *struct{ Path string }
			GoFiles, EmbedFiles []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Path != "github.com/xunjian/xunjian" {
			continue
		}
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			rel, err := filepath.Rel(root, filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			files++
			if dockerignored(patterns, filepath.ToSlash(rel)) {
				t.Errorf(".dockerignore leaves out %s, which the build needs", rel)
			}
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if dockerignored(patterns, f) {
			t.Errorf(".dockerignore leaves out %s", f)
		}
	}
	if files < 100 {
		t.Errorf("only %d files checked", files)
	}
}

// TestDockerfile: the image is built as the brief of deploy/README.md says.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w -X main.version=${VERSION}"`, "--mount=type=cache,target=/go/pkg/mod",
		"distroless/static", "USER 65532", "EXPOSE 8080 8081 8082", `VOLUME ["/var/lib/xunjian"]`, `ENTRYPOINT ["/xunjian"]`,
		"./deploy/probe",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// unit reads a systemd unit's directives (the last of each name, and all
// of them).
func unit(t *testing.T, file string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: %q is not a directive", file, l)
		}
		out[k] = append(out[k], v)
	}
	return out
}

// TestSystemdUnits: the units are hardened, keep their state in a
// StateDirectory, read secrets from an EnvironmentFile, restart on
// failure, and wait longer than the shutdown takes. (systemd-analyze
// verify and security check them where systemd is; deploy/README.md.)
func TestSystemdUnits(t *testing.T) {
	var defaults gconfig.Config
	defaults.Defaults()
	for file, stop := range map[string]time.Duration{
		"systemd/xunjian-gateway.service": defaults.Limits.ShutdownTimeout.D() + drainTimeout,
		"systemd/xunjian-console.service": 10 * time.Second, // console/config.DefaultShutdownTimeout
	} {
		u := unit(t, file)
		last := func(k string) string {
			if v := u[k]; len(v) > 0 {
				return v[len(v)-1]
			}
			return ""
		}
		for k, want := range map[string]string{
			"NoNewPrivileges": "yes", "ProtectSystem": "strict", "CapabilityBoundingSet": "", "Restart": "on-failure",
			"DynamicUser": "yes", "ProtectHome": "yes", "PrivateTmp": "yes",
		} {
			if _, ok := u[k]; !ok || last(k) != want {
				t.Errorf("%s: %s=%q, want %q", file, k, last(k), want)
			}
		}
		for _, k := range []string{"StateDirectory", "EnvironmentFile", "ExecStart"} {
			if last(k) == "" {
				t.Errorf("%s: no %s", file, k)
			}
		}
		d, err := time.ParseDuration(last("TimeoutStopSec"))
		if err != nil || d <= stop {
			t.Errorf("%s: TimeoutStopSec=%s, want more than %v", file, last("TimeoutStopSec"), stop)
		}
		if !strings.Contains(last("ExecStart"), "--config /etc/xunjian/") {
			t.Errorf("%s: ExecStart %q reads no configuration from /etc/xunjian", file, last("ExecStart"))
		}
	}
}
