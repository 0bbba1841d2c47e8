package spool

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkAppend measures Append of a 300-byte event under each fsync
// policy. FsyncAlways pays one fsync per op when serial (shared under
// parallel load); that is the point of measuring it.
func BenchmarkAppend(b *testing.B) {
	k, v := []byte("conv-123456"), bytes.Repeat([]byte("v"), 300)
	for _, p := range []FsyncPolicy{FsyncAlways, FsyncInterval, FsyncNever} {
		for _, par := range []bool{false, true} {
			name := p.String()
			if par {
				name += "-parallel"
			}
			b.Run(name, func(b *testing.B) {
				s, _ := open(b, Options{Dir: b.TempDir(), Fsync: p, SegmentBytes: 64 << 20, MaxBytes: 1 << 40})
				ctx := context.Background()
				b.SetBytes(int64(encodedSize(k, v)))
				b.ReportAllocs()
				b.ResetTimer()
				if par {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := s.Append(ctx, k, v); err != nil {
								b.Fatal(err)
							}
						}
					})
					return
				}
				for i := 0; i < b.N; i++ {
					if _, err := s.Append(ctx, k, v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkReadAck measures draining: Read batches of 512 and Ack each
// batch (one checkpoint fsync per batch). ns/op is per record.
func BenchmarkReadAck(b *testing.B) {
	k, v := []byte("conv-123456"), bytes.Repeat([]byte("v"), 300)
	s, _ := open(b, Options{Dir: b.TempDir(), Fsync: FsyncNever, SegmentBytes: 4 << 20, MaxBytes: 1 << 40})
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(ctx, k, v); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(encodedSize(k, v)))
	b.ReportAllocs()
	b.ResetTimer()
	var buf []Record
	for n := 0; n < b.N; {
		recs, err := s.Read(ctx, buf, 512)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Ack(recs[len(recs)-1].Offset); err != nil {
			b.Fatal(err)
		}
		n += len(recs)
		buf = recs
	}
}
