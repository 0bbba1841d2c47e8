package main

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// dispatchedCommands reads the command names out of this package's own
// dispatch code, not out of the help text: every `switch args[0]` in a
// function is a dispatcher, its string cases are its commands, and a case
// that calls another dispatcher (case "rules": return runRules(…)) has that
// dispatcher's commands as subcommands ("rules fmt"). Cases that are flags
// (-h, --help) are not commands.
func dispatchedCommands(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	type caseInfo struct {
		names []string
		calls []string // functions the case body calls
	}
	dispatchers := map[string][]caseInfo{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				sw, ok := n.(*ast.SwitchStmt)
				if !ok || !isArgsZero(sw.Tag) {
					return true
				}
				for _, stmt := range sw.Body.List {
					cc := stmt.(*ast.CaseClause)
					var ci caseInfo
					for _, e := range cc.List {
						lit, ok := e.(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							continue
						}
						if s, _ := strconv.Unquote(lit.Value); s != "" && !strings.HasPrefix(s, "-") {
							ci.names = append(ci.names, s)
						}
					}
					for _, s := range cc.Body {
						ast.Inspect(s, func(n ast.Node) bool {
							if call, ok := n.(*ast.CallExpr); ok {
								if id, ok := call.Fun.(*ast.Ident); ok {
									ci.calls = append(ci.calls, id.Name)
								}
							}
							return true
						})
					}
					if len(ci.names) > 0 {
						dispatchers[fn.Name.Name] = append(dispatchers[fn.Name.Name], ci)
					}
				}
				return true
			})
		}
	}
	// The top-level dispatcher is the one no case calls.
	called := map[string]bool{}
	for _, cases := range dispatchers {
		for _, ci := range cases {
			for _, c := range ci.calls {
				called[c] = true
			}
		}
	}
	var tops []string
	for fn := range dispatchers {
		if !called[fn] {
			tops = append(tops, fn)
		}
	}
	if len(tops) != 1 {
		t.Fatalf("want one top-level dispatcher (a function with switch args[0] that no case calls), found %v", tops)
	}
	var out []string
	var walk func(fn, prefix string, depth int)
	walk = func(fn, prefix string, depth int) {
		if depth > 4 {
			t.Fatalf("dispatch nests too deep at %s", fn)
		}
		for _, ci := range dispatchers[fn] {
			var sub string
			for _, c := range ci.calls {
				if _, ok := dispatchers[c]; ok {
					sub = c
				}
			}
			for _, name := range ci.names {
				if sub != "" {
					walk(sub, prefix+name+" ", depth+1)
				} else {
					out = append(out, prefix+name)
				}
			}
		}
	}
	walk(tops[0], "", 0)
	if len(out) < 10 || !slices.Contains(out, "rules fmt") || !slices.Contains(out, "serve") {
		t.Fatalf("found only %v in the dispatch code: has it changed shape?", out)
	}
	return out
}

// isArgsZero reports whether e is args[0].
func isArgsZero(e ast.Expr) bool {
	ix, ok := e.(*ast.IndexExpr)
	if !ok {
		return false
	}
	id, ok := ix.X.(*ast.Ident)
	lit, ok2 := ix.Index.(*ast.BasicLit)
	return ok && ok2 && id.Name == "args" && lit.Value == "0"
}

// listed returns the command names of a help text's command list.
func listed(help string) []string {
	_, list, ok := strings.Cut(help, "\ncommands:\n")
	if !ok {
		return nil
	}
	list, _, _ = strings.Cut(list, "\n\n")
	var names []string
	for _, line := range strings.Split(list, "\n") {
		// "  rules fmt    format Rego files…": the name, then two spaces.
		if name, _, ok := strings.Cut(strings.TrimSpace(line), "  "); ok {
			names = append(names, name)
		}
	}
	return names
}

func TestHelpListsEveryCommand(t *testing.T) {
	cmds := dispatchedCommands(t)
	t.Logf("dispatched: %v", cmds)

	help, _, err := runCLI(t, "", "help")
	if err != nil {
		t.Fatalf("xunjian help: %v", err)
	}
	got := listed(help)
	for _, c := range cmds {
		if !slices.Contains(got, c) {
			t.Errorf("xunjian help does not list %q:\n%s", c, help)
		}
	}
	for _, c := range got {
		if !slices.Contains(cmds, c) {
			t.Errorf("xunjian help lists %q, which the dispatch code does not run", c)
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}} {
		out, _, err := runCLI(t, "", args...)
		if err != nil || out != help {
			t.Errorf("xunjian %s: err %v, output differs from xunjian help:\n%s", args[0], err, out)
		}
	}
	// An unknown command and no command at all: a usage error (exit 2)
	// carrying the same list.
	for _, args := range [][]string{{"frobnicate"}, {}, {"help", "frobnicate"}} {
		_, _, err := runCLI(t, "", args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("xunjian %q: err = %v, want a usage error", args, err)
			continue
		}
		for _, c := range cmds {
			if !slices.Contains(listed(err.Error()), c) {
				t.Errorf("xunjian %q: the usage error does not list %q:\n%v", args, c, err)
			}
		}
	}

	// Every command has its own help, the same by `help COMMAND` and by
	// `COMMAND -h`, naming the command's usage line and, for commands that
	// take flags, each flag the command itself prints on -h.
	flagLine := regexp.MustCompile(`(?m)^  -[a-z][a-z-]*`)
	groups := map[string]bool{}
	for _, c := range cmds {
		words := strings.Fields(c)
		if len(words) > 1 {
			groups[words[0]] = true
		}
		out, _, err := runCLI(t, "", append([]string{"help"}, words...)...)
		if err != nil {
			t.Errorf("xunjian help %s: %v", c, err)
			continue
		}
		if !strings.Contains(out, "usage: xunjian "+c) {
			t.Errorf("xunjian help %s lacks its usage line:\n%s", c, out)
		}
		for _, h := range []string{"-h", "--help"} {
			out2, _, err := runCLI(t, "", append(words, h)...)
			if err != nil || out2 != out {
				t.Errorf("xunjian %s %s: err %v, output differs from xunjian help %s:\n%s", c, h, err, c, out2)
			}
		}
		if cm, ok := lookup(c); ok && cm.flags && len(flagLine.FindAllString(out, -1)) == 0 {
			t.Errorf("xunjian help %s shows no flags:\n%s", c, out)
		}
	}
	// A command with subcommands lists them on help and -h.
	for g := range groups {
		out, _, err := runCLI(t, "", "help", g)
		if err != nil {
			t.Errorf("xunjian help %s: %v", g, err)
			continue
		}
		for _, c := range cmds {
			if strings.HasPrefix(c, g+" ") && !strings.Contains(out, "  "+c+" ") {
				t.Errorf("xunjian help %s does not list %q:\n%s", g, c, out)
			}
		}
		if out2, _, err := runCLI(t, "", g, "-h"); err != nil || out2 != out {
			t.Errorf("xunjian %s -h: err %v, output differs from xunjian help %s:\n%s", g, err, g, out2)
		}
	}
}

// TestHelpDoesNotRunTheCommand: -h after a command that takes no flags
// (hash-key would hash "-h") is help, not an argument.
func TestHelpDoesNotRunTheCommand(t *testing.T) {
	out, _, err := runCLI(t, "", "hash-key", "-h")
	if err != nil || strings.Contains(out, "hash:") || !strings.Contains(out, "usage: xunjian hash-key") {
		t.Errorf("xunjian hash-key -h: %v\n%s", err, out)
	}
}
