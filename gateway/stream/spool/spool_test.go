package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

// logBuf is a concurrency-safe log sink for assertions on log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func open(t testing.TB, o Options) (*Spool, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	o.Logger = slog.New(slog.NewTextHandler(lb, nil))
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, lb
}

// abandon simulates a process crash: file descriptors go away without a
// final fsync or checkpoint; the page cache (what the OS would keep) stays.
func (s *Spool) abandon() {
	s.mu.Lock()
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.syncerWG.Wait()
	s.syncMu.Lock()
	s.mu.Lock()
	for _, g := range s.segs {
		g.f.Close()
	}
	s.segs = nil
	s.lock.Close()
	s.mu.Unlock()
	s.syncMu.Unlock()
}

func val(i int) []byte {
	return fmt.Appendf(nil, `{"event_id":"e-%06d","pad":"%s"}`, i, strings.Repeat("x", i%37))
}
func key(i int) []byte { return fmt.Appendf(nil, "conv-%d", i%5) }

func appendN(t testing.TB, s *Spool, from, n int) []Offset {
	t.Helper()
	offs := make([]Offset, 0, n)
	for i := from; i < from+n; i++ {
		off, err := s.Append(context.Background(), key(i), val(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		offs = append(offs, off)
	}
	return offs
}

// readN reads exactly n records (in batches of at most batch) or fails.
func readN(t testing.TB, s *Spool, n, batch int) []Record {
	t.Helper()
	var all []Record
	for len(all) < n {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		recs, err := s.Read(ctx, nil, min(batch, n-len(all)))
		cancel()
		if err != nil {
			t.Fatalf("Read after %d of %d: %v", len(all), n, err)
		}
		all = append(all, recs...)
	}
	return all
}

func expectNone(t testing.TB, s *Spool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	recs, err := s.Read(ctx, nil, 10)
	if !errors.Is(err, context.DeadlineExceeded) || len(recs) != 0 {
		t.Fatalf("Read on drained spool = %d records, %v; want none, deadline", len(recs), err)
	}
}

func checkSeq(t testing.TB, recs []Record, want []int) {
	t.Helper()
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for j, r := range recs {
		i := want[j]
		if !bytes.Equal(r.Key, key(i)) || !bytes.Equal(r.Value, val(i)) {
			t.Fatalf("record %d = %q/%q, want event %d", j, r.Key, r.Value, i)
		}
		if j > 0 && r.Offset <= recs[j-1].Offset {
			t.Fatalf("offsets not increasing at %d", j)
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func segFiles(t testing.TB, dir string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	return len(m)
}

func TestRoundTripAcrossSegments(t *testing.T) {
	for _, tc := range []struct {
		name    string
		segSize int64
		fsync   FsyncPolicy
		batch   int
	}{
		{"tiny-segments-always", 200, FsyncAlways, 3},
		{"small-segments-interval", 1024, FsyncInterval, 7},
		{"small-segments-never", 4096, FsyncNever, 50},
		{"one-segment", 0, FsyncNever, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := open(t, Options{Dir: dir, SegmentBytes: tc.segSize, Fsync: tc.fsync, Interval: duration.Duration(time.Millisecond)})
			const n = 300
			appendN(t, s, 0, n)
			if tc.segSize > 0 && s.Stats().Segments < 5 {
				t.Fatalf("segments = %d, want several rolls", s.Stats().Segments)
			}
			var got []Record
			for len(got) < n {
				recs, err := s.Read(context.Background(), nil, tc.batch)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, recs...)
				if err := s.Ack(recs[len(recs)-1].Offset); err != nil {
					t.Fatal(err)
				}
			}
			checkSeq(t, got, seq(0, n))
			expectNone(t, s)
			st := s.Stats()
			if st.Records != 0 || st.Bytes != 0 || st.Segments != 1 || segFiles(t, dir) != 1 {
				t.Fatalf("after acking all: %+v, files %d; want 0 records, 0 bytes, 1 segment", st, segFiles(t, dir))
			}
		})
	}
}

func TestRestartReplaysUnacknowledged(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{10, 0}, {10, 10}, {100, 37}, {100, 99}} {
		t.Run(fmt.Sprintf("n%d-k%d", tc.n, tc.k), func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Dir: dir, SegmentBytes: 512, Fsync: FsyncNever}
			s, _ := open(t, o)
			appendN(t, s, 0, tc.n)
			recs := readN(t, s, tc.n, 1000)
			if tc.k > 0 {
				if err := s.Ack(recs[tc.k-1].Offset); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, _ := open(t, o)
			if st := s2.Stats(); st.Records != int64(tc.n-tc.k) {
				t.Fatalf("Stats after reopen = %+v, want %d records", st, tc.n-tc.k)
			}
			checkSeq(t, readN(t, s2, tc.n-tc.k, 1000), seq(tc.k, tc.n))
			expectNone(t, s2)
			// New appends continue after the old ones.
			appendN(t, s2, tc.n, 3)
			checkSeq(t, readN(t, s2, 3, 10), seq(tc.n, tc.n+3))
		})
	}
}

func TestCrashWithoutClose(t *testing.T) {
	for _, p := range []FsyncPolicy{FsyncAlways, FsyncInterval, FsyncNever} {
		t.Run(p.String(), func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Dir: dir, SegmentBytes: 1000, Fsync: p}
			s, _ := open(t, o)
			appendN(t, s, 0, 50)
			recs := readN(t, s, 20, 100)
			if err := s.Ack(recs[9].Offset); err != nil {
				t.Fatal(err)
			}
			s.abandon()
			s2, _ := open(t, o)
			checkSeq(t, readN(t, s2, 40, 100), seq(10, 50))
			expectNone(t, s2)
		})
	}
}

// lastSegment returns the path of the highest segment file.
func lastSegment(t *testing.T, dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	sort.Strings(m)
	return m[len(m)-1]
}

func TestDamageOnDisk(t *testing.T) {
	rec := func(i int) int { return encodedSize(key(i), val(i)) }
	// pos returns the file position of record i when all are in one segment.
	pos := func(i int) int64 {
		var p int64
		for j := 0; j < i; j++ {
			p += int64(rec(j))
		}
		return p
	}
	const n = 10
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, path string)
		want    []int
		logWant string
	}{
		{
			name: "torn tail mid value",
			damage: func(t *testing.T, path string) {
				os.Truncate(path, pos(n-1)+int64(rec(n-1))-5)
			},
			want: seq(0, n-1), logWant: "torn record",
		},
		{
			name:   "torn tail mid header",
			damage: func(t *testing.T, path string) { os.Truncate(path, pos(n-1)+7) },
			want:   seq(0, n-1), logWant: "torn header",
		},
		{
			name:   "garbage tail record bad crc",
			damage: func(t *testing.T, path string) { flip(t, path, pos(n-1)+int64(rec(n-1))-1) },
			want:   seq(0, n-1), logWant: "checksum mismatch in tail record",
		},
		{
			name:   "corrupt value in the middle is skipped",
			damage: func(t *testing.T, path string) { flip(t, path, pos(3)+headerSize+8) },
			want:   append(seq(0, 3), seq(4, n)...), logWant: "record failed checksum",
		},
		{
			name:   "corrupt key in the middle is skipped",
			damage: func(t *testing.T, path string) { flip(t, path, pos(6)+headerSize) },
			want:   append(seq(0, 6), seq(7, n)...), logWant: "record failed checksum",
		},
		{
			name:   "damaged header truncates from there",
			damage: func(t *testing.T, path string) { flip(t, path, pos(4)) },
			want:   seq(0, 4), logWant: "damaged header",
		},
		{
			name:   "impossible length truncates from there",
			damage: func(t *testing.T, path string) { flip(t, path, pos(4)+7) },
			want:   seq(0, 4), logWant: "damaged header",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Dir: dir, Fsync: FsyncNever}
			s, _ := open(t, o)
			appendN(t, s, 0, n)
			s.Close()
			tc.damage(t, lastSegment(t, dir))
			s2, lb := open(t, o)
			checkSeq(t, readN(t, s2, len(tc.want), 100), tc.want)
			expectNone(t, s2)
			if !strings.Contains(lb.String(), tc.logWant) {
				t.Fatalf("log %q does not mention %q", lb.String(), tc.logWant)
			}
			if strings.Contains(lb.String(), "event_id") || strings.Contains(lb.String(), "conv-") {
				t.Fatalf("log leaks record contents: %q", lb.String())
			}
			// The spool keeps working after recovery.
			appendN(t, s2, 100, 2)
			checkSeq(t, readN(t, s2, 2, 10), seq(100, 102))
		})
	}
}

func flip(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xFF
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptionAfterOpenSkippedByRead(t *testing.T) {
	dir := t.TempDir()
	s, lb := open(t, Options{Dir: dir, Fsync: FsyncNever})
	appendN(t, s, 0, 5)
	flip(t, lastSegment(t, dir), int64(encodedSize(key(0), val(0)))+headerSize+3) // record 1's value
	checkSeq(t, readN(t, s, 4, 10), []int{0, 2, 3, 4})
	if !strings.Contains(lb.String(), "record failed checksum; skipped") {
		t.Fatalf("no log line for skipped record: %q", lb.String())
	}
}

func TestFullThenAckFreesSpace(t *testing.T) {
	dir := t.TempDir()
	sz := int64(encodedSize(key(0), val(0)))
	s, _ := open(t, Options{Dir: dir, SegmentBytes: 3 * sz, MaxBytes: 10 * sz, Fsync: FsyncNever})
	ctx := context.Background()
	var n int
	for ; ; n++ {
		_, err := s.Append(ctx, key(0), val(0))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n > 100 {
			t.Fatal("never full")
		}
	}
	if n != 10 {
		t.Fatalf("accepted %d records, want 10", n)
	}
	if st := s.Stats(); !st.Full || st.Bytes != 10*sz {
		t.Fatalf("Stats = %+v, want Full, %d bytes", st, 10*sz)
	}
	recs := readN(t, s, 4, 4)
	if err := s.Ack(recs[3].Offset); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Full {
		t.Fatal("still Full after Ack")
	}
	for i := 0; i < 4; i++ {
		if _, err := s.Append(ctx, key(0), val(0)); err != nil {
			t.Fatalf("Append %d after Ack: %v", i, err)
		}
	}
	if _, err := s.Append(ctx, key(0), val(0)); !errors.Is(err, ErrFull) {
		t.Fatalf("Append past MaxBytes = %v, want ErrFull", err)
	}
}

func TestConcurrentAppendersOneReader(t *testing.T) {
	const writers, per = 8, 1000
	dir := t.TempDir()
	s, _ := open(t, Options{Dir: dir, SegmentBytes: 32 << 10, Fsync: FsyncInterval, Interval: duration.Duration(5 * time.Millisecond)})
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := fmt.Appendf(nil, "w%d", w)
			for i := 0; i < per; i++ {
				v := fmt.Appendf(nil, "%d", i)
				if _, err := s.Append(context.Background(), k, v); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				v[0] = 'X' // Append must have copied
			}
		}()
	}
	next := map[string]int{}
	var total int
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var buf []Record
	for total < writers*per {
		recs, err := s.Read(ctx, buf, 100)
		if err != nil {
			t.Fatalf("Read after %d: %v", total, err)
		}
		for _, r := range recs {
			k := string(r.Key)
			if want := fmt.Sprint(next[k]); string(r.Value) != want {
				t.Fatalf("writer %s: got %q, want %s (lost, duplicated or reordered)", k, r.Value, want)
			}
			next[k]++
		}
		total += len(recs)
		if err := s.Ack(recs[len(recs)-1].Offset); err != nil {
			t.Fatal(err)
		}
		buf = recs
	}
	wg.Wait()
	expectNone(t, s)
	for w := 0; w < writers; w++ {
		if next[fmt.Sprintf("w%d", w)] != per {
			t.Fatalf("writer %d: %d records", w, next[fmt.Sprintf("w%d", w)])
		}
	}
	if st := s.Stats(); st.Records != 0 || st.Segments != 1 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestRewind(t *testing.T) {
	s, _ := open(t, Options{Dir: t.TempDir(), SegmentBytes: 300, Fsync: FsyncNever})
	appendN(t, s, 0, 10)
	recs := readN(t, s, 5, 5)
	if err := s.Ack(recs[2].Offset); err != nil {
		t.Fatal(err)
	}
	checkSeq(t, readN(t, s, 3, 3), seq(5, 8))
	s.Rewind()
	if st := s.Stats(); st.Records != 7 {
		t.Fatalf("Records after Rewind = %d, want 7", st.Records)
	}
	checkSeq(t, readN(t, s, 7, 100), seq(3, 10))
	s.Rewind()
	s.Rewind() // idempotent
	recs = readN(t, s, 7, 100)
	checkSeq(t, recs, seq(3, 10))
	if err := s.Ack(recs[6].Offset); err != nil {
		t.Fatal(err)
	}
	s.Rewind()
	expectNone(t, s)
}

func TestAckValidation(t *testing.T) {
	s, _ := open(t, Options{Dir: t.TempDir(), Fsync: FsyncNever})
	offs := appendN(t, s, 0, 5)
	if err := s.Ack(offs[1]); err == nil {
		t.Fatal("Ack of an unread record succeeded")
	}
	recs := readN(t, s, 3, 3)
	if err := s.Ack(recs[1].Offset + 1); err == nil {
		t.Fatal("Ack of a non-record offset succeeded")
	}
	if err := s.Ack(recs[2].Offset); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(recs[0].Offset); err != nil {
		t.Fatalf("re-Ack of acknowledged offset = %v, want nil", err)
	}
	if got := s.Stats().Records; got != 2 {
		t.Fatalf("Records = %d, want 2", got)
	}
}

func TestCloseAndErrors(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, Options{Dir: dir, Fsync: FsyncInterval})
	if _, err := Open(Options{Dir: dir}); err == nil {
		t.Fatal("second Open of a locked dir succeeded")
	}
	if _, err := s.Append(context.Background(), nil, make([]byte, MaxRecordBytes)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized Append = %v, want ErrTooLarge", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, nil, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with canceled ctx = %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Read(context.Background(), nil, 1)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked Read on Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := s.Append(context.Background(), nil, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if _, err := s.Read(context.Background(), nil, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v", err)
	}
	if err := s.Ack(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ack after Close = %v", err)
	}
	for _, o := range []Options{{}, {Dir: dir, MaxBytes: -1}, {Dir: dir, Fsync: "sometimes"}} {
		if _, err := Open(o); err == nil {
			t.Fatalf("Open(%+v) succeeded", o)
		}
	}
	// Lock released by Close.
	s2, _ := open(t, Options{Dir: dir})
	s2.Close()
}

func TestCheckpointBeyondDataAndDamagedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, Fsync: FsyncNever}
	s, _ := open(t, o)
	appendN(t, s, 0, 5)
	s.Close()
	// As if acknowledged data was lost from the tail in a machine crash.
	if err := writeCheckpoint(dir, 1<<20); err != nil {
		t.Fatal(err)
	}
	s2, lb := open(t, o)
	if !strings.Contains(lb.String(), "checkpoint beyond end") {
		t.Fatalf("log = %q", lb.String())
	}
	expectNone(t, s2)
	offs := appendN(t, s2, 10, 2)
	if offs[0] < 1<<20 {
		t.Fatalf("new offset %d below checkpoint", offs[0])
	}
	checkSeq(t, readN(t, s2, 2, 10), seq(10, 12))
	s2.Close()

	os.WriteFile(filepath.Join(dir, checkpointName), []byte("garbage"), 0o600)
	if _, err := Open(o); err == nil {
		t.Fatal("Open with damaged checkpoint succeeded")
	}
}

func TestAppendZeroAllocs(t *testing.T) {
	s, _ := open(t, Options{Dir: t.TempDir(), Fsync: FsyncNever})
	k, v := []byte("conv-1"), bytes.Repeat([]byte("v"), 300)
	ctx := context.Background()
	if a := testing.AllocsPerRun(1000, func() {
		if _, err := s.Append(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Append allocates %v per op", a)
	}
}

func TestWriteThenSync(t *testing.T) {
	s, _ := open(t, Options{Dir: t.TempDir(), Fsync: FsyncAlways})
	synced := func() (Offset, Offset) {
		s.syncMu.Lock()
		defer s.syncMu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.synced, s.writeEnd
	}
	if _, err := s.Append(context.Background(), key(0), val(0)); err != nil {
		t.Fatal(err)
	}
	if got, end := synced(); got != end {
		t.Fatalf("Append with FsyncAlways: synced %d, written %d", got, end)
	}
	for i := 1; i < 4; i++ {
		if _, err := s.Write(context.Background(), key(i), val(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got, end := synced(); got == end {
		t.Fatalf("Write fsynced (synced %d = written %d)", got, end)
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, end := synced(); got != end {
		t.Fatalf("after Sync: synced %d, written %d", got, end)
	}
	checkSeq(t, readN(t, s, 4, 10), seq(0, 4))
	s.Close()
	if err := s.Sync(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Write(context.Background(), key(9), val(9)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
}

// TestRollDefersFsync: rolling to a new segment leaves the old one for the
// next sync (never an fsync under the append lock); Append with
// FsyncAlways, Sync and Ack all leave nothing unsynced behind.
func TestRollDefersFsync(t *testing.T) {
	state := func(s *Spool) (unsynced int, synced, end Offset) {
		s.syncMu.Lock()
		defer s.syncMu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.unsynced), s.synced, s.writeEnd
	}
	s, _ := open(t, Options{Dir: t.TempDir(), SegmentBytes: 500, Fsync: FsyncInterval, Interval: duration.Duration(time.Hour)})
	for i := range 20 {
		if _, err := s.Write(context.Background(), key(i), val(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, _, _ := state(s); n == 0 {
		t.Fatal("rolls left no segment to sync")
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, synced, end := state(s); n != 0 || synced != end {
		t.Fatalf("after Sync: %d unsynced, synced %d of %d", n, synced, end)
	}
	for i := 20; i < 40; i++ {
		s.Write(context.Background(), key(i), val(i))
	}
	recs := readN(t, s, 40, 100)
	if err := s.Ack(recs[len(recs)-2].Offset); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := state(s); n != 0 {
		t.Fatalf("acked segments still wait for an fsync: %d", n)
	}

	a, _ := open(t, Options{Dir: t.TempDir(), SegmentBytes: 500, Fsync: FsyncAlways})
	appendN(t, a, 0, 20)
	if n, synced, end := state(a); n != 0 || synced != end {
		t.Fatalf("FsyncAlways: %d unsynced, synced %d of %d after Append", n, synced, end)
	}
}

// TestCheckpointPersistence: a shipper acks every batch, so the checkpoint
// (two fsyncs) is written on every Ack only under FsyncAlways; otherwise at
// most once per Interval, before a segment is deleted, by the background
// loop and on Close. A crash redelivers what was acked since the last
// write, never loses what was not acked.
func TestCheckpointPersistence(t *testing.T) {
	const hour = duration.Duration(time.Hour)
	for _, tc := range []struct {
		name string
		o    Options
		// wait for the background loop before the crash
		wait bool
		// close instead of crashing
		close bool
		// what a reopened spool reads first: the second Ack's records
		// again (10) or not (20)
		from int
	}{
		{"always", Options{Fsync: FsyncAlways, Interval: hour}, false, false, 20},
		{"interval-crash", Options{Fsync: FsyncInterval, Interval: hour}, false, false, 10},
		{"never-crash", Options{Fsync: FsyncNever, Interval: hour}, false, false, 10},
		{"interval-close", Options{Fsync: FsyncInterval, Interval: hour}, false, true, 20},
		{"never-close", Options{Fsync: FsyncNever, Interval: hour}, false, true, 20},
		{"interval-loop", Options{Fsync: FsyncInterval, Interval: duration.Duration(time.Millisecond)}, true, false, 20},
		{"never-loop", Options{Fsync: FsyncNever, Interval: duration.Duration(time.Millisecond)}, true, false, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Dir = t.TempDir()
			s, _ := open(t, o)
			appendN(t, s, 0, 50)
			recs := readN(t, s, 30, 100)
			if err := s.Ack(recs[9].Offset); err != nil { // the first Ack is persisted
				t.Fatal(err)
			}
			if err := s.Ack(recs[19].Offset); err != nil {
				t.Fatal(err)
			}
			if tc.wait {
				deadline := time.Now().Add(5 * time.Second)
				for {
					off, err := readCheckpoint(o.Dir)
					if err != nil {
						t.Fatal(err)
					}
					if off == recs[20].Offset {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("checkpoint %d after 5s, want %d", off, recs[20].Offset)
					}
					time.Sleep(time.Millisecond)
				}
			}
			if tc.close {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				s.abandon()
			}
			s2, _ := open(t, o)
			checkSeq(t, readN(t, s2, 50-tc.from, 100), seq(tc.from, 50))
			expectNone(t, s2)
		})
	}
}

// TestCheckpointBeforeDelete: an Ack that deletes a segment persists the
// checkpoint first, whatever the interval.
func TestCheckpointBeforeDelete(t *testing.T) {
	o := Options{Dir: t.TempDir(), SegmentBytes: 300, Fsync: FsyncNever, Interval: duration.Duration(time.Hour)}
	s, _ := open(t, o)
	appendN(t, s, 0, 40)
	recs := readN(t, s, 40, 100)
	if err := s.Ack(recs[0].Offset); err != nil {
		t.Fatal(err)
	}
	segs := s.Stats().Segments
	if err := s.Ack(recs[30].Offset); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Segments >= segs {
		t.Fatalf("segments %d after acking most records, %d before: none deleted", s.Stats().Segments, segs)
	}
	if off, err := readCheckpoint(o.Dir); err != nil || off != recs[31].Offset {
		t.Fatalf("checkpoint %d (%v) after an Ack that deleted segments, want %d", off, err, recs[31].Offset)
	}
	s.abandon()
	s2, _ := open(t, o)
	checkSeq(t, readN(t, s2, 9, 100), seq(31, 40))
}

// TestAwaitAndTryRead: Await returns once n records wait to be read (not
// at the first), on ctx's end or on Close; TryRead returns what is there
// without waiting.
func TestAwaitAndTryRead(t *testing.T) {
	s, _ := open(t, Options{Dir: t.TempDir()})
	if recs, err := s.TryRead(nil, 10); err != nil || len(recs) != 0 {
		t.Fatalf("TryRead on an empty spool: %d records, %v", len(recs), err)
	}
	appendN(t, s, 0, 4)
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	err := s.Await(short, 5)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await(5) with 4 records: %v, want the deadline", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Await(context.Background(), 6) }()
	appendN(t, s, 4, 1)
	select {
	case err := <-done:
		t.Fatalf("Await(6) returned at 5 records: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	appendN(t, s, 5, 1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Await(6) at 6 records: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Await(6) still waiting at 6 records")
	}
	recs, err := s.TryRead(nil, 4)
	if err != nil {
		t.Fatal(err)
	}
	checkSeq(t, recs, seq(0, 4))
	recs, err = s.TryRead(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkSeq(t, recs, seq(4, 6))
	go func() { done <- s.Await(context.Background(), 1) }()
	time.Sleep(10 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Await after Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Await still waiting after Close")
	}
	if _, err := s.TryRead(nil, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("TryRead after Close: %v, want ErrClosed", err)
	}
}
