package duration

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestUnmarshalYAML(t *testing.T) {
	var v struct {
		D Duration `yaml:"d"`
	}
	if err := yaml.Unmarshal([]byte("d: 150ms\n"), &v); err != nil || v.D.D() != 150*time.Millisecond {
		t.Errorf("150ms = %v, %v", v.D.D(), err)
	}
	for _, bad := range []string{"d: soon\n", "d: 5\n"} {
		if err := yaml.Unmarshal([]byte(bad), &v); err == nil || !strings.Contains(err.Error(), "is not a duration like 50ms or 5s") {
			t.Errorf("%q: err = %v, want it to say it is not a duration", bad, err)
		}
	}
}
