package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormatMatchesOPA(t *testing.T) {
	// The .golden files are what `opa fmt` 1.22.2 prints for each file.
	files, err := FormatFiles([]string{"testdata/unformatted"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("formatted %d files, want 2 (the .golden files are not Rego)", len(files))
	}
	for _, f := range files {
		want, err := os.ReadFile(f.Path + ".golden")
		if err != nil {
			t.Fatal(err)
		}
		if !f.Changed() || string(f.Formatted) != string(want) {
			t.Errorf("%s: changed %v, formatted:\n%s\nwant:\n%s", f.Path, f.Changed(), f.Formatted, want)
		}
	}
}

func TestFormatCleanBundles(t *testing.T) {
	// The default bundle and the fixtures (but the unformatted ones) are
	// formatted: `xunjian rules fmt -l` and `opa fmt -l` list nothing.
	files, err := FormatFiles([]string{"bundle", "testdata/reload"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("only %d files", len(files))
	}
	for _, f := range files {
		if f.Changed() {
			t.Errorf("%s is not formatted:\n%s", f.Path, f.Diff())
		}
	}
}

func TestFormatErrors(t *testing.T) {
	files, err := FormatFiles([]string{"testdata/syntax", "testdata/reload/v1/xunjian/decision.rego", "testdata/missing"})
	if len(files) != 1 || files[0].Path != "testdata/reload/v1/xunjian/decision.rego" {
		t.Errorf("files %v, want only the good one", files)
	}
	for _, want := range []string{"decision.rego:7: rego_parse_error", "helpers.rego:4: rego_parse_error", "testdata/missing"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	ps := Problems(err)
	if len(ps) == 0 || ps[0].Line != 7 {
		t.Errorf("Problems(format error) = %+v", ps)
	}
}

func TestFormatDiff(t *testing.T) {
	for _, tc := range []struct{ name, a, b, want string }{
		{"same", "x\n", "x\n", ""},
		{"change in the middle",
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n",
			"1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			"@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
		{"two hunks",
			"a\n1\n2\n3\n4\n5\n6\n7\n8\nb\n",
			"A\n1\n2\n3\n4\n5\n6\n7\n8\nB\n",
			"@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-b\n+B\n"},
		{"close changes merge",
			"a\n1\n2\nb\n",
			"A\n1\n2\nB\n",
			"@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n-b\n+B\n"},
		{"insertion", "a\nb\n", "a\nx\nb\n", "@@ -1,2 +1,3 @@\n a\n+x\n b\n"},
		{"from empty", "", "a\n", "@@ -0,0 +1,1 @@\n+a\n"},
		{"missing newline", "a", "a\n", "@@ -1,1 +1,1 @@\n-a\n\\ No newline at end of file\n+a\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := FormattedFile{Path: "p.rego", Original: []byte(tc.a), Formatted: []byte(tc.b)}
			got := f.Diff()
			if tc.want == "" {
				if got != "" {
					t.Errorf("diff of equal files: %q", got)
				}
				return
			}
			if want := "--- p.rego.orig\n+++ p.rego\n" + tc.want; got != want {
				t.Errorf("diff:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestFormatWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "decision.rego")
	src, _ := os.ReadFile("testdata/unformatted/xunjian/decision.rego")
	if err := os.WriteFile(p, src, 0o640); err != nil {
		t.Fatal(err)
	}
	files, err := FormatFiles([]string{dir})
	if err != nil || len(files) != 1 {
		t.Fatal(files, err)
	}
	if err := files[0].Write(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	want, _ := os.ReadFile("testdata/unformatted/xunjian/decision.rego.golden")
	if string(got) != string(want) {
		t.Errorf("written:\n%s", got)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	files, _ = FormatFiles([]string{p})
	if files[0].Changed() {
		t.Error("written file is not formatted")
	}
}
