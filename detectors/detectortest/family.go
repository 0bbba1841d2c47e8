package detectortest

import (
	"strings"
	"testing"

	"github.com/xunjian/xunjian/detectors/lexicon"
)

// Build returns the detector build makes (a family's Default), and fails
// tb when it errs: the setup of every family's tests and benchmarks.
func Build[D any](tb testing.TB, build func() (D, error)) D {
	tb.Helper()
	d, err := build()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// RefusesKind fails t unless build (a family's New) refuses, with an
// "unknown kind" error, a lexicon whose one entry is of kind: a kind the
// family does not own, such as another family's. The registry checks a
// kind no family owns for every family; this is the family's own check
// that it does not take its neighbours' entries.
func RefusesKind[D any](t testing.TB, build func(lexicon.File) (D, error), kind string) {
	t.Helper()
	f := lexicon.File{Entries: []lexicon.Entry{{ID: "x", Kind: kind, Terms: []string{"x"}}}}
	if _, err := build(f); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("New with kind %s: err = %v, want unknown kind", kind, err)
	}
}
