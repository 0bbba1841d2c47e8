package convstore

import (
	"strings"
	"testing"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	var c Config
	c.Defaults()
	if c.MaxConversations != DefaultMaxConversations || c.TTL.D() != DefaultTTL {
		t.Errorf("Defaults = %+v", c)
	}
	err := Config{MaxConversations: -1, TTL: -1}.Validate("conversations")
	if err == nil || !strings.Contains(err.Error(), "conversations.max: must not be negative") || !strings.Contains(err.Error(), "conversations.ttl: must not be negative") {
		t.Errorf("Validate = %v", err)
	}
}
