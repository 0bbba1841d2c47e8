package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	checkpointName  = "checkpoint"
	checkpointTmp   = "checkpoint.tmp"
	checkpointMagic = "XJCP"
	checkpointSize  = 16 // magic(4) + acked offset(8) + CRC32C(4)
)

// readCheckpoint returns the persisted acknowledged offset, or 0 when there
// is no checkpoint yet. A damaged checkpoint is an error: guessing would
// either lose or duplicate the whole spool.
func readCheckpoint(dir string) (Offset, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("spool: reading checkpoint: %w", err)
	}
	if len(b) != checkpointSize || string(b[:4]) != checkpointMagic ||
		crc32.Checksum(b[:12], castagnoli) != binary.LittleEndian.Uint32(b[12:]) {
		return 0, fmt.Errorf("spool: checkpoint %s is damaged", filepath.Join(dir, checkpointName))
	}
	return Offset(binary.LittleEndian.Uint64(b[4:12])), nil
}

// writeCheckpoint persists off atomically: write a temp file, fsync it,
// rename it over the checkpoint, fsync the directory.
func writeCheckpoint(dir string, off Offset) error {
	var b [checkpointSize]byte
	copy(b[:4], checkpointMagic)
	binary.LittleEndian.PutUint64(b[4:12], uint64(off))
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[:12], castagnoli))

	tmp := filepath.Join(dir, checkpointTmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: writing checkpoint: %w", err)
	}
	_, err = f.Write(b[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: writing checkpoint: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, checkpointName)); err != nil {
		return fmt.Errorf("spool: renaming checkpoint: %w", err)
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that creations, renames and removals in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: syncing dir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: syncing dir: %w", err)
	}
	return nil
}
