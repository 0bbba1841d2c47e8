package training

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors/model"
	"github.com/xunjian/xunjian/internal/corpora"
)

// load reads the repository's data set.
func load(t *testing.T) *Data {
	t.Helper()
	root, err := corpora.Root()
	if err != nil {
		t.Fatal(err)
	}
	cdir, err := corpora.Dir()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(filepath.Join(root, "testdata", "training"), cdir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestShippedModelIsReproducible: `xunjian model train` on the data in the
// repository gives the model built into the binary, byte for byte; a
// change to the data or the trainer that is not followed by retraining
// fails here.
func TestShippedModelIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the whole model (about ten seconds)")
	}
	m, err := Build(load(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	want, err := shipped.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("training from the repository's data gives model %s, the binary ships %s: run `go run ./cmd/xunjian model train` from the repository root and commit detectors/model/default.xjm", m.Version(), shipped.Version())
	}
}

// TestSplitKeepsFamiliesTogether: every line of a family falls in one
// part, and about a fifth of the families are held out.
func TestSplitKeepsFamiliesTogether(t *testing.T) {
	d := load(t)
	parts := map[string]Part{}
	held, fams := 0, 0
	for _, it := range d.Items {
		if it.Family == "" {
			continue
		}
		if p, ok := parts[it.Family]; ok {
			if p != it.Part {
				t.Fatalf("family %s is split between %s and %s", it.Family, p, it.Part)
			}
			continue
		}
		parts[it.Family] = it.Part
		fams++
		if it.Part == HeldOut {
			held++
		}
	}
	if share := float64(held) / float64(fams); share < 0.15 || share > 0.25 {
		t.Errorf("%d of %d families held out (%.0f%%), want about 20%%", held, fams, 100*share)
	}
}

// TestLoadRecordsRefuses: a data file with a bad line is refused with the
// file, the line and why.
func TestLoadRecordsRefuses(t *testing.T) {
	for _, tc := range []struct{ name, line, want string }{
		{"not json", `{"family":`, ":1:"},
		{"unknown key", `{"family":"x-1","lang":"en","role":"agent","labels":[],"category":"benign","text":"hi","extra":1}`, "unknown field"},
		{"unknown lang", `{"family":"x-1","lang":"fr","role":"agent","labels":[],"category":"benign","text":"salut"}`, "lang"},
		{"bad category", `{"family":"x-1","lang":"en","role":"agent","labels":[],"category":"nice","text":"hi"}`, "category"},
		{"labels on a fine line", `{"family":"x-1","lang":"en","role":"agent","labels":["rude"],"category":"benign","text":"hi"}`, "category benign with labels"},
		{"escalation for an agent", `{"family":"x-1","lang":"en","role":"agent","labels":["escalation"],"category":"explicit","text":"12315"}`, "escalation"},
		{"unknown role", `{"family":"x-1","lang":"en","role":"bot","labels":[],"category":"benign","text":"hi"}`, "role"},
		{"empty text", `{"family":"x-1","lang":"en","role":"agent","labels":[],"category":"benign","text":" "}`, "required"},
		{"family of two kinds", `{"family":"x-1","lang":"en","role":"agent","labels":["rude"],"category":"explicit","text":"idiot"}` + "\n" +
			`{"family":"x-1","lang":"en","role":"agent","labels":["impatient"],"category":"explicit","text":"hurry up"}`, "different labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(tc.line+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadRecords(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "a.jsonl") {
				t.Errorf("LoadRecords: %v, want an error naming a.jsonl and %q", err, tc.want)
			}
		})
	}
}
