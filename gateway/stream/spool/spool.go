// Package spool is a local on-disk spool for at-least-once delivery of events
// to Kafka.
//
// The gateway Appends an event before it returns a verdict; a shipper Reads
// records in append order, sends them, and Acks what Kafka acknowledged. Only
// acknowledged data is deleted. After a crash or restart, Open replays every
// record that was not acknowledged, so a record may be delivered more than
// once (consumers dedup on event_id) but an appended record is never lost
// (given FsyncAlways, or given that the OS got to write it back).
//
// Acknowledgements are persisted (the checkpoint written and fsynced) on
// every Ack under FsyncAlways; under the other policies at most once per
// Options.Interval (and before acknowledged segments are deleted, and on
// Close), since a shipper acks every batch, up to a hundred times a
// second, and each checkpoint costs two fsyncs. A crash then delivers the
// records of up to the last Interval's acknowledgements again, which
// at-least-once delivery allows.
//
// # Layout
//
// Dir holds segment files named by the hex logical offset of their first byte
// (0000000000000000.seg, ...), a checkpoint file with the acknowledged offset,
// and a LOCK file. An Offset is a logical byte position: a record's Offset is
// the position of its first byte; segment base + position in file.
//
// # Damage
//
// Each record carries a CRC32C. Open validates every segment:
//   - a torn tail (a record cut short, or the last record of the last segment
//     failing its CRC) is truncated, logging how many bytes were dropped;
//   - a record in the middle whose CRC fails but whose header is sane is kept
//     on disk and skipped by Read with a log line: records are
//     length-prefixed, so the next record is still found;
//   - a header that is not sane (wrong magic/version, impossible length)
//     means the rest of that segment cannot be located: the segment is
//     truncated there, logging how many bytes were dropped.
//
// Read checks the CRC of every record again and never returns a damaged one.
// Log lines carry offsets and sizes only, never keys or values.
package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

// Sentinel errors, for errors.Is.
var (
	// ErrFull is returned by Append when accepting the record would put more
	// than Options.MaxBytes of unacknowledged data on disk. Ack frees space.
	ErrFull = errors.New("spool: full")
	// ErrClosed is returned by every method called after Close, and by a
	// Read blocked when Close is called.
	ErrClosed = errors.New("spool: closed")
	// ErrTooLarge is returned by Append for a record whose encoding exceeds
	// MaxRecordBytes.
	ErrTooLarge = errors.New("spool: record too large")
)

// FsyncPolicy says when appended data is forced to stable storage. Its
// values are the words of the configuration file's `fsync`; the zero value
// means DefaultFsync.
type FsyncPolicy string

const (
	// FsyncAlways fsyncs before Append returns. Concurrent appenders share
	// fsyncs (group commit), but each Append still waits for one.
	FsyncAlways FsyncPolicy = "always"
	// FsyncInterval fsyncs in the background every Options.Interval; a
	// machine crash can lose up to Interval of appends, a process crash
	// loses nothing.
	FsyncInterval FsyncPolicy = "interval"
	// FsyncNever leaves write-back to the OS (segments are still fsynced
	// when rolled and on Close).
	FsyncNever FsyncPolicy = "never"
)

// String returns the policy name.
func (p FsyncPolicy) String() string { return string(p) }

// valid reports whether p is a policy, or zero for the default.
func (p FsyncPolicy) valid() bool {
	switch p {
	case "", FsyncAlways, FsyncInterval, FsyncNever:
		return true
	}
	return false
}

// Defaults for zero Options fields.
const (
	DefaultSegmentBytes = 16 << 20
	DefaultMaxBytes     = 1 << 30
	DefaultFsync        = FsyncInterval
	DefaultInterval     = 100 * time.Millisecond
	// DefaultReadMax is the batch size of Read when max <= 0.
	DefaultReadMax = 512
)

// DefaultDir is the spool directory Defaults fills in:
// $XDG_STATE_HOME/xunjian/spool, falling back to ~/.local/state and then to
// the temporary directory.
func DefaultDir() string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		if home, err := os.UserHomeDir(); err == nil {
			base = home + "/.local/state"
		} else {
			base = os.TempDir()
		}
	}
	return base + "/xunjian/spool"
}

// Options configures a Spool; its Dir, MaxBytes, Fsync and Interval are
// the `stream.spool` section of the gateway's configuration file (see
// gateway/stream). The zero value of every field but Dir means the
// documented default.
type Options struct {
	// Dir is the spool directory. It is created if missing. Open requires
	// it; Defaults fills in DefaultDir() ($XDG_STATE_HOME/xunjian/spool, so
	// ~/.local/state/xunjian/spool).
	Dir string `yaml:"dir"`
	// SegmentBytes is the size past which Append rolls to a new segment
	// file. Zero means DefaultSegmentBytes (16 MiB). Not settable from the
	// configuration file.
	SegmentBytes int64 `yaml:"-"`
	// MaxBytes bounds unacknowledged bytes on disk; an Append past it
	// returns ErrFull. Zero means DefaultMaxBytes (1 GiB).
	MaxBytes int64 `yaml:"max_bytes"`
	// Fsync is the durability policy: always (every event is on disk
	// before Append returns), interval (flushed every Interval) or never
	// (left to the OS). Zero means DefaultFsync (interval).
	Fsync FsyncPolicy `yaml:"fsync"`
	// Interval is the background fsync period of FsyncInterval, and how
	// often the checkpoint is persisted under FsyncInterval and
	// FsyncNever. Zero means DefaultInterval (100ms).
	Interval duration.Duration `yaml:"fsync_interval"`
	// Logger receives recovery and damage reports. Nil means
	// slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// Defaults fills the zero fields of o with their defaults, Dir included.
func (o *Options) Defaults() {
	if o.Dir == "" {
		o.Dir = DefaultDir()
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Fsync == "" {
		o.Fsync = DefaultFsync
	}
	if o.Interval == 0 {
		o.Interval = duration.Duration(DefaultInterval)
	}
}

// Validate checks o as a configuration file gives it, naming each fault by
// its YAML path under path (e.g. "stream.spool.fsync: ..."), all of them
// joined.
func (o Options) Validate(path string) error {
	var errs []error
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("%s.max_bytes: must not be negative", path))
	}
	if !o.Fsync.valid() {
		errs = append(errs, fmt.Errorf("%s.fsync: %q: want always, interval or never", path, string(o.Fsync)))
	}
	if o.Interval < 0 {
		errs = append(errs, fmt.Errorf("%s.fsync_interval: must not be negative", path))
	}
	return errors.Join(errs...)
}

// Offset is the logical byte position of a record in the spool. Offsets
// grow with append order, so comparing them compares order.
type Offset uint64

// Record is one spooled event. Key and Value are owned by the caller once
// returned by Read.
type Record struct {
	// Offset identifies the record for Ack.
	Offset Offset
	// Key is the Kafka key (the conversation id).
	Key []byte
	// Value is the event JSON.
	Value []byte
}

// Stats is a snapshot of the spool's state.
type Stats struct {
	// Bytes is the unacknowledged data on disk, in bytes.
	Bytes int64
	// Records is the number of unacknowledged records (read or not).
	Records int64
	// Segments is the number of segment files.
	Segments int
	// Full is true from an Append refused with ErrFull until an Ack frees
	// space or an Append succeeds.
	Full bool
}

// segment is one segment file. Its file stays open (for reading) until the
// segment is deleted or the spool is closed.
type segment struct {
	base Offset // logical offset of the file's first byte
	size int64  // valid bytes in the file
	f    *os.File
}

func (g *segment) end() Offset { return g.base + Offset(g.size) }

// inflight is a record returned by Read and not yet acknowledged.
type inflight struct{ off, end Offset }

// Spool is an on-disk, append-only queue of records.
//
// A Spool is safe for concurrent use by many appenders and one reader: Read,
// Ack and Rewind are meant to be called by one shipper goroutine (concurrent
// calls are safe but interleave arbitrarily). Append, Stats and Close may be
// called from any goroutine.
type Spool struct {
	opts Options
	log  *slog.Logger
	lock *os.File

	// syncMu serializes fsyncs and guards synced. It is taken before mu,
	// and held while files are closed, so an fsync never runs on a closed
	// file.
	syncMu sync.Mutex
	synced Offset // everything below this is fsynced

	// ackMu serializes Acks and checkpoint writes (outside mu), and
	// guards persisted and persistedAt.
	ackMu       sync.Mutex
	persisted   Offset    // the acknowledged offset the checkpoint holds
	persistedAt time.Time // when it was written

	// mu guards every field below.
	mu       sync.Mutex
	closed   bool
	segs     []*segment // ordered by base; the last one is active
	writeEnd Offset     // end of the last appended record
	acked    Offset     // everything below is acknowledged
	readPos  Offset     // next record to return from Read
	unread   int64      // records in [readPos, writeEnd)
	inflight []inflight // returned by Read, not yet acked; ordered
	full     bool
	wbuf     []byte        // encode buffer, reused by Append
	notify   chan struct{} // closed and replaced when a waiting reader should wake
	waiting  bool          // a Read or Await is waiting on notify
	waitFor  int64         // for unread to reach this (1 for Read)
	// unsynced are rolled segments whose data the next syncTo fsyncs, and
	// dirDirty says the directory gained a segment since the last one: a
	// roll never fsyncs under mu, so appenders never wait for a disk.
	unsynced []*segment
	dirDirty bool

	done     chan struct{} // closed by Close
	syncerWG sync.WaitGroup
}

// Open opens or creates the spool in opts.Dir and recovers it: it validates
// every segment (truncating torn tails and unreadable headers, with a log
// line each), deletes segments that are fully acknowledged, and positions the
// read cursor at the first unacknowledged record.
func Open(opts Options) (*Spool, error) {
	if opts.Dir == "" {
		return nil, errors.New("spool: Options.Dir is required")
	}
	if opts.SegmentBytes < 0 || opts.MaxBytes < 0 || opts.Interval < 0 {
		return nil, errors.New("spool: negative SegmentBytes, MaxBytes or Interval")
	}
	if !opts.Fsync.valid() {
		return nil, fmt.Errorf("spool: unknown fsync policy %q", string(opts.Fsync))
	}
	opts.Defaults()
	s := &Spool{
		opts:   opts,
		log:    opts.Logger,
		notify: make(chan struct{}),
		done:   make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With(slog.String("component", "spool"), slog.String("dir", opts.Dir))

	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: creating dir: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	if opts.Fsync != FsyncAlways {
		s.syncerWG.Add(1)
		go s.syncLoop()
	}
	return s, nil
}

// recover scans Dir and sets up the in-memory state.
func (s *Spool) recover() error {
	dir := s.opts.Dir
	_ = os.Remove(filepath.Join(dir, checkpointTmp))
	acked, err := readCheckpoint(dir)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("spool: listing dir: %w", err)
	}
	var bases []Offset
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".seg") {
			continue
		}
		b, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 16, 64)
		if err != nil {
			s.log.Warn("ignoring unrecognized file", slog.String("file", name))
			continue
		}
		bases = append(bases, Offset(b))
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })

	removed := false
	for i, base := range bases {
		g, n, err := s.openSegment(base, i == len(bases)-1, acked)
		if err != nil {
			return err
		}
		// A segment wholly below the checkpoint was acknowledged; Ack
		// crashed before deleting it. The active (last) one is kept so
		// appends continue after it.
		if g.end() <= acked && i != len(bases)-1 {
			g.f.Close()
			if err := os.Remove(s.segPath(base)); err != nil {
				return fmt.Errorf("spool: removing acknowledged segment: %w", err)
			}
			removed = true
			continue
		}
		s.segs = append(s.segs, g)
		s.unread += n
	}
	if removed {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	if len(s.segs) == 0 {
		// Start after the checkpoint so no new record hides below it.
		if err := s.newSegment(acked); err != nil {
			return err
		}
	}
	last := s.segs[len(s.segs)-1]
	s.writeEnd = last.end()
	if acked > s.writeEnd {
		// Acknowledged data was lost from the tail (FsyncNever and a
		// machine crash); start a fresh segment at the checkpoint so new
		// offsets are above it.
		s.log.Warn("checkpoint beyond end of data; starting a new segment at the checkpoint",
			slog.Uint64("checkpoint", uint64(acked)), slog.Uint64("end", uint64(s.writeEnd)))
		if err := s.newSegment(acked); err != nil {
			return err
		}
		s.writeEnd = acked
	}
	if first := s.segs[0].base; acked < first {
		acked = first
	}
	s.acked, s.readPos, s.synced = acked, acked, s.writeEnd
	s.persisted = acked
	return nil
}

// segPath is the file name of the segment starting at base.
func (s *Spool) segPath(base Offset) string {
	return filepath.Join(s.opts.Dir, fmt.Sprintf("%016x.seg", uint64(base)))
}

// openSegment opens and validates one segment, truncating damage as
// documented on the package. It returns the number of valid records at or
// after acked.
func (s *Spool) openSegment(base Offset, last bool, acked Offset) (*segment, int64, error) {
	path := s.segPath(base)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("spool: opening segment: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("spool: reading segment %016x: %w", uint64(base), err)
	}
	var (
		pos     int
		records int64
		corrupt int
		cut     = -1
		reason  string
	)
	for pos < len(data) {
		if len(data)-pos < headerSize {
			cut, reason = pos, "torn header"
			break
		}
		h, ok := parseHeader(data[pos:])
		if !ok {
			cut, reason = pos, "damaged header"
			break
		}
		if pos+h.size() > len(data) {
			cut, reason = pos, "torn record"
			break
		}
		if !checkCRC(h, data[pos:]) {
			if last && pos+h.size() == len(data) {
				cut, reason = pos, "checksum mismatch in tail record"
				break
			}
			corrupt++
			s.log.Warn("record failed checksum; it will be skipped",
				slog.Uint64("offset", uint64(base)+uint64(pos)), slog.Int("bytes", h.size()))
		} else if base+Offset(pos) >= acked {
			records++
		}
		pos += h.size()
	}
	if cut >= 0 {
		s.log.Warn("truncating segment",
			slog.String("reason", reason),
			slog.Uint64("segment", uint64(base)),
			slog.Int("at", cut),
			slog.Int("bytes_dropped", len(data)-cut))
		if err := f.Truncate(int64(cut)); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("spool: truncating segment %016x: %w", uint64(base), err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("spool: syncing segment %016x: %w", uint64(base), err)
		}
		pos = cut
	}
	return &segment{base: base, size: int64(pos), f: f}, records, nil
}

// newSegment creates an empty segment at base, fsyncs the directory and
// makes it the active one. Called with mu held (or before the Spool is
// shared).
func (s *Spool) newSegment(base Offset) error {
	f, err := os.OpenFile(s.segPath(base), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: creating segment: %w", err)
	}
	s.segs = append(s.segs, &segment{base: base, f: f})
	s.dirDirty = true // its name is durable after the next syncTo
	return nil
}

// Append adds a record (key: conversation id, value: event JSON) and returns
// its offset. It copies key and value. With FsyncAlways the record is on
// stable storage when Append returns nil. It returns ErrFull when
// Options.MaxBytes would be exceeded, ErrTooLarge for an oversized record and
// ErrClosed after Close. If the fsync fails the record may still be delivered
// (at-least-once), but Append reports the error. ctx is checked before any
// work; Append itself does not block on the reader.
func (s *Spool) Append(ctx context.Context, key, value []byte) (Offset, error) {
	off, end, err := s.write(ctx, key, value)
	if err == nil && s.opts.Fsync == FsyncAlways {
		err = s.syncTo(end)
	}
	return off, err
}

// Write is Append without the fsync of FsyncAlways: the record is written
// (in order, readable by Read) but durable only after Sync, the background
// fsync of FsyncInterval, or the OS. It lets a caller fix the order of its
// records under its own lock and pay for the fsync after releasing it.
func (s *Spool) Write(ctx context.Context, key, value []byte) (Offset, error) {
	off, _, err := s.write(ctx, key, value)
	return off, err
}

// Sync makes every record written so far durable (one fsync, shared by
// concurrent callers: group commit), whatever the fsync policy. It returns
// ErrClosed after Close.
func (s *Spool) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("spool: sync: %w", err)
	}
	s.mu.Lock()
	end, closed := s.writeEnd, s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return s.syncTo(end)
}

// write appends a record and returns its offset and the end of the data
// written so far.
func (s *Spool) write(ctx context.Context, key, value []byte) (Offset, Offset, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("spool: append: %w", err)
	}
	n := encodedSize(key, value)
	if n > MaxRecordBytes {
		return 0, 0, ErrTooLarge
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, 0, ErrClosed
	}
	if int64(s.writeEnd-s.acked)+int64(n) > s.opts.MaxBytes {
		s.full = true
		s.mu.Unlock()
		return 0, 0, ErrFull
	}
	active := s.segs[len(s.segs)-1]
	if active.size > 0 && active.size+int64(n) > s.opts.SegmentBytes {
		if err := s.roll(active); err != nil {
			s.mu.Unlock()
			return 0, 0, err
		}
		active = s.segs[len(s.segs)-1]
	}
	s.wbuf = appendRecord(s.wbuf[:0], key, value)
	if _, err := active.f.WriteAt(s.wbuf, active.size); err != nil {
		// Drop any partial write so the next record starts clean.
		_ = active.f.Truncate(active.size)
		s.mu.Unlock()
		return 0, 0, fmt.Errorf("spool: append: %w", err)
	}
	off := s.writeEnd
	active.size += int64(n)
	s.writeEnd += Offset(n)
	end := s.writeEnd
	s.unread++
	s.full = false
	if s.waiting && s.unread >= s.waitFor {
		close(s.notify)
		s.notify = make(chan struct{})
		s.waiting = false
	}
	if cap(s.wbuf) > 64<<10 {
		s.wbuf = nil // do not pin a large buffer after a large record
	}
	s.mu.Unlock()
	return off, end, nil
}

// roll starts a new segment; the old one is fsynced by the next syncTo
// (unless FsyncNever), outside mu. Called with mu held. The old file stays
// open for reading.
func (s *Spool) roll(active *segment) error {
	if err := s.newSegment(s.writeEnd); err != nil {
		return err
	}
	if s.opts.Fsync != FsyncNever {
		s.unsynced = append(s.unsynced, active)
	}
	return nil
}

// syncTo returns once everything below end is fsynced: the segments rolled
// since the last call, the directory if it gained one, and the active
// segment. Concurrent callers share the fsyncs (group commit). It never
// holds mu during an fsync.
func (s *Spool) syncTo(end Offset) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= end {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	f := s.segs[len(s.segs)-1].f
	target := s.writeEnd
	rolled, dirDirty := s.unsynced, s.dirDirty
	s.unsynced, s.dirDirty = nil, false
	s.mu.Unlock()
	if err := s.syncFiles(rolled, dirDirty, f); err != nil {
		s.mu.Lock()
		// Retried next time, but for segments Ack has dropped meanwhile.
		rolled = slices.DeleteFunc(rolled, func(g *segment) bool { return !slices.Contains(s.segs, g) })
		s.unsynced = append(rolled, s.unsynced...)
		s.dirDirty = s.dirDirty || dirDirty
		s.mu.Unlock()
		return err
	}
	s.synced = target
	return nil
}

// syncFiles fsyncs rolled segments, then the directory (when it gained a
// segment), then the active segment. Called with syncMu held.
func (s *Spool) syncFiles(rolled []*segment, dirDirty bool, active *os.File) error {
	for _, g := range rolled {
		if err := g.f.Sync(); err != nil {
			return fmt.Errorf("spool: syncing segment %016x: %w", uint64(g.base), err)
		}
	}
	if dirDirty {
		if err := syncDir(s.opts.Dir); err != nil {
			return err
		}
	}
	if err := active.Sync(); err != nil {
		return fmt.Errorf("spool: fsync: %w", err)
	}
	return nil
}

// syncLoop runs every Interval until Close: it fsyncs what was written
// (FsyncInterval) and persists the checkpoint if it lags the
// acknowledgements (FsyncInterval and FsyncNever).
func (s *Spool) syncLoop() {
	defer s.syncerWG.Done()
	t := time.NewTicker(s.opts.Interval.D())
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if s.opts.Fsync == FsyncInterval {
				s.mu.Lock()
				end := s.writeEnd
				s.mu.Unlock()
				if err := s.syncTo(end); err != nil && !errors.Is(err, ErrClosed) {
					s.log.Error("background fsync failed", slog.String("error", err.Error()))
				}
			}
			if err := s.persistAcked(); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Error("background checkpoint failed", slog.String("error", err.Error()))
			}
		}
	}
}

// Read returns up to max records (DefaultReadMax if max <= 0) that follow
// the last record Read returned, in append order, appending them to dst[:0].
// It blocks until at least one record is available, ctx is done, or the
// spool is closed (ErrClosed). Records are not removed: Ack does that. The
// returned Key and Value slices are owned by the caller.
func (s *Spool) Read(ctx context.Context, dst []Record, max int) ([]Record, error) {
	if max <= 0 {
		max = DefaultReadMax
	}
	out := dst[:0]
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return out, ErrClosed
		}
		var err error
		out, err = s.readLocked(out, max)
		if err != nil || len(out) > 0 {
			s.mu.Unlock()
			return out, err
		}
		if err := s.waitLocked(ctx, 1, "read"); err != nil {
			return out, err
		}
	}
}

// waitLocked waits for the append that brings the unread records to n,
// ctx's end (its error, wrapped, op naming the caller) or Close
// (ErrClosed). Called with mu held; it returns with mu released.
func (s *Spool) waitLocked(ctx context.Context, n int64, op string) error {
	s.waiting, s.waitFor = true, n
	ch := s.notify
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		s.mu.Lock()
		if s.notify == ch {
			s.waiting = false
		}
		s.mu.Unlock()
		return fmt.Errorf("spool: %s: %w", op, ctx.Err())
	}
}

// readChunk bounds one file read in readLocked.
const readChunk = 256 << 10

// TryRead is Read without the wait: it returns the records available now,
// none if there are none.
func (s *Spool) TryRead(dst []Record, max int) ([]Record, error) {
	if max <= 0 {
		max = DefaultReadMax
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return dst[:0], ErrClosed
	}
	return s.readLocked(dst[:0], max)
}

// Await blocks until at least n records wait to be Read, ctx is done (its
// error, wrapped) or the spool is closed (ErrClosed). It is how a reader
// lets a batch fill: the appends in between do not wake it, the one that
// makes n does. Like Read, it is meant for the one reader.
func (s *Spool) Await(ctx context.Context, n int64) error {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if s.unread >= n {
			s.mu.Unlock()
			return nil
		}
		if err := s.waitLocked(ctx, n, "await"); err != nil {
			return err
		}
	}
}

// readLocked reads records at readPos into out. Called with mu held; it
// releases mu around the file read and the checksums, so appenders never
// wait for them. That is safe because Read, Ack and Rewind run on one
// goroutine (the reader's), records below writeEnd never change, and a
// segment file is only closed by Ack (the reader) or Close (checked after
// relocking). It may return no records after skipping damaged ones.
func (s *Spool) readLocked(out []Record, max int) ([]Record, error) {
	for len(out) < max && s.readPos < s.writeEnd {
		g := s.segmentAt(s.readPos)
		if g == nil {
			return out, fmt.Errorf("spool: no segment holds offset %d", uint64(s.readPos))
		}
		if s.readPos < g.base {
			s.readPos = g.base // skip a gap left by truncation
		}
		rel := int64(s.readPos - g.base)
		size := g.size // records in [rel, size) are complete and immutable
		if rel >= size {
			s.readPos = g.end()
			continue
		}
		start, f := s.readPos, g.f
		s.mu.Unlock()
		c, err := readChunkAt(f, g.base, start, rel, size, max-len(out), s.log)
		s.mu.Lock()
		if s.closed {
			return out, ErrClosed
		}
		if err != nil {
			return out, err
		}
		out = append(out, c.recs...)
		s.inflight = append(s.inflight, c.inflight...)
		s.unread = max64(s.unread-c.consumed, 0)
		s.readPos = c.next
		if c.skipRest {
			s.readPos = g.end()
		}
	}
	return out, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// chunk is what readChunkAt found.
type chunk struct {
	recs     []Record
	inflight []inflight
	consumed int64  // records read, damaged ones included
	next     Offset // where the next read starts
	skipRest bool   // a damaged header: the rest of the segment is unreadable
}

// readChunkAt reads up to max records of the segment file f (logical base
// base) from offset start (rel bytes into the file), stopping at size
// bytes. It touches no Spool state.
func readChunkAt(f *os.File, base, start Offset, rel, size int64, max int, log *slog.Logger) (chunk, error) {
	c := chunk{next: start}
	n := min(size-rel, readChunk)
	buf := make([]byte, n) // handed to the caller: records slice into it
	if _, err := f.ReadAt(buf, rel); err != nil {
		return c, fmt.Errorf("spool: reading segment %016x: %w", uint64(base), err)
	}
	p := 0
	for p < len(buf) && len(c.recs) < max {
		off := c.next
		if len(buf)-p < headerSize {
			break
		}
		h, ok := parseHeader(buf[p:])
		if !ok || rel+int64(p)+int64(h.size()) > size {
			log.Error("damaged record header; skipping rest of segment",
				slog.Uint64("offset", uint64(off)), slog.Int64("bytes_skipped", size-rel-int64(p)))
			c.skipRest = true
			break
		}
		if p+h.size() > len(buf) {
			if p > 0 {
				break // the next chunk starts with this record
			}
			// One record larger than the chunk: read it whole.
			buf = make([]byte, h.size())
			if _, err := f.ReadAt(buf, rel); err != nil {
				return c, fmt.Errorf("spool: reading segment %016x: %w", uint64(base), err)
			}
		}
		rec := buf[p : p+h.size() : p+h.size()]
		p += h.size()
		c.next += Offset(h.size())
		c.consumed++
		if !checkCRC(h, rec) {
			log.Error("record failed checksum; skipped",
				slog.Uint64("offset", uint64(off)), slog.Int("bytes", h.size()))
			continue
		}
		k := rec[headerSize : headerSize+h.keyLen : headerSize+h.keyLen]
		c.recs = append(c.recs, Record{Offset: off, Key: k, Value: rec[headerSize+h.keyLen:]})
		c.inflight = append(c.inflight, inflight{off: off, end: c.next})
	}
	return c, nil
}

func (s *Spool) segmentAt(off Offset) *segment {
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].end() > off })
	if i == len(s.segs) {
		return nil
	}
	return s.segs[i]
}

// Ack marks every record up to and including the one at upTo as delivered:
// Read and Rewind never return them again, and segments that are wholly
// acknowledged are deleted. The checkpoint is persisted now under
// FsyncAlways or when a segment is deleted, else within Options.Interval
// (see the package doc); its fsyncs run without blocking appenders. upTo
// must be the Offset of a record returned by Read since the last Rewind;
// acking an offset already acknowledged is a no-op.
func (s *Spool) Ack(upTo Offset) error {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if upTo < s.acked {
		s.mu.Unlock()
		return nil
	}
	i := sort.Search(len(s.inflight), func(i int) bool { return s.inflight[i].off > upTo })
	if i == 0 || s.inflight[i-1].off != upTo {
		s.mu.Unlock()
		return fmt.Errorf("spool: ack of offset %d, which is not a record returned by Read", uint64(upTo))
	}
	newAcked := s.inflight[i-1].end
	dropping := len(s.segs) > 1 && s.segs[0].end() <= newAcked
	s.mu.Unlock()

	if dropping || s.opts.Fsync == FsyncAlways || time.Since(s.persistedAt) >= s.opts.Interval.D() {
		if err := s.persist(newAcked); err != nil {
			return err
		}
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.acked = newAcked
	i = sort.Search(len(s.inflight), func(i int) bool { return s.inflight[i].off > upTo })
	s.inflight = s.inflight[:copy(s.inflight, s.inflight[i:])]
	if s.readPos < s.acked {
		s.readPos = s.acked // a Rewind raced with this Ack
	}
	s.full = false
	var drop []*segment
	for len(s.segs) > 1 && s.segs[0].end() <= s.acked {
		drop = append(drop, s.segs[0])
		s.segs[0] = nil
		s.segs = s.segs[1:]
	}
	// Acknowledged data needs no fsync: forget dropped segments there.
	s.unsynced = slices.DeleteFunc(s.unsynced, func(g *segment) bool { return slices.Contains(drop, g) })
	s.mu.Unlock()
	if len(drop) == 0 {
		return nil
	}

	// No fsync may be running on a file being closed: take syncMu.
	s.syncMu.Lock()
	for _, g := range drop {
		g.f.Close()
	}
	s.syncMu.Unlock()
	for _, g := range drop {
		if err := os.Remove(s.segPath(g.base)); err != nil {
			// Not fatal: Open removes segments below the checkpoint.
			s.log.Error("removing acknowledged segment failed", slog.Uint64("segment", uint64(g.base)),
				slog.String("error", err.Error()))
		}
	}
	if err := syncDir(s.opts.Dir); err != nil {
		s.log.Warn("fsync of spool dir after delete failed", slog.String("error", err.Error()))
	}
	return nil
}

// Rewind moves the read cursor back to the first unacknowledged record, so
// the next Read re-delivers everything not yet acknowledged (after a failed
// send).
func (s *Spool) Rewind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readPos > s.acked {
		s.unread += int64(len(s.inflight))
		s.inflight = s.inflight[:0]
		s.readPos = s.acked
	}
}

// Stats returns a snapshot of the spool's state.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Bytes:    int64(s.writeEnd - s.acked),
		Records:  s.unread + int64(len(s.inflight)),
		Segments: len(s.segs),
		Full:     s.full,
	}
}

// persist writes acked to the checkpoint. Called with ackMu held.
func (s *Spool) persist(acked Offset) error {
	if err := writeCheckpoint(s.opts.Dir, acked); err != nil {
		return err
	}
	s.persisted, s.persistedAt = acked, time.Now()
	return nil
}

// persistAcked persists the acknowledged offset if the checkpoint lags it.
func (s *Spool) persistAcked() error {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	s.mu.Lock()
	acked, closed := s.acked, s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if acked <= s.persisted {
		return nil
	}
	return s.persist(acked)
}

// Close persists the checkpoint if it lags the acknowledgements, fsyncs
// (unless FsyncNever), closes the files and wakes a blocked Read with
// ErrClosed. It is idempotent; later calls return nil.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	ckErr := s.persistAcked()
	s.mu.Lock()
	if s.closed { // a concurrent Close
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.syncerWG.Wait()

	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	err := ckErr
	if s.opts.Fsync != FsyncNever && len(s.segs) > 0 {
		if e := s.syncFiles(s.unsynced, s.dirDirty, s.segs[len(s.segs)-1].f); e != nil && err == nil {
			err = fmt.Errorf("spool: fsync on close: %w", e)
		}
		s.unsynced, s.dirDirty = nil, false
	}
	if e := s.closeFiles(); err == nil {
		err = e
	}
	return err
}

// closeFiles closes segment and lock files. Called with mu held (or before
// the Spool is shared).
func (s *Spool) closeFiles() error {
	var err error
	for _, g := range s.segs {
		if e := g.f.Close(); e != nil && err == nil {
			err = fmt.Errorf("spool: closing segment: %w", e)
		}
	}
	s.segs = nil
	if s.lock != nil {
		s.lock.Close() // releases the flock
		s.lock = nil
	}
	return err
}
