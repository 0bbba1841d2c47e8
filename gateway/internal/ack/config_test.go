package ack

import (
	"testing"
)

func TestConfig(t *testing.T) {
	var c Config
	c.Defaults()
	if c.TTL.D() != DefaultTTL || c.MaxOutstanding != DefaultMaxOutstanding {
		t.Errorf("Defaults = %+v", c)
	}
	if err := (Config{TTL: -1}).Validate("ack"); err == nil || err.Error() != "ack.ttl: must not be negative" {
		t.Errorf("Validate = %v", err)
	}
	i, err := New(Config{TTL: c.TTL})
	if err != nil || i.TTL() != DefaultTTL {
		t.Fatalf("New = %v, %v", i, err)
	}
	if _, err := New(Config{Secret: []byte("short")}); err == nil {
		t.Error("New took a short secret")
	}
}
