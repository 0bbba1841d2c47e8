package errcode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	name := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[string]Code{}
	for _, c := range All() {
		s := c.String()
		if !name.MatchString(s) {
			t.Errorf("code %q is not lower snake case", s)
		}
		if other, dup := seen[s]; dup {
			t.Errorf("code %q twice (%d and %d)", s, other, c)
		}
		seen[s] = c
		if p, ok := Parse(s); !ok || p != c {
			t.Errorf("Parse(%q) = %v, %v", s, p, ok)
		}
		for _, st := range c.Statuses() {
			if st < 400 || st > 599 || http.StatusText(st) == "" {
				t.Errorf("%s: status %d is not an HTTP error status", s, st)
			}
		}
		if !c.Allows(c.Status()) || c.Summary() == "" || c.Where() == "" {
			t.Errorf("%s: status %d, summary %q, where %q", s, c.Status(), c.Summary(), c.Where())
		}
		for _, w := range strings.Split(c.Where(), ", ") {
			if w != "agent" && w != "admin" && w != "jsonl" {
				t.Errorf("%s: where %q", s, w)
			}
		}
	}
	if _, ok := Parse("too_large"); ok {
		t.Error(`"too_large" parses: the JSONL code is body_too_large, as on HTTP`)
	}
	if Code(0).String() == "" || Code(0).Status() != 500 || Code(200).Allows(400) {
		t.Error("a code outside the table must not pass for one")
	}
}

// constNames returns the identifiers of the Code constants, in table order,
// read from this package's source.
func constNames(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errcode.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			for _, n := range sp.(*ast.ValueSpec).Names {
				if n.Name != "_" && n.Name != "numCodes" {
					names = append(names, n.Name)
				}
			}
		}
	}
	if len(names) != len(All()) {
		t.Fatalf("%d constants, %d codes", len(names), len(All()))
	}
	return names
}

// TestEveryCodeIsEmitted holds the table to the server both ways: every
// code in the table is used by the gateway's code (so none is listed that
// the server cannot answer), and no code is written as a string literal
// outside this package (so none is answered that the table lacks). The
// error helpers take a Code, which a string does not convert to.
func TestEveryCodeIsEmitted(t *testing.T) {
	names := constNames(t)
	codeName := map[string]bool{}
	for _, c := range All() {
		codeName[c.String()] = true
	}
	used := map[string]bool{}
	fset := token.NewFileSet()
	for _, root := range []string{"..", filepath.Join("..", "..", "cmd")} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" || path == "." {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			// replay's skip reasons are a report's own vocabulary (some
			// share a name with a code); they are never answered to a
			// client.
			if f.Name.Name == "errcode" || f.Name.Name == "replay" {
				return nil
			}
			metricArgs := map[*ast.BasicLit]bool{}
			ast.Inspect(f, func(n ast.Node) bool {
				// Metric reasons are labels, not error codes.
				if call, ok := n.(*ast.CallExpr); ok {
					if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Rejected" || sel.Sel.Name == "UpstreamError") {
						for _, a := range call.Args {
							if lit, ok := a.(*ast.BasicLit); ok {
								metricArgs[lit] = true
							}
						}
					}
				}
				return true
			})
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.SelectorExpr:
					if id, ok := x.X.(*ast.Ident); ok && id.Name == "errcode" {
						used[x.Sel.Name] = true
					}
				case *ast.BasicLit:
					if x.Kind == token.STRING && !metricArgs[x] {
						if s, err := strconv.Unquote(x.Value); err == nil && codeName[s] {
							t.Errorf("%s: error code %q written as a literal; use errcode", fset.Position(x.Pos()), s)
						}
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range All() {
		if !used[names[i]] {
			t.Errorf("code %s (errcode.%s) is in the table but the server never answers it", c, names[i])
		}
	}
}

// TestREADMEListsTheTable: the README's error code table is this table.
func TestREADMEListsTheTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), MarkdownTable()) {
		t.Errorf("README.md lacks the error code table; paste this in:\n%s", MarkdownTable())
	}
}
