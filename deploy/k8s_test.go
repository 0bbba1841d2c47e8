package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/xunjian/xunjian/console"
	cconfig "github.com/xunjian/xunjian/console/config"
	"github.com/xunjian/xunjian/gateway"
	gconfig "github.com/xunjian/xunjian/gateway/config"
)

// obj is a Kubernetes object as JSON decodes it.
type obj = map[string]any

// get walks obj along keys (map keys, or list indices as ints).
func get(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, keys ...any) string   { s, _ := get(v, keys...).(string); return s }
func list(v any, keys ...any) []any   { l, _ := get(v, keys...).([]any); return l }
func dict(v any, keys ...any) obj     { m, _ := get(v, keys...).(map[string]any); return m }
func boolean(v any, keys ...any) bool { b, _ := get(v, keys...).(bool); return b }

func num(v any, keys ...any) int64 {
	switch n := get(v, keys...).(type) {
	case json.Number:
		i, _ := n.Int64()
		return i
	case float64:
		return int64(n)
	}
	return -1
}

// decodeYAML splits a multi-document YAML file and decodes each document
// as kubectl does (sigs.k8s.io/yaml: YAML to JSON, duplicate keys refused).
func decodeYAML(t *testing.T, path string) []obj {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []obj
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, i+1, err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, i+1, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: document %d is not an object", path, i+1)
		}
		m["//file"] = filepath.ToSlash(path)
		out = append(out, m)
	}
	return out
}

// kustomization is what the test reads of a kustomization.yaml.
type kustomization struct {
	APIVersion, Kind string
	Namespace        string
	Resources        []string
	Components       []string
	ConfigMapGen     []generator `json:"configMapGenerator"`
	SecretGen        []generator `json:"secretGenerator"`
	Images           []struct{ Name, NewName, NewTag string }
}

type generator struct {
	Name  string
	Files []string
	Envs  []string
}

func readKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	return k
}

// rendered is deploy/k8s as kustomize renders it, without the name
// suffixes and the namespace: the objects of its resources, a ConfigMap
// per configMapGenerator with its files and a Secret per secretGenerator
// with the keys of its env file's committed .example, each given a test
// value of the shape its use needs (secretValue).
type rendered struct {
	objects []obj
	secrets map[string]map[string]string // Secret name → key → value
	configs map[string]map[string]string // ConfigMap name → key → file content
}

func render(t *testing.T) *rendered {
	t.Helper()
	k := readKustomization(t, "k8s")
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Fatalf("k8s/kustomization.yaml: apiVersion %q kind %q", k.APIVersion, k.Kind)
	}
	r := &rendered{secrets: map[string]map[string]string{}, configs: map[string]map[string]string{}}
	for _, res := range k.Resources {
		r.objects = append(r.objects, decodeYAML(t, filepath.Join("k8s", res))...)
	}
	for _, g := range k.ConfigMapGen {
		data := map[string]any{}
		r.configs[g.Name] = map[string]string{}
		for _, f := range g.Files {
			key, file, ok := strings.Cut(f, "=")
			if !ok {
				key, file = filepath.Base(f), f
			}
			b, err := os.ReadFile(filepath.Join("k8s", file))
			if err != nil {
				t.Fatalf("configMapGenerator %s: %v", g.Name, err)
			}
			data[key] = string(b)
			r.configs[g.Name][key] = string(b)
		}
		r.objects = append(r.objects, obj{"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj{"name": g.Name}, "data": data, "//file": "configMapGenerator " + g.Name})
	}
	for _, g := range k.SecretGen {
		r.secrets[g.Name] = map[string]string{}
		data := map[string]any{}
		for _, e := range g.Envs {
			example := filepath.Join("k8s", e+".example")
			b, err := os.ReadFile(example)
			if err != nil {
				t.Fatalf("secretGenerator %s: %s has no committed example: %v", g.Name, e, err)
			}
			for i, line := range strings.Split(string(b), "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				key, value, ok := strings.Cut(line, "=")
				if !ok || !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`).MatchString(key) {
					t.Fatalf("%s:%d: want KEY= lines, got %q", example, i+1, line)
				}
				if value != "" {
					t.Errorf("%s:%d: %s has a value in the committed example: secrets are never committed", example, i+1, key)
				}
				r.secrets[g.Name][key] = secretValue(t, key)
				data[key] = base64.StdEncoding.EncodeToString([]byte(r.secrets[g.Name][key]))
			}
		}
		r.objects = append(r.objects, obj{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": obj{"name": g.Name}, "data": data, "//file": "secretGenerator " + g.Name})
	}
	return r
}

// secretValue is a test value for the secret key: a base64 AES-256 key
// for a text key, a DingTalk signing secret's shape for one, else 64 hex
// digits (enough for every secret that wants 32 bytes).
func secretValue(t *testing.T, key string) string {
	b := make([]byte, 32)
	rand.Read(b)
	switch {
	case strings.HasSuffix(key, "_TEXT_KEY"):
		return base64.StdEncoding.EncodeToString(b)
	case strings.Contains(key, "DINGTALK_SECRET"):
		return "SEC" + hex.EncodeToString(b)
	}
	return hex.EncodeToString(b)
}

func (r *rendered) find(kind, name string) obj {
	for _, o := range r.objects {
		if str(o, "kind") == kind && str(o, "metadata", "name") == name {
			return o
		}
	}
	return nil
}

// schemas are the JSON Schemas of testdata/kubernetes by "apiVersion kind".
func schemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	files, err := filepath.Glob("testdata/kubernetes/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in testdata/kubernetes (%v)", err)
	}
	c := jsonschema.NewCompiler()
	out := map[string]*jsonschema.Schema{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		u := "file:///" + filepath.Base(f)
		if err := c.AddResource(u, doc); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(u)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		x := dict(doc, "x-kubernetes")
		out[str(x, "apiVersion")+" "+str(x, "kind")] = s
	}
	return out
}

// TestManifests validates every object of deploy/k8s and its components
// against the schema of its apiVersion and kind: a kind or version the
// schemas lack, a misspelled or misplaced field, a value of the wrong type
// or a missing required field fails.
func TestManifests(t *testing.T) {
	sch := schemas(t)
	r := render(t)
	objs := slices.Clone(r.objects)
	comp := readKustomization(t, "k8s/components/ingress")
	if comp.APIVersion != "kustomize.config.k8s.io/v1alpha1" || comp.Kind != "Component" {
		t.Errorf("components/ingress: apiVersion %q kind %q, want a kustomize Component", comp.APIVersion, comp.Kind)
	}
	for _, res := range comp.Resources {
		objs = append(objs, decodeYAML(t, filepath.Join("k8s/components/ingress", res))...)
	}
	kinds := map[string]int{}
	names := map[string]bool{}
	for _, o := range objs {
		where := fmt.Sprintf("%s: %s %s", o["//file"], str(o, "kind"), str(o, "metadata", "name"))
		delete(o, "//file")
		key := str(o, "apiVersion") + " " + str(o, "kind")
		s, ok := sch[key]
		if !ok {
			t.Errorf("%s: apiVersion %q kind %q: not a kind these manifests may use (testdata/kubernetes)", where, str(o, "apiVersion"), str(o, "kind"))
			continue
		}
		if err := s.Validate(o); err != nil {
			t.Errorf("%s: %#v", where, err) // %#v: every failing field, not only the first line
		}
		if str(o, "metadata", "name") == "" {
			t.Errorf("%s: no metadata.name", where)
		}
		if names[key+"/"+str(o, "metadata", "name")] {
			t.Errorf("%s: named twice", where)
		}
		names[key+"/"+str(o, "metadata", "name")] = true
		if str(o, "metadata", "namespace") != "" {
			t.Errorf("%s: sets a namespace: kustomization.yaml's namespace decides", where)
		}
		kinds[str(o, "kind")]++
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Ingress"} {
		if kinds[k] == 0 {
			t.Errorf("no %s", k)
		}
	}
	t.Logf("%d objects: %v", len(objs), kinds)
}

// TestKustomizationComplete: every manifest in deploy/k8s is a resource
// of the kustomization, every file it names exists.
func TestKustomizationComplete(t *testing.T) {
	k := readKustomization(t, "k8s")
	files, _ := filepath.Glob("k8s/*.yaml")
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(k.Resources, b) {
			t.Errorf("%s is not in kustomization.yaml's resources", f)
		}
	}
	if k.Namespace == "" {
		t.Error("kustomization.yaml names no namespace")
	}
	if len(k.Images) != 1 || k.Images[0].Name != "xunjian" || k.Images[0].NewTag == "" {
		t.Errorf("images: %+v, want one entry for the image xunjian with a tag", k.Images)
	}
	b, err := os.ReadFile("k8s/secrets/.gitignore")
	if err != nil || !strings.Contains(string(b), "*.env") {
		t.Errorf("k8s/secrets/.gitignore must keep the filled-in *.env files out of git (%v)", err)
	}
}

// deployment is one Deployment's pod and its single container.
type deployment struct {
	o, pod, c obj
}

func (r *rendered) deployment(t *testing.T, name string) deployment {
	t.Helper()
	o := r.find("Deployment", name)
	if o == nil {
		t.Fatalf("no Deployment %s", name)
	}
	cs := list(o, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("Deployment %s: %d containers, want 1", name, len(cs))
	}
	return deployment{o: o, pod: dict(o, "spec", "template", "spec"), c: cs[0].(obj)}
}

// port is the container port named name (0: none).
func (d deployment) port(name string) int64 {
	for _, p := range list(d.c, "ports") {
		if str(p, "name") == name {
			return num(p, "containerPort")
		}
	}
	return 0
}

// probePort resolves an httpGet probe's port (a name or a number).
func (d deployment) probePort(probe obj) int64 {
	switch p := get(probe, "httpGet", "port").(type) {
	case string:
		return d.port(p)
	case json.Number:
		n, _ := p.Int64()
		return n
	}
	return 0
}

// env is the container's environment as the process sees it: its
// Secrets' keys (envFrom) with their test values, then its env entries.
func (d deployment) env(t *testing.T, r *rendered) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ef := range list(d.c, "envFrom") {
		name := str(ef, "secretRef", "name")
		s, ok := r.secrets[name]
		if !ok {
			t.Fatalf("envFrom names the Secret %q, which the kustomization does not make", name)
		}
		for k, v := range s {
			out[k] = v
		}
	}
	for _, e := range list(d.c, "env") {
		if get(e, "valueFrom") != nil {
			t.Fatalf("env %s: valueFrom: the test knows envFrom Secrets only", str(e, "name"))
		}
		out[str(e, "name")] = str(e, "value")
	}
	return out
}

// configFile writes the file the container reads at path (a mounted
// ConfigMap's key) to a temporary file and returns that file.
func (d deployment) configFile(t *testing.T, r *rendered, path string) string {
	t.Helper()
	for _, m := range list(d.c, "volumeMounts") {
		rel, err := filepath.Rel(str(m, "mountPath"), path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range list(d.pod, "volumes") {
			if str(v, "name") != str(m, "name") || dict(v, "configMap") == nil {
				continue
			}
			content, ok := r.configs[str(v, "configMap", "name")][rel]
			if !ok {
				t.Fatalf("%s: the ConfigMap %s mounted at %s has no key %s", path, str(v, "configMap", "name"), str(m, "mountPath"), rel)
			}
			f := filepath.Join(t.TempDir(), filepath.Base(path))
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s is in no mounted ConfigMap", path)
	return ""
}

// writable reports whether path is in a writable emptyDir mount.
func (d deployment) writable(path string) bool {
	for _, m := range list(d.c, "volumeMounts") {
		rel, err := filepath.Rel(str(m, "mountPath"), path)
		if err != nil || strings.HasPrefix(rel, "..") || boolean(m, "readOnly") {
			continue
		}
		for _, v := range list(d.pod, "volumes") {
			if str(v, "name") == str(m, "name") && dict(v, "emptyDir") != nil {
				return true
			}
		}
	}
	return false
}

// configArg is the value of --config in the container's args.
func (d deployment) configArg(t *testing.T) string {
	args := list(d.c, "args")
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			return args[i+1].(string)
		}
	}
	t.Fatalf("container %s: no --config in args %v", str(d.c, "name"), args)
	return ""
}

// envNames are the values of every key ending in _env in a YAML config:
// the environment variables it names.
func envNames(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(j, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && strings.HasSuffix(k, "_env") && s != "" {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	sort.Strings(out)
	return out
}

// checkPod checks what every pod of these manifests must be: non-root,
// no privilege, a read-only root file system, no service-account token,
// requests and limits, a selector that matches its labels, a grace period
// over shutdownTimeout plus the preStop pause plus extra.
func checkPod(t *testing.T, d deployment, shutdownTimeout, extra time.Duration) {
	t.Helper()
	name := str(d.o, "metadata", "name")
	sel := dict(d.o, "spec", "selector", "matchLabels")
	labels := dict(d.o, "spec", "template", "metadata", "labels")
	if len(sel) == 0 {
		t.Errorf("%s: no selector.matchLabels", name)
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("%s: selector %s=%v does not match the pod's labels", name, k, v)
		}
	}
	if !boolean(d.pod, "securityContext", "runAsNonRoot") || num(d.pod, "securityContext", "runAsUser") <= 0 {
		t.Errorf("%s: the pod must run as non-root with a non-zero runAsUser", name)
	}
	if str(d.pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		t.Errorf("%s: seccompProfile RuntimeDefault", name)
	}
	if get(d.pod, "automountServiceAccountToken") != false {
		t.Errorf("%s: automountServiceAccountToken must be false (the pods use no Kubernetes API)", name)
	}
	sc := dict(d.c, "securityContext")
	if !boolean(sc, "readOnlyRootFilesystem") || get(sc, "allowPrivilegeEscalation") != false || !boolean(sc, "runAsNonRoot") {
		t.Errorf("%s: container securityContext %v: want readOnlyRootFilesystem, runAsNonRoot, no privilege escalation", name, sc)
	}
	if drop := list(sc, "capabilities", "drop"); !slices.Contains(drop, any("ALL")) || len(list(sc, "capabilities", "add")) > 0 {
		t.Errorf("%s: capabilities: want drop [ALL] and nothing added", name)
	}
	for _, kind := range []string{"requests", "limits"} {
		for _, res := range []string{"cpu", "memory"} {
			if get(d.c, "resources", kind, res) == nil {
				t.Errorf("%s: no resources.%s.%s", name, kind, res)
			}
		}
	}
	if str(d.c, "image") != "xunjian" {
		t.Errorf("%s: image %q: want xunjian (kustomization.yaml's images sets the registry and tag)", name, str(d.c, "image"))
	}
	if !d.writable("/tmp") {
		t.Errorf("%s: /tmp is not a writable emptyDir", name)
	}
	grace := time.Duration(num(d.pod, "terminationGracePeriodSeconds")) * time.Second
	pause := time.Duration(num(d.c, "lifecycle", "preStop", "sleep", "seconds")) * time.Second
	if grace <= shutdownTimeout+pause+extra {
		t.Errorf("%s: terminationGracePeriodSeconds %v: want more than the shutdown timeout %v + the preStop pause %v + %v", name, grace, shutdownTimeout, pause, extra)
	}
	for _, p := range []string{"startupProbe", "livenessProbe"} {
		if str(d.c, p, "httpGet", "path") != "/healthz" {
			t.Errorf("%s: %s: want httpGet /healthz", name, p)
		}
	}
}

// secretRefs are the Secrets and ConfigMaps a Deployment names must be
// made by the kustomization.
func checkRefs(t *testing.T, r *rendered, d deployment) {
	t.Helper()
	for _, v := range list(d.pod, "volumes") {
		if n := str(v, "configMap", "name"); n != "" && r.find("ConfigMap", n) == nil {
			t.Errorf("volume %s: no ConfigMap %s", str(v, "name"), n)
		}
	}
	for _, m := range list(d.c, "volumeMounts") {
		found := false
		for _, v := range list(d.pod, "volumes") {
			found = found || str(v, "name") == str(m, "name")
		}
		if !found {
			t.Errorf("volumeMount %s: no such volume", str(m, "name"))
		}
	}
	if sa := str(d.pod, "serviceAccountName"); sa != "" && r.find("ServiceAccount", sa) == nil {
		t.Errorf("serviceAccountName %s: no such ServiceAccount", sa)
	}
}

// checkServices: every Service selecting the pods targets ports the
// container has.
func checkServices(t *testing.T, r *rendered, d deployment) int {
	t.Helper()
	labels := dict(d.o, "spec", "template", "metadata", "labels")
	n := 0
	for _, s := range r.objects {
		if str(s, "kind") != "Service" {
			continue
		}
		sel := dict(s, "spec", "selector")
		match := len(sel) > 0
		for k, v := range sel {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		n++
		for _, p := range list(s, "spec", "ports") {
			tp := get(p, "targetPort")
			if name, ok := tp.(string); ok && d.port(name) == 0 {
				t.Errorf("Service %s: targetPort %s: no such container port", str(s, "metadata", "name"), name)
			}
		}
	}
	return n
}

func newLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// gatewayConfig loads the gateway's configuration as the container does:
// the file in its ConfigMap, the container's environment.
func gatewayConfig(t *testing.T, r *rendered) (deployment, *gconfig.Config, map[string]string, string) {
	t.Helper()
	d := r.deployment(t, "xunjian-gateway")
	env := d.env(t, r)
	path := d.configFile(t, r, d.configArg(t))
	cfg, err := gconfig.Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the gateway's ConfigMap does not load: %v", err)
	}
	return d, cfg, env, path
}

func consoleConfig(t *testing.T, r *rendered) (deployment, *cconfig.Config, map[string]string, string) {
	t.Helper()
	d := r.deployment(t, "xunjian-console")
	env := d.env(t, r)
	path := d.configFile(t, r, d.configArg(t))
	cfg, err := cconfig.Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the console's ConfigMap does not load: %v", err)
	}
	return d, cfg, env, path
}

func portOf(t *testing.T, addr string) int64 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseInt(p, 10, 64)
	return n
}

// startGateway builds the gateway server of the Kubernetes configuration
// with the Secret's variables (and nothing else of the environment),
// which fails if one the configuration names is missing or malformed. It
// reads the built-in policy instead of the policy URL and spools to a
// temporary directory; it serves nothing.
func startGateway(t *testing.T, cfg *gconfig.Config, env map[string]string) *gateway.Server {
	t.Helper()
	c := *cfg
	c.Policy = ""
	c.Stream.Spool.Dir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := gateway.New(ctx, &c, gateway.Options{Logger: newLogger(), Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatalf("the gateway does not start on the Kubernetes configuration and Secret: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// startConsole is startGateway for the console, on a temporary SQLite
// database instead of the configured PostgreSQL.
func startConsole(t *testing.T, cfg *cconfig.Config, env map[string]string) *console.Console {
	t.Helper()
	c := *cfg
	c.Database = "sqlite://" + filepath.Join(t.TempDir(), "console.db")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	con, err := console.New(ctx, &c, console.Options{Logger: newLogger(), Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatalf("the console does not start on the Kubernetes configuration and Secret: %v", err)
	}
	t.Cleanup(con.Close)
	return con
}

// drainTimeout is how long the gateway's shutdown waits for the shipper
// (gateway/stream.go).
const drainTimeout = 3 * time.Second

func TestGatewayDeployment(t *testing.T) {
	r := render(t)
	d, cfg, env, path := gatewayConfig(t, r)
	checkPod(t, d, cfg.Limits.ShutdownTimeout.D(), drainTimeout)
	checkRefs(t, r, d)

	agent, admin := d.port("agent"), d.port("admin")
	if agent != portOf(t, cfg.Listen) || admin != portOf(t, cfg.AdminListen) {
		t.Errorf("container ports agent %d admin %d; the configuration listens on %s and %s", agent, admin, cfg.Listen, cfg.AdminListen)
	}
	for _, p := range []string{"startupProbe", "livenessProbe"} {
		if got := d.probePort(dict(d.c, p)); got != admin {
			t.Errorf("%s on port %d, want the admin port %d", p, got, admin)
		}
	}
	// Readiness: /readyz on the admin port, through xunjian-probe with
	// the admin key when admin keys are configured.
	rp := dict(d.c, "readinessProbe")
	if len(cfg.Admin.APIKeys) == 0 {
		if str(rp, "httpGet", "path") != "/readyz" || d.probePort(rp) != admin {
			t.Errorf("readinessProbe: want httpGet /readyz on the admin port")
		}
	} else {
		cmd := list(rp, "exec", "command")
		want := fmt.Sprintf("http://127.0.0.1:%d/readyz", admin)
		if len(cmd) != 2 || cmd[0] != "/xunjian-probe" || cmd[1] != want {
			t.Errorf("readinessProbe: exec %v, want [/xunjian-probe %s] (the admin port needs the key)", cmd, want)
		}
		if env["XUNJIAN_PROBE_KEY"] == "" {
			t.Error("the readiness probe's key XUNJIAN_PROBE_KEY is not in the gateway's Secret")
		}
	}
	if !d.writable(cfg.Stream.Spool.Dir) {
		t.Errorf("stream.spool.dir %s is not on a writable emptyDir", cfg.Stream.Spool.Dir)
	}
	if len(cfg.Stream.Brokers) == 0 {
		t.Error("stream.brokers: none (the built-in broker is for development)")
	}
	if cfg.Ack.SecretEnv == "" || cfg.Stream.Sampling.SeedEnv == "" {
		t.Error("several gateways need ack.secret_env and stream.sampling.seed_env (README, Several gateways)")
	}
	if u, err := url.Parse(cfg.Policy); err != nil || u.Scheme != "https" {
		t.Errorf("policy %q: want the bundle from an https URL", cfg.Policy)
	}
	for _, name := range envNames(t, path) {
		if env[name] == "" {
			t.Errorf("the configuration names the variable %s, which the gateway's Secret does not hold", name)
		}
	}
	if n := checkServices(t, r, d); n < 2 {
		t.Errorf("%d Services select the gateways, want the agent port's and the pods' (headless)", n)
	}
	pdb := r.find("PodDisruptionBudget", "xunjian-gateway")
	for k, v := range dict(pdb, "spec", "selector", "matchLabels") {
		if dict(d.o, "spec", "template", "metadata", "labels")[k] != v {
			t.Errorf("PodDisruptionBudget: selector %s=%v does not select the gateways", k, v)
		}
	}
	hpa := r.find("HorizontalPodAutoscaler", "xunjian-gateway")
	if str(hpa, "spec", "scaleTargetRef", "kind") != "Deployment" || str(hpa, "spec", "scaleTargetRef", "name") != "xunjian-gateway" {
		t.Error("the HorizontalPodAutoscaler does not scale the gateway's Deployment")
	}
	if str(hpa, "spec", "metrics", 0, "resource", "name") != "cpu" {
		t.Error("the HorizontalPodAutoscaler does not scale on CPU")
	}
	if len(list(d.pod, "topologySpreadConstraints")) == 0 {
		t.Error("no topologySpreadConstraints")
	}
	startGateway(t, cfg, env)
}

func TestConsoleDeployment(t *testing.T) {
	r := render(t)
	d, cfg, env, path := consoleConfig(t, r)
	checkPod(t, d, cfg.ShutdownTimeout.D(), 0)
	checkRefs(t, r, d)
	port := d.port("http")
	if port != portOf(t, cfg.Listen) {
		t.Errorf("container port %d; the configuration listens on %s", port, cfg.Listen)
	}
	for p, path := range map[string]string{"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got := str(d.c, p, "httpGet", "path"); got != path || d.probePort(dict(d.c, p)) != port {
			t.Errorf("%s: %s on port %d, want %s on %d", p, got, d.probePort(dict(d.c, p)), path, port)
		}
	}
	for _, name := range envNames(t, path) {
		if env[name] == "" {
			t.Errorf("the configuration names the variable %s, which the console's Secret does not hold", name)
		}
	}
	if u, err := url.Parse(cfg.Database); err == nil && strings.HasPrefix(u.Scheme, "postgres") {
		if _, hasPassword := u.User.Password(); !hasPassword && env["PGPASSWORD"] == "" {
			t.Error("database: PostgreSQL without a password in the DSN, and no PGPASSWORD in the Secret")
		}
	} else if num(d.o, "spec", "replicas") > 1 {
		t.Error("more than one console replica needs the shared PostgreSQL database")
	}
	if cfg.Auth.SessionKeyEnv == "" && num(d.o, "spec", "replicas") > 1 {
		t.Error("more than one console replica needs auth.session_key_env")
	}
	if n := checkServices(t, r, d); n < 1 {
		t.Error("no Service selects the console")
	}
	startConsole(t, cfg, env)
}
