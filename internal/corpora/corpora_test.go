package corpora

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// layout writes files (slash-separated path → content) under a new
// temporary folder and returns it.
func layout(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const ourGoMod = "module " + Module + "\n\ngo 1.26\n"

func TestModulePath(t *testing.T) {
	for _, tc := range []struct {
		name, gomod, want string
	}{
		{"bare", "module example.com/a\n", "example.com/a"},
		{"after comments and blank lines", "// a comment\n\nmodule example.com/a\ngo 1.26\n", "example.com/a"},
		{"trailing comment", "module example.com/a // the module\n", "example.com/a"},
		{"quoted", "module \"example.com/a\"\n", "example.com/a"},
		{"tab", "module\texample.com/a\n", "example.com/a"},
		{"indented", "  module example.com/a\n", "example.com/a"},
		{"no module directive", "go 1.26\n", ""},
		{"empty", "", ""},
		{"longer keyword is not the directive", "modules example.com/b\nmodule example.com/a\n", "example.com/a"},
		{"bad quoting", "module \"example.com/a\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := modulePath([]byte(tc.gomod)); got != tc.want {
				t.Errorf("modulePath(%q) = %q, want %q", tc.gomod, got, tc.want)
			}
		})
	}
}

func TestFindRoot(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		start string // slash-separated, relative to the layout
		want  string // "" means an error is expected
	}{
		{"at the root", map[string]string{"go.mod": ourGoMod}, ".", "."},
		{"from a package folder", map[string]string{"go.mod": ourGoMod, "a/b/x.go": "package b"}, "a/b", "."},
		{"nested module of another path passed over", map[string]string{"go.mod": ourGoMod, "a/go.mod": "module example.com/other\n", "a/b/x.go": "package b"}, "a/b", "."},
		{"nested module passed over from its root", map[string]string{"go.mod": ourGoMod, "a/go.mod": "module example.com/other\n"}, "a", "."},
		{"only other modules", map[string]string{"go.mod": "module example.com/other\n", "a/x": ""}, "a", ""},
		{"no go.mod", map[string]string{"a/x": ""}, "a", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := layout(t, tc.files)
			got, err := findRoot(filepath.Join(base, filepath.FromSlash(tc.start)))
			if tc.want == "" {
				if err == nil {
					t.Fatalf("findRoot = %s, want an error", got)
				}
				if !strings.Contains(err.Error(), "repository root not found") {
					t.Errorf("error %q does not say the root was not found", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(base, filepath.FromSlash(tc.want)); got != want {
				t.Errorf("findRoot = %s, want %s", got, want)
			}
		})
	}
}

func TestPathFrom(t *testing.T) {
	complete := map[string]string{
		"go.mod":                     ourGoMod,
		"pkg/x.go":                   "package pkg",
		RelDir + "/c_zh/data.jsonl":  "{}\n",
		RelDir + "/c_zh/README.md":   "# c_zh\n",
		RelDir + "/other/data.jsonl": "{}\n",
	}
	noCorpora := map[string]string{"go.mod": ourGoMod, "pkg/x.go": "package pkg"}
	corporaIsFile := map[string]string{"go.mod": ourGoMod, "pkg/x.go": "package pkg", RelDir: "not a folder"}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		rel     string
		wantErr string // substring; "" means success
		missing bool   // the error is a *NotFoundError wrapping fs.ErrNotExist
	}{
		{"file", complete, "c_zh/data.jsonl", "", false},
		{"folder", complete, "c_zh", "", false},
		{"missing file", complete, "c_zh/gone.jsonl", "corpus c_zh/gone.jsonl not found at ", true},
		{"missing folder", complete, "nope_en/data.jsonl", "the repository's testdata/corpora is incomplete", true},
		{"no corpora folder", noCorpora, "c_zh/data.jsonl", "corpora folder not found at ", false},
		{"corpora folder is a file", corporaIsFile, "c_zh/data.jsonl", "not a directory", false},
		{"escapes the folder", complete, "../go.mod", "want a slash-separated path", false},
		{"absolute", complete, "/etc/passwd", "want a slash-separated path", false},
		{"dot", complete, ".", "want a slash-separated path", false},
		{"empty", complete, "", "want a slash-separated path", false},
		{"backslash form is not a slash path", complete, `c_zh\..\..\go.mod`, "not found", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := layout(t, tc.files)
			got, err := pathFrom(filepath.Join(base, "pkg"), tc.rel)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if want := filepath.Join(base, filepath.FromSlash(RelDir), filepath.FromSlash(tc.rel)); got != want {
					t.Errorf("pathFrom = %s, want %s", got, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("pathFrom = %s, want an error containing %q", got, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
			}
			var nf *NotFoundError
			if isNF := errors.As(err, &nf); isNF != tc.missing {
				t.Errorf("error %q: *NotFoundError %v, want %v", err, isNF, tc.missing)
			}
			if tc.missing && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %q does not wrap fs.ErrNotExist", err)
			}
		})
	}
}

func TestNotFoundErrorMessage(t *testing.T) {
	err := &NotFoundError{Rel: "crosswoz_zh/utterances.jsonl", Path: "/r/testdata/corpora/crosswoz_zh/utterances.jsonl", Err: fs.ErrNotExist}
	want := "corpus crosswoz_zh/utterances.jsonl not found at /r/testdata/corpora/crosswoz_zh/utterances.jsonl: the repository's testdata/corpora is incomplete"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

// fatalTB records what File does with a testing.TB instead of failing the
// running test.
type fatalTB struct {
	testing.TB
	fatal []any
}

func (f *fatalTB) Helper() {}

// Fatal records args and ends the goroutine, as testing.T.Fatal does, so
// that File cannot carry on past it.
func (f *fatalTB) Fatal(args ...any) {
	f.fatal = args
	panic(f)
}

func runFile(tb *fatalTB, rel string) (got string) {
	defer func() {
		if r := recover(); r != nil && r != tb {
			panic(r)
		}
	}()
	return File(tb, rel)
}

// TestFile checks that File returns the path of a vendored corpus and
// fails the test (never skips it) for a missing one.
func TestFile(t *testing.T) {
	for _, tc := range []struct {
		rel       string
		wantFatal bool
	}{
		{"README.md", false},
		{"crosswoz_zh/utterances.jsonl", false},
		{"crosswoz_zh/no_such_corpus.jsonl", true},
	} {
		t.Run(tc.rel, func(t *testing.T) {
			tb := &fatalTB{TB: t}
			got := runFile(tb, tc.rel)
			if tc.wantFatal {
				if tb.fatal == nil {
					t.Fatalf("File(%q) = %q, want t.Fatal", tc.rel, got)
				}
				var nf *NotFoundError
				if len(tb.fatal) != 1 || !errors.As(tb.fatal[0].(error), &nf) {
					t.Errorf("t.Fatal(%v), want one *NotFoundError", tb.fatal)
				}
				return
			}
			if tb.fatal != nil {
				t.Fatalf("File(%q): t.Fatal(%v)", tc.rel, tb.fatal)
			}
			if !filepath.IsAbs(got) || filepath.ToSlash(got)[len(got)-len(tc.rel):] != tc.rel {
				t.Errorf("File(%q) = %q, want an absolute path ending in it", tc.rel, got)
			}
		})
	}
}

// TestVendoredCorpora checks that the repository's testdata/corpora holds
// every corpus, licence and README, and nothing unlisted (a new corpus
// must be added to the table, testdata/corpora/README.md and
// THIRD_PARTY_NOTICES.md).
func TestVendoredCorpora(t *testing.T) {
	// vendored lists every file of the vendored corpora: a fresh clone
	// that lacks one of them (not committed, or ignored) fails here first.
	vendored := map[string][]string{
		"abcd_sample_en":             {"LICENSE", "README.md", "dialogues.jsonl", "utterances.jsonl"},
		"cold_zh":                    {"LICENSE", "README.md", "cold_test_dev.jsonl"},
		"crosswoz_zh":                {"LICENSE", "README.md", "utterances.jsonl"},
		"davidson_hate_offensive_en": {"LICENSE", "README.md", "labeled_tweets.jsonl"},
		"diasafety_en":               {"LICENSE", "README.md", "context_response.jsonl"},
		"multidogo_customer_en":      {"LICENSE.txt", "NOTICE", "README.md", "customer_turns.jsonl"},
		"multiwoz_en":                {"LICENSE.ConvLab-2", "LICENSE.MultiWOZ", "README.md", "utterances.jsonl"},
		"taskmaster4_coffee_en":      {"README.md", "dialogues.jsonl", "utterances.jsonl"},
	}
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"README.md": true}
	for folder, files := range vendored {
		for _, f := range files {
			want[folder+"/"+f] = true
		}
	}
	for rel := range want {
		p := File(t, rel)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() == 0 {
			t.Errorf("%s is empty", rel)
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !want[filepath.ToSlash(rel)] {
			t.Errorf("%s/%s is not listed in the vendored table", RelDir, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
