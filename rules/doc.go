// Package rules is Xunjian's policy engine: it loads an OPA bundle (a
// directory or a .tar.gz), compiles it and prepares the entry point
// data.xunjian.decision once, then evaluates it for each inspected draft.
//
// A [Policy] is immutable once loaded and safe for concurrent use; a reload
// builds a new Policy and the caller swaps it in (for example with an
// atomic.Pointer), keeping the last good one when [Load] fails.
//
// The default bundle ships inside the binary ([Load] with an empty path) and
// in the repository under rules/bundle, where the stock `opa test` runs its
// tests.
//
// rules knows nothing of HTTP, Kafka, the gateway or the detectors: findings
// come in as plain [Finding] values and a [Decision] goes out.
package rules
