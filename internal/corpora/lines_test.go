package corpora

import (
	"bytes"
	"os"
	"testing"
)

// TestEachLine: every line of a vendored corpus is decoded and handed over,
// in order.
func TestEachLine(t *testing.T) {
	const rel = "taskmaster4_coffee_en/utterances.jsonl"
	raw, err := os.ReadFile(File(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Count(raw, []byte("\n"))
	var got int
	var first string
	EachLine(t, rel, func(u struct{ Role, Text string }) {
		if got == 0 {
			first = u.Text
		}
		if u.Role == "" || u.Text == "" {
			t.Errorf("line %d: %+v, want a role and a text", got+1, u)
		}
		got++
	})
	if got != want || want == 0 {
		t.Errorf("EachLine handed over %d lines, the file has %d", got, want)
	}
	if line, _, _ := bytes.Cut(raw, []byte("\n")); !bytes.Contains(line, []byte(first)) {
		t.Errorf("first text %q is not from the first line %q", first, line)
	}
}
