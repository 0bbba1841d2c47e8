package alerting

import (
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type call struct {
	tenant, conv, kind, level string
	at                        time.Duration // offset from t0
	ok                        bool
	suppressed                int
}

func TestAdmit(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		calls []call
	}{
		{"window", Config{Window: duration.Duration(time.Minute)}, []call{
			{"t", "c", "pii", "high", 0, true, 0},
			{"t", "c", "pii", "high", 10 * time.Second, false, 1},
			{"t", "c", "pii", "high", 59 * time.Second, false, 2},
			{"t", "c", "pii", "high", 60 * time.Second, true, 2}, // exactly Window after: admitted, "and 2 more"
			{"t", "c", "pii", "high", 61 * time.Second, false, 1},
			{"t", "c", "pii", "high", 119 * time.Second, false, 2},
			{"t", "c", "pii", "high", 121 * time.Second, true, 2},
		}},
		{"window measured from last admitted, not last seen", Config{Window: duration.Duration(time.Minute)}, []call{
			{"t", "c", "pii", "low", 0, true, 0},
			{"t", "c", "pii", "low", 50 * time.Second, false, 1},
			{"t", "c", "pii", "low", 100 * time.Second, true, 1},
		}},
		{"default window 5m", Config{}, []call{
			{"t", "c", "pii", "low", 0, true, 0},
			{"t", "c", "pii", "low", 4*time.Minute + 59*time.Second, false, 1},
			{"t", "c", "pii", "low", 5 * time.Minute, true, 1},
		}},
		{"escalation", Config{Window: duration.Duration(time.Minute)}, []call{
			{"t", "c", "abuse", "info", 0, true, 0},
			{"t", "c", "abuse", "low", 1 * time.Second, true, 0},
			{"t", "c", "abuse", "low", 2 * time.Second, false, 1},
			{"t", "c", "abuse", "info", 3 * time.Second, false, 2}, // lower: suppressed
			{"t", "c", "abuse", "medium", 4 * time.Second, true, 2},
			{"t", "c", "abuse", "HIGH", 5 * time.Second, true, 0}, // case-insensitive
			{"t", "c", "abuse", "critical", 6 * time.Second, true, 0},
			{"t", "c", "abuse", "critical", 7 * time.Second, false, 1},
			{"t", "c", "abuse", "high", 8 * time.Second, false, 2},
			// the escalation restarted the window at 6s
			{"t", "c", "abuse", "critical", 65 * time.Second, false, 3},
			{"t", "c", "abuse", "low", 66 * time.Second, true, 3},
		}},
		{"unknown level never escalates", Config{Window: duration.Duration(time.Minute)}, []call{
			{"t", "c", "k", "bogus", 0, true, 0},
			{"t", "c", "k", "bogus", time.Second, false, 1},
			{"t", "c", "k", "info", 2 * time.Second, true, 1},
			{"t", "c", "k", "bogus", 3 * time.Second, false, 1},
		}},
		{"clock going backwards is within window", Config{Window: duration.Duration(time.Minute)}, []call{
			{"t", "c", "k", "low", time.Hour, true, 0},
			{"t", "c", "k", "low", 0, false, 1},
		}},
		{"separate tenants, conversations and kinds", Config{Window: duration.Duration(time.Minute)}, []call{
			{"t1", "c1", "k1", "low", 0, true, 0},
			{"t2", "c1", "k1", "low", 0, true, 0},
			{"t1", "c2", "k1", "low", 0, true, 0},
			{"t1", "c1", "k2", "low", 0, true, 0},
			{"t1", "c1", "k1", "low", time.Second, false, 1},
			{"t2", "c1", "k1", "low", time.Second, false, 1},
			{"t1", "c2", "k1", "low", time.Second, false, 1},
			{"t1", "c1", "k2", "low", time.Second, false, 1},
			// field boundaries are not ambiguous
			{"t1c", "1", "k1", "low", time.Second, true, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(tt.cfg)
			for i, c := range tt.calls {
				ok, n := d.Admit(c.tenant, c.conv, c.kind, c.level, t0.Add(c.at))
				if ok != c.ok || n != c.suppressed {
					t.Fatalf("call %d %+v: got (%v, %d), want (%v, %d)", i, c, ok, n, c.ok, c.suppressed)
				}
			}
		})
	}
}

func TestBound(t *testing.T) {
	d := New(Config{Window: duration.Duration(time.Hour), MaxKeys: 3})
	for _, c := range []string{"a", "b", "c"} {
		if ok, _ := d.Admit("t", c, "k", "low", t0); !ok {
			t.Fatalf("first alert of %s not admitted", c)
		}
	}
	// touch a, so b is least recently used
	if ok, _ := d.Admit("t", "a", "k", "low", t0); ok {
		t.Fatal("repeat of a admitted")
	}
	if ok, _ := d.Admit("t", "d", "k", "low", t0); !ok {
		t.Fatal("d not admitted")
	}
	if d.Len() != 3 {
		t.Fatalf("Len = %d, want 3", d.Len())
	}
	// b was evicted, so its next alert is admitted; a, c, d are remembered...
	if ok, _ := d.Admit("t", "b", "k", "low", t0); !ok {
		t.Fatal("evicted b not admitted")
	}
	// ...but admitting b evicted c (least recently used now).
	for c, want := range map[string]bool{"a": false, "d": false, "b": false} {
		if ok, _ := d.Admit("t", c, "k", "low", t0); ok != want {
			t.Fatalf("%s: admitted=%v, want %v", c, ok, want)
		}
	}
	if ok, _ := d.Admit("t", "c", "k", "low", t0); !ok {
		t.Fatal("evicted c not admitted")
	}

	// Many keys stay within the bound.
	d = New(Config{MaxKeys: 100})
	for i := range 10_000 {
		d.Admit("t", strconv.Itoa(i), "k", "low", t0)
	}
	if d.Len() != 100 {
		t.Fatalf("Len = %d, want 100", d.Len())
	}
}

// TestKeysCopied passes a key backed by a buffer that is then reused (as
// fasthttp does) and checks the remembered key is unaffected.
func TestKeysCopied(t *testing.T) {
	d := New(Config{})
	buf := []byte("conv-1")
	d.Admit("t", unsafe.String(&buf[0], len(buf)), "k", "low", t0)
	copy(buf, "conv-2")
	if ok, _ := d.Admit("t", "conv-1", "k", "low", t0); ok {
		t.Fatal("repeat of conv-1 admitted: key not copied")
	}
	if ok, _ := d.Admit("t", "conv-2", "k", "low", t0); !ok {
		t.Fatal("conv-2 suppressed: key not copied")
	}
}

// TestConcurrent hammers one Dedup from many goroutines: per key, exactly
// one alert in a window is admitted, and admitted + suppressed add up.
func TestConcurrent(t *testing.T) {
	d := New(Config{Window: duration.Duration(time.Hour), MaxKeys: 1000})
	const goroutines, perG, keys = 8, 2000, 50
	var mu sync.Mutex
	admitted := make(map[string]int)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				c := strconv.Itoa((i + g) % keys)
				if ok, _ := d.Admit("t", c, "k", "medium", t0); ok {
					mu.Lock()
					admitted[c]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(admitted) != keys {
		t.Fatalf("%d keys admitted, want %d", len(admitted), keys)
	}
	for c, n := range admitted {
		if n != 1 {
			t.Fatalf("key %s admitted %d times, want 1", c, n)
		}
	}
	// After the window, each key reports every repeat it dropped.
	total := 0
	for c := range keys {
		ok, n := d.Admit("t", strconv.Itoa(c), "k", "medium", t0.Add(time.Hour))
		if !ok {
			t.Fatalf("key %d not admitted after window", c)
		}
		total += n
	}
	if want := goroutines*perG - keys; total != want {
		t.Fatalf("suppressed total %d, want %d", total, want)
	}
}

func BenchmarkAdmit(b *testing.B) {
	d := New(Config{Window: duration.Duration(time.Minute)})
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = "conv-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		d.Admit("tenant", ids[i%len(ids)], "pii", "high", t0.Add(time.Duration(i)*time.Millisecond))
	}
}

func BenchmarkAdmitParallel(b *testing.B) {
	d := New(Config{Window: duration.Duration(time.Minute)})
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = "conv-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			d.Admit("tenant", ids[i%len(ids)], "pii", "high", t0)
		}
	})
}
