package rules

import "embed"

// defaultBundle is the default policy bundle, rules/bundle in the repository.
//
//go:embed all:bundle
var defaultBundle embed.FS

// defaultBundleDir is the bundle's directory inside defaultBundle.
const defaultBundleDir = "bundle"

// DefaultBundle returns the embedded default bundle and the name of its
// directory, for callers that want to list or export it.
func DefaultBundle() (embed.FS, string) { return defaultBundle, defaultBundleDir }
