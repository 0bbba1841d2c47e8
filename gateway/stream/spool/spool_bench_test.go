package spool

import (
	"bytes"
	"context"
	"fmt"
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

// BenchmarkReadAck measures draining: Read batches and Ack each batch, as
// the shipper does; ns/op is per record. Batches of 512 are a shipper
// catching up; batches of 32 one shipping every 10 ms at a few thousand
// events a second, where the checkpoint's cost per record is highest.
func BenchmarkReadAck(b *testing.B) {
	for _, batch := range []int{512, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			k, v := []byte("conv-123456"), bytes.Repeat([]byte("v"), 300)
			s, _ := open(b, Options{Dir: b.TempDir(), SegmentBytes: 4 << 20, MaxBytes: 1 << 40})
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				if _, err := s.Write(ctx, k, v); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(encodedSize(k, v)))
			b.ReportAllocs()
			b.ResetTimer()
			var buf []Record
			for n := 0; n < b.N; {
				recs, err := s.Read(ctx, buf, batch)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Ack(recs[len(recs)-1].Offset); err != nil {
					b.Fatal(err)
				}
				n += len(recs)
				buf = recs
			}
		})
	}
}
