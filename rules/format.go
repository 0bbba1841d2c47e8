package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
)

// Format formats one Rego v1 module the way `opa fmt` does, so that a
// bundle formatted here is also clean for the stock tool. name is the file
// name for error messages; a module that does not parse returns the
// parser's errors, with their lines (see [Problems]).
func Format(name string, src []byte) ([]byte, error) {
	out, err := format.SourceWithOpts(name, src, format.Opts{
		RegoVersion:   ast.RegoV1,
		Capabilities:  ast.CapabilitiesForThisVersion(),
		ParserOptions: &ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: ast.CapabilitiesForThisVersion()},
	})
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", name, err)
	}
	return out, nil
}

// FormattedFile is one Rego file and its formatted form, from
// [FormatFiles].
type FormattedFile struct {
	// Path is the file's path, as found under the paths given.
	Path string
	// Original is the file's content, Formatted the content formatted.
	Original, Formatted []byte

	mode fs.FileMode
}

// Changed reports whether formatting changes the file.
func (f FormattedFile) Changed() bool { return !bytes.Equal(f.Original, f.Formatted) }

// Diff returns a unified diff (3 lines of context) from the original to
// the formatted content, headed "--- PATH.orig" / "+++ PATH" as `gofmt -d`
// heads it; empty when nothing changes.
func (f FormattedFile) Diff() string {
	if !f.Changed() {
		return ""
	}
	return "--- " + f.Path + ".orig\n+++ " + f.Path + "\n" + unifiedDiff(f.Original, f.Formatted)
}

// Write replaces the file by its formatted content, keeping its mode, via a
// temporary file renamed over it so that a crash never leaves half a file.
// It does nothing when the file is already formatted.
func (f FormattedFile) Write() error {
	if !f.Changed() {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), "."+filepath.Base(f.Path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	_, err = tmp.Write(f.Formatted)
	if err == nil {
		err = tmp.Chmod(f.mode.Perm())
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.Path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	return nil
}

// FormatFiles formats every .rego file at paths: a file as given (whatever
// its name), a directory walked recursively for *.rego, as `opa fmt` does;
// files come back in the order of paths, each directory's in lexical order.
// A file that cannot be read or parsed is left out and its error joined
// into the returned error, so one bad file does not hide the others.
func FormatFiles(paths []string) ([]FormattedFile, error) {
	var (
		out  []FormattedFile
		errs []error
	)
	one := func(p string, mode fs.FileMode) {
		src, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			return
		}
		formatted, err := Format(p, src)
		if err != nil {
			errs = append(errs, err)
			return
		}
		out = append(out, FormattedFile{Path: p, Original: src, Formatted: formatted, mode: mode})
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !st.IsDir() {
			one(root, st.Mode())
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			if d.IsDir() || !strings.HasSuffix(p, ".rego") {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			one(p, info.Mode())
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// unifiedDiff returns the hunks of a unified diff from a to b, compared
// line by line.
func unifiedDiff(a, b []byte) string {
	const context = 3
	al, bl := splitLines(a), splitLines(b)
	ops := diffLines(al, bl)

	// pos[k] is how many lines of a and of b come before ops[k].
	type pos struct{ a, b int }
	at := make([]pos, len(ops)+1)
	for k, op := range ops {
		at[k+1] = at[k]
		if op.kind != '+' {
			at[k+1].a++
		}
		if op.kind != '-' {
			at[k+1].b++
		}
	}
	var out strings.Builder
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		// A hunk: from context lines before the first change to context
		// lines after the last change that is no more than 2*context
		// equal lines from the next.
		start := max(0, k-context)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				end = min(end+context, len(ops))
				break
			}
			end = run
		}
		na, nb := at[end].a-at[start].a, at[end].b-at[start].b
		sa, sb := at[start].a, at[start].b
		if na > 0 {
			sa++
		}
		if nb > 0 {
			sb++
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", sa, na, sb, nb)
		for _, op := range ops[start:end] {
			out.WriteByte(op.kind)
			out.WriteString(op.line)
			if !strings.HasSuffix(op.line, "\n") {
				out.WriteString("\n\\ No newline at end of file\n")
			}
		}
		k = end
	}
	return out.String()
}

// diffOp is one line of an edit script: kept (' '), deleted ('-') or
// inserted ('+').
type diffOp struct {
	kind byte
	line string
}

// maxDiffCells bounds the LCS table; past it the differing middle is shown
// as deleted then inserted whole (still a correct diff, just not minimal).
const maxDiffCells = 1 << 22

// diffLines returns an edit script from a to b: common prefix and suffix,
// and a longest-common-subsequence diff of the middle.
func diffLines(a, b []string) []diffOp {
	var ops []diffOp
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		ops = append(ops, diffOp{' ', a[p]})
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	ma, mb := a[p:len(a)-s], b[p:len(b)-s]
	n, m := len(ma), len(mb)
	if n*m > maxDiffCells {
		for _, l := range ma {
			ops = append(ops, diffOp{'-', l})
		}
		for _, l := range mb {
			ops = append(ops, diffOp{'+', l})
		}
	} else {
		// lcs[i*(m+1)+j] is the LCS length of ma[i:] and mb[j:].
		lcs := make([]int32, (n+1)*(m+1))
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*(m+1)+j] = lcs[(i+1)*(m+1)+j+1] + 1
				} else {
					lcs[i*(m+1)+j] = max(lcs[(i+1)*(m+1)+j], lcs[i*(m+1)+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && ma[i] == mb[j]:
				ops = append(ops, diffOp{' ', ma[i]})
				i, j = i+1, j+1
			case j == m || (i < n && lcs[(i+1)*(m+1)+j] >= lcs[i*(m+1)+j+1]):
				ops = append(ops, diffOp{'-', ma[i]})
				i++
			default:
				ops = append(ops, diffOp{'+', mb[j]})
				j++
			}
		}
	}
	for _, l := range a[len(a)-s:] {
		ops = append(ops, diffOp{' ', l})
	}
	return ops
}

// splitLines splits b after each newline; a last line without one is kept.
func splitLines(b []byte) []string {
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return slices.Clip(lines)
}
