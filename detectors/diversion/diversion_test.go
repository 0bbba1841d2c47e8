package diversion

import (
	"testing"

	"github.com/xunjian/xunjian/detectors/detectortest"
)

// The test cases are data, in testdata/cases.yaml: the messages the
// detector must flag and those it must leave alone, spans, conformance
// inputs, the kinds New must refuse and the benchmark's messages.

func TestCases(t *testing.T) {
	detectortest.RunCases(t, detectortest.Family[*Detector]{Default: Default, New: New, Kinds: Kinds()}, "testdata/cases.yaml")
}

func BenchmarkDiversion(b *testing.B) {
	detectortest.BenchCases(b, detectortest.Build(b, Default), "testdata/cases.yaml")
}
