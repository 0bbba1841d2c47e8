package rules

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewSource(t *testing.T) {
	dir := liveDir(t, "v1")
	file := filepath.Join(t.TempDir(), "b.tar.gz")
	os.WriteFile(file, tarOf(t, "v1"), 0o644)
	for _, tc := range []struct {
		spec, want, name string
		kind             Source
	}{
		{"", "", "(built-in)", &embeddedSource{}},
		{dir, "", dir, &dirSource{}},
		{file, "", file, &tarSource{}},
		{"https://bundles.example/xunjian.tar.gz", "", "https://bundles.example/xunjian.tar.gz", &httpSource{}},
		{"https://ci:s3cret@bundles.example/b.tar.gz", "", "https://ci:xxxxx@bundles.example/b.tar.gz", &httpSource{}},
		{filepath.Join(dir, "missing"), "no such file", "", nil},
		{"http://", "not a valid URL", "", nil},
	} {
		src, err := NewSource(tc.spec, SourceOptions{})
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewSource(%q) error = %v, want %q", tc.spec, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewSource(%q): %v", tc.spec, err)
			continue
		}
		if src.String() != tc.name {
			t.Errorf("NewSource(%q).String() = %q, want %q", tc.spec, src, tc.name)
		}
		if got, want := fmt.Sprintf("%T", src), fmt.Sprintf("%T", tc.kind); got != want {
			t.Errorf("NewSource(%q) is a %s, want %s", tc.spec, got, want)
		}
	}
}

func TestDirSourceChanges(t *testing.T) {
	ctx := context.Background()
	dir := liveDir(t, "v1")
	src := mustSource(t, dir, SourceOptions{})
	first, err := src.fetch(ctx, false)
	if err != nil || first == nil || first.err != nil || first.src.revision != "v1" {
		t.Fatalf("first fetch = %+v, %v", first, err)
	}
	if snap, err := src.fetch(ctx, false); snap != nil || err != nil {
		t.Errorf("unchanged directory fetched again: %+v, %v", snap, err)
	}
	if snap, err := src.fetch(ctx, true); snap == nil || err != nil {
		t.Errorf("forced fetch = %+v, %v", snap, err)
	}
	// A touch is read again, but the content digest says it is the same.
	later := time.Now().Add(time.Second)
	os.Chtimes(filepath.Join(dir, ".manifest"), later, later)
	snap, err := src.fetch(ctx, false)
	if err != nil || snap == nil || snap.src.digest != first.src.digest {
		t.Errorf("after a touch: %+v, %v; want the same digest", snap, err)
	}
	putBundle(t, dir, "v2")
	snap, err = src.fetch(ctx, false)
	if err != nil || snap == nil || snap.src.digest == first.src.digest || snap.src.revision != "v2" {
		t.Errorf("after a change: %+v, %v", snap, err)
	}
	// A directory that disappears is a fetch error, retried later.
	os.RemoveAll(dir)
	if _, err := src.fetch(ctx, false); err == nil {
		t.Error("fetch of a removed directory succeeded")
	}
}

func TestTarballLimits(t *testing.T) {
	// 8 MiB of zeros compress to a few KiB.
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	big := make([]byte, 8<<20)
	tw.WriteHeader(&tar.Header{Name: "/xunjian/data.json", Mode: 0o644, Size: int64(len(big))})
	tw.Write(big)
	tw.Close()
	gz.Close()
	if buf.Len() > 1<<20 {
		t.Fatalf("bomb is %d bytes", buf.Len())
	}
	snap := readTarball("bomb.tar.gz", buf.Bytes(), 1<<20)
	if snap.err == nil || !strings.Contains(snap.err.Error(), "unpack to more than the limit") {
		t.Errorf("bomb: %v", snap.err)
	}
	snap = readTarball("junk.tar.gz", []byte("not gzip"), 1<<20)
	if snap.err == nil || !strings.Contains(snap.err.Error(), "not a .tar.gz") {
		t.Errorf("junk: %v", snap.err)
	}
}
