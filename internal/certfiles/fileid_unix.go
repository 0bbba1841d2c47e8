//go:build unix

package certfiles

import (
	"io/fs"
	"syscall"
)

// fileID returns the file's inode number: a file renamed over another is
// a change even with the same size and modification time.
func fileID(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
