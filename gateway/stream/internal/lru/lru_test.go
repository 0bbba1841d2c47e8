package lru

import "testing"

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	l := New[string, int](2)
	l.Add("a", 1)
	l.Add("b", 2)
	if v, ok := l.Get("a"); !ok || *v != 1 { // a is now the most recent
		t.Fatalf("Get(a) = %v %v", v, ok)
	}
	l.Add("c", 3) // evicts b
	if _, ok := l.Get("b"); ok {
		t.Error("b survived although it was the least recently used")
	}
	for k, want := range map[string]int{"a": 1, "c": 3} {
		if v, ok := l.Get(k); !ok || *v != want {
			t.Errorf("Get(%s) = %v %v, want %d", k, v, ok, want)
		}
	}
	if l.Len() != 2 {
		t.Errorf("Len = %d, want 2", l.Len())
	}
	v, _ := l.Get("a")
	*v = 10
	if v, _ := l.Get("a"); *v != 10 {
		t.Error("a value changed through Get's pointer was not kept")
	}
}
