package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModelTrainBits: --bits reaches the trainer, which refuses a table
// size out of its range before it trains, and writes nothing.
func TestModelTrainBits(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.xjm")
	root := filepath.Join("..", "..")
	_, stderr, err := runCLI(t, "", "model", "train", "--bits", "40", "--out", out,
		"--data", filepath.Join(root, "testdata", "training"), "--corpora", filepath.Join(root, "testdata", "corpora"))
	if err == nil || !strings.Contains(err.Error()+stderr, "bits 40") {
		t.Fatalf("model train --bits 40: %v %s, want the trainer's refusal of 40 bits", err, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a model was written after the refusal (%v)", err)
	}
}
