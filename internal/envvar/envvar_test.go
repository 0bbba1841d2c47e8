package envvar

import (
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	for s, want := range map[string]bool{
		"XJ_KEY": true, "_x": true, "a1": true, strings.Repeat("A", 128): true,
		"": false, "1X": false, "X-KEY": false, "X KEY": false, "sk-live-0123456789abcdef": false, strings.Repeat("A", 129): false, "KEY=1": false, "ＫＥＹ": false,
	} {
		if got := Name(s); got != want {
			t.Errorf("Name(%q) = %v, want %v", s, got, want)
		}
	}
}
