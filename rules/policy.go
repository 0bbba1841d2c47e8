package rules

import (
	"context"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// decisionRef is the policy's entry point.
var decisionRef = ast.MustParseRef("data.xunjian.decision")

// Policy is a loaded, compiled and prepared bundle. It is immutable and safe
// for concurrent use by any number of goroutines.
//
// Unless the bundle calls a non-deterministic built-in (time.now_ns,
// http.send, …) or [WithoutDecisionCache] is given, a Policy caches its
// decisions, keyed on the input fields its modules can read (see
// [Policy.CacheStatus]). The cache lives and dies with the Policy, so a new
// policy revision never serves an old decision. Call [Policy.Close] when a
// Policy is replaced.
type Policy struct {
	revision string
	digest   string // the bundle's content hash, see source.digest
	data     map[string]any
	files    map[string][]byte // attachments, see source.attachments
	modules  []string
	compiler *ast.Compiler
	store    storage.Store
	txn      storage.Transaction // read-only, open for the Policy's life
	query    ast.Body            // resultVar = data.xunjian.decision, compiled
	timings  Timings
	cache    *sharedBaseCache
	consts   *constants // the rules evaluated once per Policy (constants.go)

	fields   fieldMask      // input fields the modules can read
	proj     projection     // fields, and the fields of each finding
	decision *decisionCache // nil when off
	status   CacheStatus
}

// LoadOption configures [Load] and [LoadFS].
type LoadOption func(*loadOptions)

type loadOptions struct {
	noCache    bool
	cacheBytes int64
}

// WithoutDecisionCache turns the decision cache off: every Decide evaluates.
func WithoutDecisionCache() LoadOption { return func(o *loadOptions) { o.noCache = true } }

// WithCacheBytes bounds the decision cache to about n bytes (default
// [DefaultCacheBytes]); n <= 0 turns it off.
func WithCacheBytes(n int64) LoadOption {
	return func(o *loadOptions) {
		o.cacheBytes = n
		o.noCache = n <= 0
	}
}

// Timings records how long each load phase of a Policy took.
type Timings struct {
	// Read covers reading files, decoding data and parsing modules.
	Read time.Duration
	// Compile covers compiling the modules.
	Compile time.Duration
	// Prepare covers building the store and preparing the query.
	Prepare time.Duration
}

// Load reads the bundle at path (a directory or a .tar.gz in OPA bundle
// format: .manifest, *.rego, data.json / data.yaml), compiles it and prepares
// data.xunjian.decision. An empty path loads the default bundle embedded in
// the binary.
//
// Modules are Rego v1 unless the manifest sets rego_version. Files ending in
// _test.rego are parsed but not part of the evaluated policy; [RunTests]
// runs them. On failure the error lists every problem found, each with its
// file and line.
func Load(ctx context.Context, path string, opts ...LoadOption) (*Policy, error) {
	if path == "" {
		return LoadFS(ctx, defaultBundle, defaultBundleDir, opts...)
	}
	start := time.Now()
	src, err := readPath(path)
	if err != nil {
		return nil, fmt.Errorf("compile bundle %s: %w", path, err)
	}
	return build(ctx, path, src, time.Since(start), opts)
}

// LoadFS is [Load] for a bundle in the directory name of fsys, such as an
// embed.FS. Embedding must include dot files (`//go:embed all:dir`) for the
// .manifest to be read.
func LoadFS(ctx context.Context, fsys fs.FS, name string, opts ...LoadOption) (*Policy, error) {
	start := time.Now()
	src, err := readFS(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("compile bundle %s: %w", name, err)
	}
	return build(ctx, name, src, time.Since(start), opts)
}

func build(ctx context.Context, name string, src *source, readTime time.Duration, opts []LoadOption) (*Policy, error) {
	o := loadOptions{cacheBytes: DefaultCacheBytes}
	for _, opt := range opts {
		opt(&o)
	}
	p := &Policy{revision: src.revision, digest: src.digest, data: src.data, files: src.attachments, cache: &sharedBaseCache{root: &baseCacheNode{}}}
	p.timings.Read = readTime

	start := time.Now()
	modules := make(map[string]*ast.Module, len(src.modules))
	for file, m := range src.modules {
		if !isTest(file) {
			modules[file] = m
			p.modules = append(p.modules, file)
		}
	}
	slices.Sort(p.modules)
	c := ast.NewCompiler().SetErrorLimit(0)
	if c.Compile(modules); c.Failed() {
		return nil, fmt.Errorf("compile bundle %s: %w", name, c.Errors)
	}
	if err := checkEntryPoint(c, p.modules); err != nil {
		return nil, fmt.Errorf("compile bundle %s: %w", name, err)
	}
	p.timings.Compile = time.Since(start)

	start = time.Now()
	// The store keeps data as AST values so that reads during evaluation
	// need no conversion. It is never written, so one read transaction
	// serves every evaluation.
	store := inmem.NewFromObjectWithOpts(src.data, inmem.OptReturnASTValuesOnRead(true))
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare bundle %s: %w", name, err)
	}
	query, err := c.QueryCompiler().Compile(ast.NewBody(ast.Equality.Expr(ast.NewTerm(resultVar), ast.NewTerm(decisionRef))))
	if err != nil {
		store.Abort(ctx, txn)
		return nil, fmt.Errorf("prepare bundle %s: %w", name, err)
	}
	p.compiler, p.store, p.txn, p.query = c, store, txn, query
	p.consts = newConstants(c)
	p.consts.warm(ctx, p)

	proj, nondet, notes := analyzeInput(c, p.modules)
	p.fields, p.proj = proj.fields, proj
	p.status = CacheStatus{Fields: proj.fields.names(), Notes: notes}
	if proj.fields.has(fFindings) {
		p.status.FindingFields = proj.finding.names()
	}
	switch {
	case len(nondet) > 0:
		p.status.Reason = strings.Join(nondet, "; ")
	case o.noCache:
		p.status.Reason = "disabled by option"
	default:
		dc, err := newDecisionCache(o.cacheBytes)
		if err != nil {
			return nil, fmt.Errorf("prepare bundle %s: %w", name, err)
		}
		p.decision = dc
		p.status.Enabled = true
		// A Policy dropped without Close still stops the cache's goroutines.
		runtime.AddCleanup(p, func(dc *decisionCache) { dc.close() }, dc)
	}
	p.timings.Prepare = time.Since(start)
	return p, nil
}

// resultVar is the query's variable the decision is bound to.
var resultVar = ast.Var("decision")

// noMetrics is the evaluations' metrics: none are read.
var noMetrics = metrics.NoOp()

// checkEntryPoint makes a missing data.xunjian.decision a load error that
// points at the file and line of the package that should define it.
func checkEntryPoint(c *ast.Compiler, files []string) error {
	if len(c.GetRulesExact(decisionRef)) > 0 {
		return nil
	}
	pkg := decisionRef[:len(decisionRef)-1]
	pkgName := strings.TrimPrefix(pkg.String(), "data.")
	var errs ast.Errors
	for _, f := range files {
		if m := c.Modules[f]; m != nil && m.Package.Path.Equal(pkg) {
			errs = append(errs, ast.NewError(ast.CompileErr, m.Package.Location,
				"package %s defines no rule %q (entry point %s)", pkgName, "decision", decisionRef))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, ast.NewError(ast.CompileErr, nil,
			"no module declares package %s (entry point %s); modules: %v", pkgName, decisionRef, files))
	}
	return errs
}

// Revision is the bundle's .manifest revision or, when it has none,
// "sha256:" and the first 12 hex digits of a hash over all its files.
func (p *Policy) Revision() string { return p.revision }

// Data returns a deep copy of the bundle's data document (for example
// data.xunjian.lexicons as Data()["xunjian"]["lexicons"]).
func (p *Policy) Data() map[string]any { return deepCopyMap(p.data) }

// Attachment returns the bundle file name (relative to the bundle root,
// slash-separated, ending in AttachmentExt), which OPA does not read: a
// learned model the bundle ships for the detectors. The caller must not
// change the bytes.
func (p *Policy) Attachment(name string) ([]byte, bool) {
	b, ok := p.files[name]
	return b, ok
}

// Modules lists the file names of the policy modules, sorted, relative to
// the bundle root; tests are not included.
func (p *Policy) Modules() []string { return slices.Clone(p.modules) }

// Timings reports how long each load phase took.
func (p *Policy) Timings() Timings { return p.timings }

// CacheStatus reports whether Decide caches decisions, why not, and which
// input fields the cache key covers.
func (p *Policy) CacheStatus() CacheStatus {
	s := p.status
	s.Fields = slices.Clone(s.Fields)
	s.FindingFields = slices.Clone(s.FindingFields)
	s.Notes = slices.Clone(s.Notes)
	if p.decision != nil {
		p.decision.mu.RLock()
		if p.decision.closed {
			s.Enabled, s.Reason = false, "policy closed"
		}
		p.decision.mu.RUnlock()
	}
	return s
}

// CacheStats returns the decision cache's hit and miss counts so far.
func (p *Policy) CacheStats() (hits, misses uint64) {
	if p.decision == nil {
		return 0, 0
	}
	return p.decision.hits.Load(), p.decision.misses.Load()
}

// CacheMaxBytes reports the bound of the decision cache (WithCacheBytes),
// 0 when it is off.
func (p *Policy) CacheMaxBytes() int64 {
	if p.decision == nil {
		return 0
	}
	return p.decision.c.MaxCost()
}

// Close releases the decision cache and its goroutines. A closed Policy
// should no longer be used; if it is, Decide still answers correctly, by
// evaluating every time. Close is idempotent and never fails.
func (p *Policy) Close() error {
	if p.decision != nil {
		p.decision.close()
	}
	return nil
}

// keyBufs recycles cache key buffers.
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Decide evaluates the policy for in. An undefined decision returns an error
// wrapping [ErrUndefined]; a decision that is malformed (e.g. an action
// other than the five names) is an error too. The returned Decision carries
// the policy revision.
//
// Decisions may come from the cache: the Reasons, Alerts and Shadow slices
// (and Reason.Finding pointers) of the returned Decision may be shared with
// other callers and must not be modified.
func (p *Policy) Decide(ctx context.Context, in *Input) (Decision, error) {
	dc := p.decision
	if dc == nil {
		return p.eval(ctx, in)
	}
	bp := keyBufs.Get().(*[]byte)
	defer keyBufs.Put(bp)
	key := appendProjected((*bp)[:0], in, p.proj)
	*bp = key
	d, hit, active := dc.get(key)
	if hit {
		return d, nil
	}
	d, err := p.eval(ctx, in)
	if err == nil && active {
		dc.set(key, d)
	}
	return d, err
}

// eval evaluates the policy for in, bypassing the cache.
func (p *Policy) eval(ctx context.Context, in *Input) (Decision, error) {
	t, err := p.evalRaw(ctx, in, nil)
	if err != nil {
		return Decision{}, err
	}
	d, err := decodeDecision(t.Value)
	if err != nil {
		return Decision{}, fmt.Errorf("%w (policy %s)", err, p.revision)
	}
	d.Revision = p.revision
	return d, nil
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopyMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return x
	}
}

// sharedBaseCache is a topdown.BaseCache shared by all evaluations of one
// Policy. Base documents (bundle data) never change for a Policy, so values
// read from the store once stay valid; sharing the cache saves each
// evaluation from re-reading and re-caching them. Safe for concurrent use.
type sharedBaseCache struct {
	mu   sync.RWMutex // guards root and everything below it
	root *baseCacheNode
}

type baseCacheNode struct {
	value    ast.Value
	children map[ast.Value]*baseCacheNode
}

var _ topdown.BaseCache = (*sharedBaseCache)(nil)

// Get follows topdown's own base cache: the longest cached prefix of ref,
// then Find for the rest.
func (s *sharedBaseCache) Get(ref ast.Ref) ast.Value {
	s.mu.RLock()
	defer s.mu.RUnlock()
	node := s.root
	for i := range ref {
		node = node.children[ref[i].Value]
		if node == nil {
			return nil
		}
		if node.value != nil {
			v, err := node.value.Find(ref[i+1:])
			if err != nil {
				return nil
			}
			return v
		}
	}
	return nil
}

// Put stores value at ref.
func (s *sharedBaseCache) Put(ref ast.Ref, value ast.Value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	node := s.root
	for i := range ref {
		child, ok := node.children[ref[i].Value]
		if !ok {
			child = &baseCacheNode{}
			if node.children == nil {
				node.children = map[ast.Value]*baseCacheNode{}
			}
			node.children[ref[i].Value] = child
		}
		node = child
	}
	node.value = value
	node.children = nil
}
