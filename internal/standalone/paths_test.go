package standalone

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/internal/corpora"
)

// The needles below are assembled from parts so that this file, which the
// scan reads too, does not contain them: the test then needs no exception
// for itself, and a needle pasted into it by mistake is still caught.

// needle is a string that refers to a place outside the repository.
type needle struct {
	text string
	// absolute marks an absolute path prefix: it counts only where a path
	// starts, not as a folder inside a relative path (see pathChar).
	absolute bool
	why      string
}

// needles returns what the scan looks for in every text file.
func needles() []needle {
	return []needle{
		{text: ".." + "/shared", why: "the shared folder beside the repository"},
		{text: "/" + "work/", absolute: true, why: "an absolute path of the build machine"},
		{text: "/" + "home/", absolute: true, why: "an absolute path into a home folder"},
		{text: "/" + "root/", absolute: true, why: "an absolute path into root's home folder"},
	}
}

// urlRE matches a URL with a scheme and an authority ("https://host/..."):
// it names a network resource, not a path of this machine, and is removed
// from a line before the needles are looked for. file: URLs are kept (see
// withoutURLs).
var urlRE = regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9+.-]*)://[^\s"'<>()\[\]{}` + "`" + `]*`)

// schemeRE matches a link target that starts with a URL scheme
// ("https:", "mailto:").
var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*):`)

// inlineLinkRE matches a Markdown inline link or image, capturing its
// destination: [text](dest "title") or [text](<dest>).
var inlineLinkRE = regexp.MustCompile(`!?\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]+)[^)]*\)`)

// refDefRE matches a Markdown link reference definition, [label]: dest.
var refDefRE = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)`)

// codeSpanRE matches an inline code span.
var codeSpanRE = regexp.MustCompile("`+[^`]*`+")

// withoutURLs blanks out the network URLs of line (every scheme but file:),
// keeping its length. Of a file: URL only the scheme is blanked, so that
// its path is scanned as the local path it is.
func withoutURLs(line string) string {
	return urlRE.ReplaceAllStringFunc(line, func(u string) string {
		scheme := urlRE.FindStringSubmatch(u)[1]
		if strings.EqualFold(scheme, "file") {
			return strings.Repeat(" ", len(scheme)+len("://")) + u[len(scheme)+len("://"):]
		}
		return strings.Repeat(" ", len(u))
	})
}

// pathChar reports whether b can be part of a relative path just before
// an absolute-looking needle, which makes the needle a folder inside that
// path rather than the start of an absolute path.
func pathChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("_.-/", b) >= 0
}

// needleHits returns, for one line, why each needle it holds refers
// outside the repository.
func needleHits(line string) []string {
	line = withoutURLs(line)
	var out []string
	for _, n := range needles() {
		for i := 0; ; {
			j := strings.Index(line[i:], n.text)
			if j < 0 {
				break
			}
			at := i + j
			i = at + 1
			if n.absolute && at > 0 && pathChar(line[at-1]) {
				continue
			}
			out = append(out, fmt.Sprintf("%q: %s", n.text, n.why))
			break
		}
	}
	return out
}

// linkOutside reports whether the Markdown link destination dest, in the
// file mdRel (slash-separated, relative to the repository root), refers to
// a place outside the repository: a relative path that climbs above the
// root, or a file: URL. Other URLs, fragments and root-relative paths
// ("/docs/x.md", which hosting sites resolve against the repository root)
// stay inside.
func linkOutside(mdRel, dest string) bool {
	dest = strings.TrimSuffix(strings.TrimPrefix(dest, "<"), ">")
	if m := schemeRE.FindStringSubmatch(dest); m != nil {
		return strings.EqualFold(m[1], "file")
	}
	if strings.HasPrefix(dest, "//") { // a network-path reference: another host
		return false
	}
	if i := strings.IndexAny(dest, "#?"); i >= 0 {
		dest = dest[:i]
	}
	if dest == "" || strings.HasPrefix(dest, "/") {
		return false
	}
	if u, err := url.PathUnescape(dest); err == nil {
		dest = u
	}
	p := path.Join(path.Dir(mdRel), dest)
	return p == ".." || strings.HasPrefix(p, "../")
}

// markdownHits returns, per 1-based line number, the link destinations of
// the Markdown text md (the file mdRel) that leave the repository. Fenced
// code blocks and inline code spans are not links and are passed over.
func markdownHits(mdRel string, md []byte) map[int][]string {
	out := map[int][]string{}
	fence := ""
	for i, line := range strings.Split(string(md), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		text := codeSpanRE.ReplaceAllString(line, "``")
		var dests []string
		for _, m := range inlineLinkRE.FindAllStringSubmatch(text, -1) {
			dests = append(dests, m[1])
		}
		if m := refDefRE.FindStringSubmatch(text); m != nil {
			dests = append(dests, m[1])
		}
		for _, d := range dests {
			if linkOutside(mdRel, d) {
				out[i+1] = append(out[i+1], fmt.Sprintf("Markdown link to %s leaves the repository", d))
			}
		}
	}
	return out
}

// scanned reports whether the file rel (slash-separated, relative to the
// root) with content data is one the scan reads: text (no NUL byte in its
// first 8000 bytes, git's own test), and not a data file of the vendored
// corpora, whose text is third-party content kept byte for byte (their
// READMEs, LICENSEs and NOTICEs are scanned).
func scanned(rel string, data []byte) bool {
	if strings.HasPrefix(rel, corpora.RelDir+"/") && path.Ext(rel) == ".jsonl" {
		return false
	}
	return !bytes.Contains(data[:min(len(data), 8000)], []byte{0})
}

// offences returns what in the file rel refers outside the repository,
// one "rel:line: why" string each.
func offences(rel string, data []byte) []string {
	var out []string
	md := map[int][]string{}
	if strings.EqualFold(path.Ext(rel), ".md") {
		md = markdownHits(rel, data)
	}
	for i, line := range strings.Split(string(data), "\n") {
		for _, why := range append(needleHits(line), md[i+1]...) {
			out = append(out, fmt.Sprintf("%s:%d: %s", rel, i+1, why))
		}
	}
	return out
}

// repoFiles lists the files of the checkout at root, slash-separated and
// relative to it: what git tracks plus the untracked files it does not
// ignore (what the next commit could hold), or, without git or outside a
// git checkout, every file of the tree but .git.
func repoFiles(t *testing.T, root string) []string {
	t.Helper()
	if _, err := exec.LookPath("git"); err == nil {
		cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
		cmd.Dir = root
		out, err := cmd.Output()
		if err == nil {
			var files []string
			for _, f := range strings.Split(string(out), "\x00") {
				if f != "" {
					files = append(files, f)
				}
			}
			slices.Sort(files)
			return slices.Compact(files)
		}
		t.Logf("git ls-files in %s: %v; walking the tree instead", root, err)
	} else {
		t.Logf("git not found (%v); walking the tree instead", err)
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return files
}

// TestNoPathOutsideRepository fails, listing file:line, on every reference
// a text file of the checkout makes to a place outside the repository:
// the shared folder that used to stand beside it, absolute paths into the
// build machine's folders or home folders, and relative Markdown links
// that climb above the root.
func TestNoPathOutsideRepository(t *testing.T) {
	root, err := corpora.Root()
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	n := 0
	for _, rel := range repoFiles(t, root) {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // tracked, but deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if !scanned(rel, data) {
			continue
		}
		n++
		found = append(found, offences(rel, data)...)
	}
	if n == 0 {
		t.Fatalf("no text file found under %s", root)
	}
	t.Logf("%d text files scanned", n)
	if len(found) > 0 {
		t.Errorf("%d references to places outside the repository (it must stand alone):\n%s", len(found), strings.Join(found, "\n"))
	}
}

// TestOffences checks the scan on one-file cases. Needles are assembled
// from parts (see needles).
func TestOffences(t *testing.T) {
	shared := ".." + "/shared"
	work, home, rootHome := "/"+"work/", "/"+"home/", "/"+"root/"
	for _, tc := range []struct {
		name string
		rel  string
		text string
		want int // offences
	}{
		{"shared folder in Go", "a/b.go", `p := "` + shared + `/corpora"`, 1},
		{"shared folder two levels up", "a/b.go", `p := "../` + shared + `/x"`, 1},
		{"build-machine path", "a/b.go", `const p = "` + work + `shared/x"`, 1},
		{"home folder", "docs/x.md", "see " + home + "alice/notes", 1},
		{"root's home", "scripts/x.sh", "cp x " + rootHome + ".cache", 1},
		{"home-relative", "scripts/x.sh", "cd ~" + work + "x", 1},
		{"folder of a relative path", "a/b.go", `p := "pkg` + work + `x"`, 0},
		{"network URL", "docs/x.md", "https://example.com" + home + "x and https://example.com/" + shared, 0},
		{"file URL", "docs/x.md", "file://" + work + "x", 1},
		{"two needles on one line", "a/b.go", shared + " " + home, 2},
		{"one needle twice counts once", "a/b.go", home + " " + home, 1},
		{"line numbers", "a/b.go", "x\ny\n" + home, 1},
		{"md link above the root", "README.md", "[design](../DESIGN.md)", 1},
		{"md link above the root from a folder", "bench/README.md", "[x](../../y.md)", 1},
		{"md link inside from a folder", "bench/README.md", "[x](../testdata/corpora/README.md)", 0},
		{"md link with code in its text", "README.md", "[`x.md`](../x.md)", 1},
		{"md image", "docs/a.md", "![p](../../p.png)", 1},
		{"md link with title", "docs/a.md", `[x](../../y.md "the y")`, 1},
		{"md link in angle brackets", "docs/a.md", "[x](<../../y z.md>)", 1},
		{"md link escaped", "docs/a.md", "[x](%2E%2E/%2E%2E/y.md)", 1},
		{"md reference definition", "docs/a.md", "[y]: ../../y.md", 1},
		{"md link with a fragment", "docs/a.md", "[x](../README.md#try-it)", 0},
		{"md fragment only", "docs/a.md", "[x](#layout)", 0},
		{"md URL", "docs/a.md", "[x](https://example.com/../y) [m](mailto:a@example.com)", 0},
		{"md network-path reference", "docs/a.md", "[x](//example.com/y)", 0},
		{"md root-relative", "docs/a.md", "[x](/bench/README.md)", 0},
		{"md file URL", "docs/a.md", "[x](file:///etc/hosts)", 1},
		{"md link in a code span", "docs/a.md", "write `[x](../../y.md)` for a link", 0},
		{"md link in a fence", "docs/a.md", "```md\n[x](../../y.md)\n```\n[z](../../z.md)", 1},
		{"link syntax outside Markdown", "a/b.go", "// [x](../../y.md)", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := offences(tc.rel, []byte(tc.text))
			if len(got) != tc.want {
				t.Errorf("offences(%s, %q) = %q, want %d", tc.rel, tc.text, got, tc.want)
			}
			for _, o := range got {
				if !strings.HasPrefix(o, tc.rel+":") {
					t.Errorf("offence %q does not start with %s:line", o, tc.rel)
				}
			}
		})
	}
	if got := offences("a.go", []byte("x\ny\n"+home)); len(got) != 1 || !strings.HasPrefix(got[0], "a.go:3: ") {
		t.Errorf("offences on line 3 = %q, want a.go:3: …", got)
	}
}

// TestScanned checks which files the scan reads.
func TestScanned(t *testing.T) {
	for _, tc := range []struct {
		rel  string
		data []byte
		want bool
	}{
		{"README.md", []byte("# x\n"), true},
		{"a/b.go", []byte("package b\n"), true},
		{corpora.RelDir + "/crosswoz_zh/utterances.jsonl", []byte("{}\n"), false},
		{corpora.RelDir + "/crosswoz_zh/README.md", []byte("# x\n"), true},
		{corpora.RelDir + "/crosswoz_zh/LICENSE", []byte("Apache\n"), true},
		{"rules/testdata/x.jsonl", []byte("{}\n"), true},
		{"bin/x", []byte("\x7fELF\x00\x00"), false},
		{"empty", nil, true},
	} {
		if got := scanned(tc.rel, tc.data); got != tc.want {
			t.Errorf("scanned(%s) = %v, want %v", tc.rel, got, tc.want)
		}
	}
}
