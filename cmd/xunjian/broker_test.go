package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBrokerCommand(t *testing.T) {
	if _, _, err := runCLI(t, "", "broker", "--listen", "10.0.0.1:9092"); err == nil {
		t.Error("broker on a non-loopback address started")
	}
	if _, _, err := runCLI(t, "", "broker", "extra"); !errors.Is(err, errUsage) {
		t.Errorf("broker with an argument: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"broker", "--listen", "127.0.0.1:0"}, strings.NewReader(""), &out, &errOut)
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("broker: %v", err)
	}
	if !strings.Contains(errOut.String(), `"broker":"127.0.0.1:`) {
		t.Errorf("no start-up line with the address: %s", errOut.String())
	}
}
