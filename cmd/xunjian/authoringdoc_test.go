package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A docBlock is one fenced code block of a Markdown page, with the
// section it is in and the prose before it.
type docBlock struct {
	lang, body string
	line       int    // of the opening fence
	section    string // the "## " heading above it
	prose      string // the text since the previous block
}

func docBlocks(t *testing.T, src string) []docBlock {
	t.Helper()
	var blocks []docBlock
	var cur *docBlock
	var prose strings.Builder
	section := ""
	for i, line := range strings.Split(src, "\n") {
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		case strings.HasPrefix(line, "```"):
			cur = &docBlock{lang: strings.TrimPrefix(line, "```"), line: i + 1, section: section, prose: prose.String()}
			prose.Reset()
		default:
			if strings.HasPrefix(line, "## ") {
				section = line
				prose.Reset()
			}
			prose.WriteString(line + "\n")
		}
	}
	if cur != nil {
		t.Fatalf("line %d: code block not closed", cur.line)
	}
	return blocks
}

// shellWords splits a command line as sh would for the simple commands of
// the docs: words, "double" and 'single' quotes, a # comment.
func shellWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"' || c == '\'':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated %c", c)
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(line)
		case strings.IndexByte("|&;<>$`\\", c) >= 0:
			return nil, fmt.Errorf("shell syntax %q is not supported here", c)
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// outputPattern turns an output block into a regular expression: "…" in a
// line matches any text within the line, a line of "…" alone any number of
// whole lines.
func outputPattern(block string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		if strings.TrimSpace(line) == "…" {
			b.WriteString(`(?:[^\n]*\n)*?`)
			continue
		}
		parts := strings.Split(line, "…")
		for i, p := range parts {
			if i > 0 {
				b.WriteString(`[^\n]*?`)
			}
			b.WriteString(regexp.QuoteMeta(p))
		}
		b.WriteString(`\n`)
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// TestAuthoringDocOutput reads docs/authoring.md and does what it says, in
// its order, in a directory laid out as the repository root: the `cp -r`
// lines, the files each step names under my-bundle/ (from
// docs/example-rule/bundle, as the page says to copy them), the one-line
// package change of step 6, and every `xunjian` command. What a command
// prints (stdout, stderr, and the error line main would print) must match
// the output block right under its code block; a command without one must
// succeed. Commands in a pipeline (tail | jq, which needs a running
// gateway) are not run.
func TestAuthoringDocOutput(t *testing.T) {
	const page = "../../docs/authoring.md"
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	example, err := filepath.Abs("../../docs/example-rule/bundle")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, dir := range []string{"rules/bundle", "docs/example-rule"} {
		if err := os.CopyFS(filepath.Join(root, dir), os.DirFS(filepath.Join("../..", dir))); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(root)

	bundlePath := regexp.MustCompile("`(my-bundle/[^`]+)`")
	blocks := docBlocks(t, string(src))
	ran, compared := 0, 0
	for i, b := range blocks {
		where := fmt.Sprintf("%s:%d (%s)", page, b.line, b.section)
		// The files this step names: copy those that are not there yet.
		var named []string
		for _, m := range bundlePath.FindAllStringSubmatch(b.prose, -1) {
			rel := m[1]
			named = append(named, rel)
			if _, err := os.Stat(rel); err == nil {
				continue
			}
			data, err := os.ReadFile(filepath.Join(example, strings.TrimPrefix(rel, "my-bundle/")))
			if err != nil {
				t.Fatalf("%s: names %s, which neither my-bundle nor docs/example-rule/bundle has: %v", where, rel, err)
			}
			if err := os.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(rel, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		switch b.lang {
		case "rego":
			// "Change one line in FILE": a block of one package line.
			line := strings.TrimSpace(b.body)
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "package ") {
				continue
			}
			var file string
			for _, n := range named {
				if strings.HasSuffix(n, ".rego") {
					file = n
				}
			}
			if file == "" {
				t.Fatalf("%s: a package line to change, but no my-bundle/….rego file named before it", where)
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			re := regexp.MustCompile(`(?m)^package .*$`)
			if !re.Match(data) {
				t.Fatalf("%s: %s has no package line", where, file)
			}
			if err := os.WriteFile(file, re.ReplaceAll(data, []byte(line)), 0o644); err != nil {
				t.Fatal(err)
			}
		case "sh":
			var output *docBlock
			if i+1 < len(blocks) && blocks[i+1].lang == "text" && strings.TrimSpace(blocks[i+1].prose) == "" {
				output = &blocks[i+1]
			}
			lines := strings.Split(strings.TrimSpace(b.body), "\n")
			for j, line := range lines {
				line = strings.TrimSpace(line)
				if strings.Contains(line, "|") {
					t.Logf("%s: not run (a pipeline, needs a running gateway): %s", where, line)
					continue
				}
				words, err := shellWords(line)
				if err != nil {
					t.Fatalf("%s: %s: %v", where, line, err)
				}
				if len(words) == 0 {
					continue
				}
				switch {
				case len(words) == 4 && words[0] == "cp" && words[1] == "-r":
					if err := os.CopyFS(words[3], os.DirFS(words[2])); err != nil {
						t.Fatalf("%s: %s: %v", where, line, err)
					}
					continue
				case words[0] != "xunjian":
					t.Fatalf("%s: %s: the test runs xunjian and cp -r only", where, line)
				}
				ran++
				stdout, stderr, err := runCLI(t, "", words[1:]...)
				got := stdout + stderr
				if err != nil {
					got += "xunjian: " + err.Error() + "\n"
				}
				if output == nil || j != len(lines)-1 {
					if err != nil || got != "" {
						t.Errorf("%s: %s\nprinted, where the page shows no output (and exit status 0):\n%s", where, line, got)
					}
					continue
				}
				compared++
				if !outputPattern(output.body).MatchString(got) {
					t.Errorf("%s: %s\nprints:\n%s\nbut the page shows (line %d):\n%s", where, line, got, output.line, output.body)
				}
			}
		}
	}
	if ran < 8 || compared < 5 {
		t.Errorf("ran %d commands and compared %d outputs: did the page's layout change?", ran, compared)
	}
}
