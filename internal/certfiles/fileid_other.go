//go:build !unix

package certfiles

import "io/fs"

// fileID is 0 where the system gives no inode number: size and
// modification time alone tell a change.
func fileID(fs.FileInfo) uint64 { return 0 }
