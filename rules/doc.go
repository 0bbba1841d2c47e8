// Package rules is Xunjian's policy engine: it loads an OPA bundle (a
// directory or a .tar.gz), compiles it and prepares the entry point
// data.xunjian.decision once, then evaluates it for each inspected draft.
//
// A [Policy] is immutable once loaded and safe for concurrent use. A
// [Reloader] keeps one serving: it polls a [Source] (a directory, a .tar.gz,
// an HTTP(S) bundle URL with ETags, or the embedded bundle), compiles each
// new version, checks its data, runs its Rego tests (one at a time, at a
// share of a CPU, within a time budget, so that live decisions keep their
// speed) and evaluates it on the built-in probe inputs ([Probes]: every
// finding kind, role and conversation state), validating each decision
// against the decision schema ([DecisionSchema]), and only then swaps it
// in atomically; a version that fails any of that is refused and the last
// good one keeps serving. A decision that breaks the schema at run time
// is an error wrapping [ErrInvalidDecision] that names the rule. It keeps previous versions for Rollback and
// reports what happened, with file and line, through Status.
//
// [Check] runs the same checks on a bundle for `xunjian rules check`, and
// [FormatFiles] formats Rego as `opa fmt` does for `xunjian rules fmt`.
//
// The default bundle ships inside the binary ([Load] with an empty path) and
// in the repository under rules/bundle, where the stock `opa test` runs its
// tests.
//
// rules knows nothing of Kafka, the gateway or the detectors, and serves no
// HTTP (its only HTTP is a bundle Source's GET, as OPA's bundle client
// does): findings come in as plain [Finding] values and a [Decision] goes
// out.
package rules
