package rules

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Decision cache
//
// Rego evaluation is a pure function of (input, data, policy) as long as the
// policy calls no non-deterministic built-in. A Policy's data and modules
// never change, so a decision can be cached per Policy, keyed on the part of
// the input the policy can read. Which part that is follows from the
// compiled modules: every ref rooted at input has a longest ground prefix
// (input.draft.role → draft.role, input.findings[i] → findings, input[x] or
// a bare input → everything), and nothing outside those prefixes can
// influence the result. The key projects the Input onto them at field
// granularity: second level for draft, conversation, agent and tenant, and
// for findings their number and, of each, the fields the policy reads.
//
// A finding's fields are found by following the variables bound to a
// finding: a variable whose only binding is v = input.findings[i] (what
// `some i, v in input.findings` compiles to) and whose every other use is
// v.<field> or object.get(v, "<field>" or ["<field>", ...], default) reads
// those fields only; input.findings[i].<field> reads <field>;
// count(input.findings) and input.findings == [] read their number only. Any other use of such a
// variable (passing it to a function, comparing it whole, iterating its
// keys, a second binding) or of input.findings (a bare reference, `every`)
// reads every field of every finding.

// inputField is one projectable field of the Input, a bit in a fieldMask.
type inputField uint8

const (
	fDraftText inputField = iota
	fDraftNormalized
	fDraftRole
	fDraftLang
	fFindings
	fConvID
	fConvTurns
	fConvEscalations
	fConvRisk
	fConvWait
	fAgentID
	fTenantID
	numInputFields
)

// findingField is one field of a finding, a bit in a findingMask.
type findingField uint8

const (
	ffDetector findingField = iota
	ffKind
	ffSeverity
	ffScore
	ffStart
	ffEnd
	ffEvidence
	ffRule
	ffLexicon
	numFindingFields
)

// findingMask is a set of finding fields.
type findingMask uint16

const allFindingFields findingMask = 1<<numFindingFields - 1

func (m findingMask) has(f findingField) bool { return m&(1<<f) != 0 }

// findingFieldNames are the fields' JSON names (see Finding).
var findingFieldNames = [numFindingFields]string{
	"detector", "kind", "severity", "score", "start", "end", "evidence", "rule", "lexicon",
}

func findingFieldOf(name string) (findingField, bool) {
	for f, n := range findingFieldNames {
		if n == name {
			return findingField(f), true
		}
	}
	return 0, false
}

func (m findingMask) names() []string {
	if m == allFindingFields {
		return nil
	}
	out := []string{}
	for f := range numFindingFields {
		if m.has(f) {
			out = append(out, findingFieldNames[f])
		}
	}
	return out
}

// projection is the part of the Input a policy can read: the fields, and
// of each finding (when fields has fFindings) the finding fields.
type projection struct {
	fields  fieldMask
	finding findingMask
}

// fieldMask is a set of input fields.
type fieldMask uint16

const allFields fieldMask = 1<<numInputFields - 1

func (m fieldMask) has(f inputField) bool { return m&(1<<f) != 0 }

// inputSchema maps the input document's top-level keys and their fields to
// mask bits. Findings are projected as a whole.
var inputSchema = map[string]struct {
	all    fieldMask
	fields map[string]inputField
}{
	"draft": {fields: map[string]inputField{
		"text": fDraftText, "normalized": fDraftNormalized, "role": fDraftRole, "lang": fDraftLang,
	}},
	"findings": {all: 1 << fFindings},
	"conversation": {fields: map[string]inputField{
		"id": fConvID, "turns": fConvTurns, "customer_escalations": fConvEscalations,
		"risk": fConvRisk, "wait_seconds": fConvWait,
	}},
	"agent":  {fields: map[string]inputField{"id": fAgentID}},
	"tenant": {fields: map[string]inputField{"id": fTenantID}},
}

// maskOf returns the fields an input ref with ground path prefix path can
// read: the whole input for an empty path, a whole top-level object for a
// one-element path. Paths into keys the Input never has select nothing:
// they are undefined for every input.
func maskOf(path []string) fieldMask {
	if len(path) == 0 {
		return allFields
	}
	top, ok := inputSchema[path[0]]
	if !ok {
		return 0
	}
	if top.fields == nil {
		return top.all
	}
	if len(path) == 1 {
		var m fieldMask
		for _, f := range top.fields {
			m |= 1 << f
		}
		return m
	}
	if f, ok := top.fields[path[1]]; ok {
		return 1 << f
	}
	return 0
}

// extraNondeterministic names built-ins whose results depend on more than
// their arguments but which ast.BuiltinMap may not flag (belt and braces).
var extraNondeterministic = map[string]bool{
	"time.now_ns": true, "rand.intn": true, "uuid.rfc4122": true, "http.send": true,
	"net.lookup_ip_addr": true, "opa.runtime": true, "io.jwt.decode_verify": true,
}

// analyzeInput walks the compiled non-test modules: it returns the part of
// the input they can read and, when evaluation is not a pure function of
// its input, why the decision cache must stay off.
func analyzeInput(c *ast.Compiler, files []string) (proj projection, nondet []string, notes []string) {
	seenND := map[string]bool{}
	seenPrint := false
	for _, file := range files {
		m := c.Modules[file]
		if m == nil {
			continue
		}
		proj = proj.union(inputReads(m))
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if r.HasPrefix(ast.InputRootRef) {
				return false
			}
			// Any ref naming a built-in: a call's operator, or a
			// function used as a `with` replacement.
			name := r.String()
			if b, ok := ast.BuiltinMap[name]; ok && (b.Nondeterministic || extraNondeterministic[name]) {
				if !seenND[name] {
					seenND[name] = true
					nondet = append(nondet, fmt.Sprintf("%s calls non-deterministic %s", file, name))
				}
			}
			if name == "print" && !seenPrint {
				seenPrint = true
				notes = append(notes, file+" calls print (output is not repeated on cache hits)")
			}
			return false
		})
	}
	slices.Sort(nondet)
	if !proj.fields.has(fFindings) {
		proj.finding = 0
	}
	return proj, nondet, notes
}

func (p projection) union(q projection) projection {
	return projection{fields: p.fields | q.fields, finding: p.finding | q.finding}
}

var (
	findingsKey  = ast.StringTerm("findings")
	objectGetRef = ast.ObjectGet.Ref()
	countRef     = ast.Count.Ref()
	equalRef     = ast.Equal.Ref()
	neqRef       = ast.NotEqual.Ref()
)

// findingBinding reports whether e is v = input.findings[i] (either way
// round): the binding of a finding variable. With list, it reports
// whether e is v = input.findings: the binding of a variable the compiler
// introduces for input.findings as a call's operand (count(input.findings)
// compiles to v = input.findings; count(v, n)).
func findingBinding(e *ast.Expr, list bool) (v ast.Var, elem ast.Ref, ok bool) {
	if !e.IsEquality() && !e.IsAssignment() || len(e.With) > 0 || e.Negated {
		return "", nil, false
	}
	ops := e.Operands()
	if len(ops) != 2 {
		return "", nil, false
	}
	n := 3
	if list {
		n = 2
	}
	for _, p := range [2][2]*ast.Term{{ops[0], ops[1]}, {ops[1], ops[0]}} {
		v, isVar := p[0].Value.(ast.Var)
		r, isRef := p[1].Value.(ast.Ref)
		if isVar && isRef && len(r) == n && r.HasPrefix(ast.InputRootRef) && r[1].Equal(findingsKey) {
			return v, r, true
		}
	}
	return "", nil, false
}

// inputReads returns the part of the input module m can read (see the
// comment at the top of this file).
func inputReads(m *ast.Module) projection {
	// Pass 1: the finding variables and the list variables, each to be
	// bound exactly once.
	binds := map[ast.Var]int{}
	lists := map[ast.Var]bool{}
	// Variables the compiler binds to other parts of the input (an
	// operand: object.get(input, ["draft", "role"], "agent") compiles to
	// v = input; object.get(v, ...)).
	refs := map[ast.Var]ast.Ref{}
	ast.WalkExprs(m, func(e *ast.Expr) bool {
		if v, _, ok := findingBinding(e, false); ok {
			binds[v]++
		}
		if v, _, ok := findingBinding(e, true); ok {
			binds[v]++
			lists[v] = true
		}
		if v, r, ok := inputBinding(e); ok {
			binds[v]++
			refs[v] = r
		}
		return false
	})
	// inputOperand returns t as a ref rooted at input (input itself
	// included, and a variable bound to one), but not when it is the
	// findings or one of them, which the finding variables handle.
	inputOperand := func(t *ast.Term) (ast.Ref, bool) {
		if v, ok := t.Value.(ast.Var); ok {
			if r, ok := refs[v]; ok {
				return r, binds[v] == 1
			}
		}
		return asInputRef(t)
	}
	isFinding := func(t *ast.Term) (ast.Var, bool) {
		v, ok := t.Value.(ast.Var)
		_, isRef := refs[v]
		return v, ok && binds[v] > 0 && !lists[v] && !isRef
	}
	// isList reports whether t is input.findings or a list variable.
	isList := func(t *ast.Term) bool {
		switch x := t.Value.(type) {
		case ast.Var:
			return binds[x] == 1 && lists[x]
		case ast.Ref:
			return len(x) == 2 && x.HasPrefix(ast.InputRootRef) && x[1].Equal(findingsKey)
		}
		return false
	}

	// Pass 2: every use of the input and of those variables.
	var proj projection
	read := func(name string) {
		if f, ok := findingFieldOf(name); ok {
			proj.finding |= 1 << f
		}
	}
	var vis *ast.GenericVisitor
	walkAll := func(ts []*ast.Term) {
		for _, t := range ts {
			vis.Walk(t)
		}
	}
	vis = ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case *ast.Expr:
			if v, elem, ok := findingBinding(x, false); ok && binds[v] == 1 {
				// Iterating the findings reads how many there are.
				proj.fields |= 1 << fFindings
				vis.Walk(elem[2])
				return true
			}
			if v, _, ok := findingBinding(x, true); ok && binds[v] == 1 {
				// Read by its uses: count (below) or any other.
				return true
			}
			if v, _, ok := inputBinding(x); ok && binds[v] == 1 {
				// Read by its uses: object.get (below) or any other.
				return true
			}
			if (x.IsEquality() || x.IsCall() && (x.Operator().Equal(equalRef) || x.Operator().Equal(neqRef))) && len(x.With) == 0 {
				// input.findings == [] (or !=) reads whether there are any.
				if ops := x.Operands(); len(ops) >= 2 {
					for _, p := range [2][2]*ast.Term{{ops[0], ops[1]}, {ops[1], ops[0]}} {
						if a, ok := p[1].Value.(*ast.Array); ok && a.Len() == 0 && isList(p[0]) {
							proj.fields |= 1 << fFindings
							walkAll(ops[2:])
							return true
						}
					}
				}
			}
			if x.IsCall() && x.Operator().Equal(countRef) && len(x.With) == 0 {
				// count(input.findings) reads how many there are.
				if ops := x.Operands(); len(ops) >= 1 && isList(ops[0]) {
					proj.fields |= 1 << fFindings
					walkAll(ops[1:])
					return true
				}
			}
			if x.IsCall() && x.Operator().Equal(objectGetRef) && len(x.With) == 0 {
				// object.get(input.<path>, "<key>" or ["<key>", ...], default)
				// reads what input.<path>.<key>... reads.
				ops := x.Operands()
				if r, ok := inputOperand(ops[0]); ok && len(ops) >= 2 {
					if keys, ok := constPath(ops[1]); ok {
						vis.Walk(append(r.Copy(), keys...))
						walkAll(ops[2:])
						return true
					}
				}
			}
			if x.IsCall() && x.Operator().Equal(objectGetRef) && !x.Negated && len(x.With) == 0 {
				ops := x.Operands()
				if _, ok := isFinding(ops[0]); ok && len(ops) >= 2 {
					if name, ok := firstKey(ops[1]); ok {
						read(name)
						walkAll(ops[1:])
						return true
					}
				}
			}
		case ast.Ref:
			if x.HasPrefix(ast.InputRootRef) {
				var path []string
				for _, t := range x[1:] {
					s, ok := t.Value.(ast.String)
					if !ok {
						break
					}
					path = append(path, string(s))
				}
				proj.fields |= maskOf(path)
				switch {
				case len(path) == 0:
					proj.finding = allFindingFields
				case path[0] != "findings":
				case len(x) >= 4 && len(path) == 1:
					// input.findings[i].<field>: path stops at the index.
					if s, ok := x[3].Value.(ast.String); ok {
						read(string(s))
					} else {
						proj.finding = allFindingFields
					}
				default:
					proj.finding = allFindingFields
				}
				return false // the index terms may use variables
			}
			if _, ok := isFinding(x[0]); ok && len(x) >= 2 {
				if s, ok := x[1].Value.(ast.String); ok {
					read(string(s))
					walkAll(x[1:])
					return true
				}
			}
		case ast.Var:
			if r, ok := refs[x]; ok && binds[x] == 1 {
				// A variable bound to a part of the input, used
				// otherwise than by object.get: it reads all of it.
				vis.Walk(r)
				return true
			}
			if binds[x] > 0 {
				// A finding variable used whole, or bound twice.
				proj.fields |= 1 << fFindings
				proj.finding = allFindingFields
			}
		}
		return false
	})
	vis.Walk(m)
	return proj
}

// inputBinding reports whether e is v = input.<path> (either way round,
// input itself included) for a path that does not start at the findings:
// a variable the compiler introduces for an operand.
func inputBinding(e *ast.Expr) (v ast.Var, r ast.Ref, ok bool) {
	if !e.IsEquality() && !e.IsAssignment() || len(e.With) > 0 || e.Negated {
		return "", nil, false
	}
	ops := e.Operands()
	if len(ops) != 2 {
		return "", nil, false
	}
	for _, p := range [2][2]*ast.Term{{ops[0], ops[1]}, {ops[1], ops[0]}} {
		v, isVar := p[0].Value.(ast.Var)
		if r, ok := asInputRef(p[1]); isVar && !v.Equal(ast.InputRootDocument.Value) && ok {
			return v, r, true
		}
	}
	return "", nil, false
}

// asInputRef returns t as a ref when it is rooted at input (input itself
// included) and does not start at the findings.
func asInputRef(t *ast.Term) (ast.Ref, bool) {
	switch x := t.Value.(type) {
	case ast.Ref:
		return x, isInputRef(x)
	case ast.Var:
		if x.Equal(ast.InputRootDocument.Value) {
			return ast.InputRootRef, true
		}
	}
	return nil, false
}

// isInputRef reports whether r is rooted at input and does not start at
// the findings.
func isInputRef(r ast.Ref) bool {
	return r.HasPrefix(ast.InputRootRef) && (len(r) < 2 || !r[1].Equal(findingsKey))
}

// constPath returns the keys an object.get key selects: the key itself when
// it is a string, the elements of a path array of strings.
func constPath(t *ast.Term) ([]*ast.Term, bool) {
	switch k := t.Value.(type) {
	case ast.String:
		return []*ast.Term{t}, true
	case *ast.Array:
		keys := make([]*ast.Term, k.Len())
		for i := range keys {
			if _, ok := k.Elem(i).Value.(ast.String); !ok {
				return nil, false
			}
			keys[i] = k.Elem(i)
		}
		return keys, true
	}
	return nil, false
}

// firstKey is the field an object.get key selects first: the key itself
// when it is a string, the first element of a path array.
func firstKey(t *ast.Term) (string, bool) {
	switch k := t.Value.(type) {
	case ast.String:
		return string(k), true
	case *ast.Array:
		if k.Len() > 0 {
			if s, ok := k.Elem(0).Value.(ast.String); ok {
				return string(s), true
			}
		}
	}
	return "", false
}

// CacheStatus reports whether the decision cache is on and why.
type CacheStatus struct {
	// Enabled is true when Decide serves repeated inputs from the cache.
	Enabled bool
	// Reason explains a disabled cache (or is empty), e.g. a module that
	// calls time.now_ns.
	Reason string
	// Fields lists the input fields the key is built from, e.g.
	// "draft.role", "findings"; "input" means the whole input.
	Fields []string
	// FindingFields lists, when Fields has "findings", the fields of each
	// finding the key is built from (besides their number), e.g. "kind",
	// "severity"; nil means all of them.
	FindingFields []string `json:",omitempty"`
	// Notes are remarks that do not disable the cache, e.g. print calls.
	Notes []string
}

// String renders the status on one line.
func (s CacheStatus) String() string {
	if !s.Enabled {
		return "decision cache off: " + s.Reason
	}
	fields := s.Fields
	if s.FindingFields != nil {
		fields = slices.Clone(fields)
		if i := slices.Index(fields, "findings"); i >= 0 {
			fields[i] = "findings[" + strings.Join(s.FindingFields, ",") + "]"
		}
	}
	return "decision cache on, keyed on " + strings.Join(fields, ",")
}

var fieldNames = [numInputFields]string{
	"draft.text", "draft.normalized", "draft.role", "draft.lang", "findings",
	"conversation.id", "conversation.turns", "conversation.customer_escalations",
	"conversation.risk", "conversation.wait_seconds", "agent.id", "tenant.id",
}

func (m fieldMask) names() []string {
	if m == allFields {
		return []string{"input"}
	}
	var out []string
	for f := range numInputFields {
		if m.has(f) {
			out = append(out, fieldNames[f])
		}
	}
	return out
}

// Key tags: one byte before each projected field, so keys of different
// projections can never be confused.
const (
	tagDraftText = 'a' + iota
	tagDraftNormalized
	tagDraftRole
	tagDraftLang
	tagFindings
	tagConvID
	tagConvTurns
	tagConvEscalations
	tagConvRisk
	tagConvWait
	tagAgentID
	tagTenantID
)

// appendKey appends the projection of in onto mask (every field of each
// finding) to b; see appendProjected.
func appendKey(b []byte, in *Input, mask fieldMask) []byte {
	return appendProjected(b, in, projection{fields: mask, finding: allFindingFields})
}

// appendProjected appends the projection of in onto p to b: per field a
// tag, then strings as uvarint length and bytes, integers as varints,
// floats as their 8 IEEE-754 bytes (exact; floats that differ in any bit
// get different keys), findings as a count and the projected fields of
// each.
func appendProjected(b []byte, in *Input, p projection) []byte {
	mask, fm := p.fields, p.finding
	str := func(b []byte, tag byte, s string) []byte {
		b = append(b, tag)
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	}
	num := func(b []byte, tag byte, i int) []byte {
		return binary.AppendVarint(append(b, tag), int64(i))
	}
	flt := func(b []byte, tag byte, f float64) []byte {
		return binary.LittleEndian.AppendUint64(append(b, tag), math.Float64bits(f))
	}
	if mask.has(fDraftText) {
		b = str(b, tagDraftText, in.Draft.Text)
	}
	if mask.has(fDraftNormalized) {
		b = str(b, tagDraftNormalized, in.Draft.Normalized)
	}
	if mask.has(fDraftRole) {
		b = str(b, tagDraftRole, in.Draft.Role)
	}
	if mask.has(fDraftLang) {
		b = str(b, tagDraftLang, in.Draft.Lang)
	}
	if mask.has(fFindings) {
		b = binary.AppendUvarint(append(b, tagFindings), uint64(len(in.Findings)))
		for i := range in.Findings {
			f := &in.Findings[i]
			if fm.has(ffDetector) {
				b = str(b, 'd', f.Detector)
			}
			if fm.has(ffKind) {
				b = str(b, 'k', f.Kind)
			}
			if fm.has(ffSeverity) {
				b = str(b, 's', f.Severity)
			}
			if fm.has(ffScore) {
				b = flt(b, 'c', f.Score)
			}
			if fm.has(ffStart) {
				b = num(b, 'b', f.Start)
			}
			if fm.has(ffEnd) {
				b = num(b, 'e', f.End)
			}
			if fm.has(ffEvidence) {
				b = str(b, 'v', f.Evidence)
			}
			if fm.has(ffRule) {
				b = str(b, 'r', f.Rule)
			}
			if fm.has(ffLexicon) {
				b = str(b, 'l', f.Lexicon)
			}
		}
	}
	if mask.has(fConvID) {
		b = str(b, tagConvID, in.Conversation.ID)
	}
	if mask.has(fConvTurns) {
		b = num(b, tagConvTurns, in.Conversation.Turns)
	}
	if mask.has(fConvEscalations) {
		b = num(b, tagConvEscalations, in.Conversation.CustomerEscalations)
	}
	if mask.has(fConvRisk) {
		b = flt(b, tagConvRisk, in.Conversation.Risk)
	}
	if mask.has(fConvWait) {
		b = flt(b, tagConvWait, in.Conversation.WaitSeconds)
	}
	if mask.has(fAgentID) {
		b = str(b, tagAgentID, in.Agent.ID)
	}
	if mask.has(fTenantID) {
		b = str(b, tagTenantID, in.Tenant.ID)
	}
	return b
}

// DefaultCacheBytes bounds each Policy's decision cache unless
// [WithCacheBytes] says otherwise.
const DefaultCacheBytes = 16 << 20

// cacheEntry is a cached decision with its full key: ristretto keeps only
// hashes of keys, so a hit is confirmed by comparing the key itself.
type cacheEntry struct {
	key string
	d   Decision
}

// decisionCache wraps a ristretto cache. The lock makes Get and Set safe
// against a concurrent close (ristretto panics on a Set racing Close).
type decisionCache struct {
	mu     sync.RWMutex
	closed bool
	c      *ristretto.Cache[string, *cacheEntry]
	hits   atomic.Uint64
	misses atomic.Uint64
}

var (
	keySeed1 = maphash.MakeSeed()
	keySeed2 = maphash.MakeSeed()
)

func newDecisionCache(maxBytes int64) (*decisionCache, error) {
	// About 1 KiB per entry; ristretto wants ~10 counters per entry.
	counters := max(maxBytes/1024*10, 1000)
	c, err := ristretto.NewCache(&ristretto.Config[string, *cacheEntry]{
		NumCounters:        counters,
		MaxCost:            maxBytes,
		BufferItems:        64,
		IgnoreInternalCost: true,
		KeyToHash: func(k string) (uint64, uint64) {
			return maphash.String(keySeed1, k), maphash.String(keySeed2, k)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("rules: decision cache: %w", err)
	}
	return &decisionCache{c: c}, nil
}

// get looks key up. ok reports a hit; active is false once the cache is
// closed (the caller then neither counts nor stores).
func (dc *decisionCache) get(key []byte) (d Decision, ok, active bool) {
	dc.mu.RLock()
	defer dc.mu.RUnlock()
	if dc.closed {
		return Decision{}, false, false
	}
	// The key is only hashed, never retained.
	e, found := dc.c.Get(unsafeString(key))
	if found && e.key == string(key) {
		dc.hits.Add(1)
		return e.d, true, true
	}
	dc.misses.Add(1)
	return Decision{}, false, true
}

func (dc *decisionCache) set(key []byte, d Decision) {
	e := &cacheEntry{key: string(key), d: d}
	dc.mu.RLock()
	defer dc.mu.RUnlock()
	if !dc.closed {
		dc.c.Set(e.key, e, entryCost(e))
	}
}

// wait blocks until buffered Sets are applied (for tests).
func (dc *decisionCache) wait() {
	dc.mu.RLock()
	defer dc.mu.RUnlock()
	if !dc.closed {
		dc.c.Wait()
	}
}

func (dc *decisionCache) close() {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if !dc.closed {
		dc.closed = true
		dc.c.Close()
	}
}

// entryCost is a rough size of e in bytes.
func entryCost(e *cacheEntry) int64 {
	n := 64 + len(e.key) + len(e.d.Revision)
	for _, rs := range [][]Reason{e.d.Reasons, e.d.Shadow} {
		for _, r := range rs {
			n += 80 + len(r.Rule) + len(r.Message) + len(r.Suggestion)
		}
	}
	for _, a := range e.d.Alerts {
		n += 48 + len(a.Level) + len(a.Kind) + len(a.Message)
	}
	return int64(n)
}

// unsafeString views b as a string without copying; the string must not
// outlive b's next modification.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
