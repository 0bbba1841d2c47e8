// Package standalone checks that the repository stands alone: that no file
// it holds refers to a path outside it, and that a fresh clone, with
// nothing beside it, runs every test that reads the vendored corpora
// (testdata/corpora, located by internal/corpora).
//
// The package has no code of its own; its tests are the checks:
//
//   - TestNoPathOutsideRepository scans every text file of the checkout
//     for absolute paths of the build machines, the shared folder that used
//     to stand beside the repository, and Markdown links that leave the
//     repository;
//   - TestFreshCloneRunsDataTests clones HEAD into an empty temporary
//     folder and runs the data tests there (a minute or two).
package standalone
