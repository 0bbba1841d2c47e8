package rules

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// A policy's constants are its complete rules (one value, no arguments)
// whose value is the same in every evaluation: they read no input, call
// no non-deterministic built-in and no print, use no `with`, and depend
// only on data and on rules that are themselves so. A Policy's data never
// changes, so each is evaluated by the first query that needs it and
// served from then on to every other: a table that a policy derives from
// its data (the default policy's finding_tables: what each kind and
// severity of finding maps to, per tenant) costs once per policy revision
// rather than once per draft. That is what OPA's partial evaluation would
// fold at load time, without rewriting the policy. Under `opa test` or
// `opa eval` the same rules are simply evaluated per query, to the same
// values.
//
// The constants are kept in topdown's virtual-document cache, whose
// per-query frames (Push and Pop around a `with`) are honoured: under a
// `with`, which may replace data, nothing is served from or kept in the
// shared values.

// constants is the set of a Policy's constant rules and their values,
// shared by its evaluations. It is safe for concurrent use.
type constants struct {
	entries []constant
	// byName indexes entries by the last term of their ref (the rule's
	// name), so that a look-up, which topdown makes for every rule it
	// evaluates, compares whole refs only with the likely ones.
	byName map[string][]int
}

type constant struct {
	ref ast.Ref
	val atomic.Pointer[constValue]
}

// constValue is a constant's value, or undefined (term nil).
type constValue struct {
	term *ast.Term
}

// newConstants finds the constant rules of the compiled modules c holds.
func newConstants(c *ast.Compiler) *constants {
	a := &constAnalysis{c: c, state: map[*ast.Rule]int8{}}
	seen := map[string]bool{}
	cs := &constants{}
	for _, m := range c.Modules {
		for _, r := range m.Rules {
			if len(r.Head.Args) > 0 || r.Head.RuleKind() != ast.SingleValue {
				continue
			}
			ref := r.Ref()
			if !ref.IsGround() || seen[ref.String()] {
				continue
			}
			seen[ref.String()] = true
			if a.pure(c.GetRulesExact(ref)) {
				cs.entries = append(cs.entries, constant{ref: ref})
			}
		}
	}
	cs.byName = make(map[string][]int, len(cs.entries))
	for i := range cs.entries {
		if name, ok := lastName(cs.entries[i].ref); ok {
			cs.byName[name] = append(cs.byName[name], i)
		}
	}
	return cs
}

// warmBudget bounds the time warm spends on a policy's constants: a
// policy may derive something expensive from its data, or something
// without end, and a load (a reload, a check) must not hang on it.
const warmBudget = time.Second

// warm evaluates every constant once, when the policy is loaded, so that
// no draft pays for it: the first to need one would, under its inspection
// deadline, and one that a deadline cut short would leave it to the next.
// A constant whose evaluation fails, or does not end within warmBudget
// (with ctx), is left to the drafts, which then meet it as they would
// without constants.
func (cs *constants) warm(ctx context.Context, p *Policy) {
	ctx, cancel := context.WithTimeout(ctx, warmBudget)
	defer cancel()
	c := topdown.NewCancel()
	stop := context.AfterFunc(ctx, c.Cancel)
	defer stop()
	for i := range cs.entries {
		if ctx.Err() != nil {
			return
		}
		body, err := p.compiler.QueryCompiler().Compile(ast.NewBody(ast.Equality.Expr(ast.VarTerm("x"), ast.NewTerm(cs.entries[i].ref))))
		if err != nil {
			continue
		}
		q := p.newQuery(body).WithVirtualCache(cs.frame()).WithCancel(c)
		if _, err := q.Run(ctx); err != nil {
			continue // the drafts meet it, as above
		}
	}
}

// len returns how many constant rules there are.
func (cs *constants) len() int { return len(cs.entries) }

// refs returns the constant rules' paths, for tests and diagnostics.
func (cs *constants) refs() []string {
	out := make([]string, len(cs.entries))
	for i := range cs.entries {
		out[i] = cs.entries[i].ref.String()
	}
	return out
}

func (cs *constants) find(ref ast.Ref) *constant {
	name, ok := lastName(ref)
	if !ok {
		return nil
	}
	for _, i := range cs.byName[name] {
		if cs.entries[i].ref.Equal(ref) {
			return &cs.entries[i]
		}
	}
	return nil
}

// lastName returns the last term of ref when it is a string (a rule's
// name, as in every ground rule ref).
func lastName(ref ast.Ref) (string, bool) {
	if len(ref) == 0 {
		return "", false
	}
	s, ok := ref[len(ref)-1].Value.(ast.String)
	return string(s), ok
}

// frame returns the virtual-document cache of one evaluation: the shared
// constants, and its own cache for everything else.
func (cs *constants) frame() topdown.VirtualCache {
	return &constFrame{cs: cs, local: topdown.NewVirtualCache()}
}

// constFrame is a topdown.VirtualCache that serves and keeps the values
// of the constant rules in their shared entries, outside a `with` (depth
// 0), and everything else in the evaluation's own cache.
type constFrame struct {
	cs    *constants
	local topdown.VirtualCache
	depth int
}

func (f *constFrame) Push() { f.depth++; f.local.Push() }

func (f *constFrame) Pop() { f.depth--; f.local.Pop() }

func (f *constFrame) Get(ref ast.Ref) (*ast.Term, bool) {
	if f.depth == 0 {
		if c := f.cs.find(ref); c != nil {
			if v := c.val.Load(); v != nil {
				return v.term, v.term == nil
			}
		}
	}
	return f.local.Get(ref)
}

func (f *constFrame) Put(ref ast.Ref, value *ast.Term) {
	if f.depth == 0 {
		if c := f.cs.find(ref); c != nil {
			c.val.CompareAndSwap(nil, &constValue{term: value})
		}
	}
	f.local.Put(ref, value)
}

func (f *constFrame) Keys() []ast.Ref { return f.local.Keys() }

// constAnalysis decides which rules are pure: their value depends on data
// alone.
type constAnalysis struct {
	c     *ast.Compiler
	state map[*ast.Rule]int8 // 1 being checked, 2 pure, 3 not
}

// pure reports whether every rule of rs (and their else branches) is.
func (a *constAnalysis) pure(rs []*ast.Rule) bool {
	for _, r := range rs {
		for ; r != nil; r = r.Else {
			if !a.pureRule(r) {
				return false
			}
		}
	}
	return true
}

func (a *constAnalysis) pureRule(r *ast.Rule) bool {
	switch a.state[r] {
	case 1:
		return true // a cycle; the compiler refuses recursion anyway
	case 2:
		return true
	case 3:
		return false
	}
	a.state[r] = 1
	ok := a.check(r)
	a.state[r] = 3
	if ok {
		a.state[r] = 2
	}
	return ok
}

// check walks r's head and body (comprehensions included).
func (a *constAnalysis) check(r *ast.Rule) bool {
	ok := true
	visit := func(x any) {
		ast.WalkExprs(x, func(e *ast.Expr) bool {
			if len(e.With) > 0 {
				ok = false
			}
			return !ok
		})
		ast.WalkRefs(x, func(ref ast.Ref) bool {
			if !ok {
				return true
			}
			switch head := ref[0].Value.(type) {
			case ast.Var:
				switch {
				case head.Equal(ast.InputRootDocument.Value):
					ok = false
				case head.Equal(ast.DefaultRootDocument.Value):
					ok = a.pure(a.c.GetRules(ref.GroundPrefix()))
				default:
					if b, isBuiltin := ast.BuiltinMap[ref.String()]; isBuiltin {
						ok = !b.Nondeterministic && !extraNondeterministic[b.Name] && b.Name != "print" && b.Name != "internal.print"
					}
				}
			}
			return !ok
		})
		ast.WalkVars(x, func(v ast.Var) bool {
			if v.Equal(ast.InputRootDocument.Value) {
				ok = false
			}
			return !ok
		})
	}
	visit(r.Head)
	if ok {
		visit(r.Body)
	}
	return ok
}
