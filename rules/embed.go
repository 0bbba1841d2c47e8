package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
)

// defaultBundle is the default policy bundle, rules/bundle in the repository.
//
//go:embed all:bundle
var defaultBundle embed.FS

// defaultBundleDir is the bundle's directory inside defaultBundle.
const defaultBundleDir = "bundle"

// DefaultBundle returns the embedded default bundle and the name of its
// directory, for callers that want to list or export it.
func DefaultBundle() (embed.FS, string) { return defaultBundle, defaultBundleDir }

// WriteDefaultBundle writes the default bundle's files into dir (which must
// not exist yet), as a starting point for a policy team's own bundle.
func WriteDefaultBundle(dir string) error {
	sub, err := fs.Sub(defaultBundle, defaultBundleDir)
	if err != nil {
		return fmt.Errorf("default bundle: %w", err)
	}
	if err := os.CopyFS(dir, sub); err != nil {
		return fmt.Errorf("write default bundle to %s: %w", dir, err)
	}
	return nil
}
