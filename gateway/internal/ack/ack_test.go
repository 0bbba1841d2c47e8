package ack

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	testSecret = bytes.Repeat([]byte{0x42}, 32)
	t0         = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
)

func newIssuer(t testing.TB, ttl time.Duration, max int) *Issuer {
	t.Helper()
	i, err := NewIssuer(testSecret, ttl, max)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return i
}

func TestNewIssuer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secret  []byte
		ttl     time.Duration
		max     int
		wantErr bool
		wantTTL time.Duration
	}{
		{"nil secret, defaults", nil, 0, 0, false, DefaultTTL},
		{"explicit", testSecret, time.Minute, 10, false, time.Minute},
		{"short secret", make([]byte, 31), 0, 0, true, 0},
		{"empty secret", []byte{}, 0, 0, true, 0},
		{"negative ttl", testSecret, -time.Second, 0, true, 0},
		{"negative max", testSecret, 0, -1, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, err := NewIssuer(tc.secret, tc.ttl, tc.max)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), string(testSecret)) {
					t.Errorf("error reveals the secret: %v", err)
				}
				return
			}
			if i.TTL() != tc.wantTTL {
				t.Errorf("TTL() = %s, want %s", i.TTL(), tc.wantTTL)
			}
			tok := i.Issue("t", "c", "hello", t0)
			if err := i.Redeem(tok, "t", "c", "hello", t0); err != nil {
				t.Errorf("round trip: %v", err)
			}
		})
	}
}

func TestRedeem(t *testing.T) {
	const text = "您的订单将在明天送达，请确认。"
	i := newIssuer(t, time.Minute, 0)
	other := newIssuer(t, time.Minute, 0)
	otherSecret, err := NewIssuer(bytes.Repeat([]byte{0x43}, 32), time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	tok := func() string { return i.Issue("tenant", "conv", text, t0) }
	for _, tc := range []struct {
		name               string
		issuer             *Issuer
		token              string
		tenant, conv, text string
		now                time.Time
		want               error
	}{
		{"ok", i, tok(), "tenant", "conv", text, t0, nil},
		{"ok just before expiry", i, tok(), "tenant", "conv", text, t0.Add(time.Minute - time.Millisecond), nil},
		{"same secret, other issuer", other, tok(), "tenant", "conv", text, t0, nil},
		{"other secret", otherSecret, tok(), "tenant", "conv", text, t0, ErrAckInvalid},
		{"expired", i, tok(), "tenant", "conv", text, t0.Add(time.Minute), ErrAckExpired},
		{"other text", i, tok(), "tenant", "conv", text + " ", t0, ErrAckMismatch},
		{"other tenant", i, tok(), "tenant2", "conv", text, t0, ErrAckMismatch},
		{"other conversation", i, tok(), "tenant", "conv2", text, t0, ErrAckMismatch},
		{"shifted fields", i, i.Issue("ab", "c", text, t0), "a", "bc", text, t0, ErrAckMismatch},
		{"empty", i, "", "tenant", "conv", text, t0, ErrAckInvalid},
		{"garbage", i, strings.Repeat("!", tokenLen), "tenant", "conv", text, t0, ErrAckInvalid},
		{"too long", i, tok() + "A", "tenant", "conv", text, t0, ErrAckInvalid},
		{"truncated", i, tok()[:tokenLen-1], "tenant", "conv", text, t0, ErrAckInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.issuer.Redeem(tc.token, tc.tenant, tc.conv, tc.text, tc.now)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Redeem = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSingleUse(t *testing.T) {
	i := newIssuer(t, 0, 0)
	tok := i.Issue("t", "c", "text", t0)
	// A mismatch does not use the token up.
	if err := i.Redeem(tok, "t", "c", "edited", t0); !errors.Is(err, ErrAckMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	if err := i.Redeem(tok, "t", "c", "text", t0); err != nil {
		t.Fatalf("first redeem: %v", err)
	}
	if err := i.Redeem(tok, "t", "c", "text", t0.Add(time.Second)); !errors.Is(err, ErrAckUsed) {
		t.Fatalf("second redeem = %v, want ErrAckUsed", err)
	}
	// Two tokens for the same draft are independent.
	a, b := i.Issue("t", "c", "text", t0), i.Issue("t", "c", "text", t0)
	if a == b {
		t.Fatal("two tokens are equal")
	}
	if err := i.Redeem(a, "t", "c", "text", t0); err != nil {
		t.Fatal(err)
	}
	if err := i.Redeem(b, "t", "c", "text", t0); err != nil {
		t.Fatal(err)
	}
}

func TestSingleUseConcurrent(t *testing.T) {
	i := newIssuer(t, 0, 0)
	for range 5 {
		tok := i.Issue("t", "c", "text", t0)
		var ok, used atomic.Int32
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				switch err := i.Redeem(tok, "t", "c", "text", t0); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrAckUsed):
					used.Add(1)
				default:
					t.Errorf("Redeem: %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || used.Load() != 99 {
			t.Fatalf("%d succeeded, %d used; want 1 and 99", ok.Load(), used.Load())
		}
	}
}

func TestTampered(t *testing.T) {
	i := newIssuer(t, 0, 0)
	tok := i.Issue("t", "c", "text", t0)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	// Flipping any bit of any byte (version, expiry, nonce, binding, MAC)
	// makes the token invalid: none of them can be changed without the MAC
	// key, so a client cannot extend the expiry either.
	for pos := range raw {
		for bit := range 8 {
			m := bytes.Clone(raw)
			m[pos] ^= 1 << bit
			err := i.Redeem(base64.RawURLEncoding.EncodeToString(m), "t", "c", "text", t0)
			if !errors.Is(err, ErrAckInvalid) {
				t.Fatalf("byte %d bit %d flipped: Redeem = %v, want ErrAckInvalid", pos, bit, err)
			}
		}
	}
	// Non-canonical base64 (trailing bits set) is refused too.
	last := strings.IndexByte(base64URLAlphabet, tok[len(tok)-1])
	for d := 1; d < 4; d++ {
		alt := tok[:len(tok)-1] + string(base64URLAlphabet[last^d])
		if err := i.Redeem(alt, "t", "c", "text", t0); !errors.Is(err, ErrAckInvalid) {
			t.Errorf("non-canonical encoding: Redeem = %v, want ErrAckInvalid", err)
		}
	}
	if err := i.Redeem(tok, "t", "c", "text", t0); err != nil {
		t.Fatalf("original token after tampering attempts: %v", err)
	}
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestTokenRevealsNothing(t *testing.T) {
	i := newIssuer(t, 0, 0)
	text := "secret text 13800138000"
	tok := i.Issue("tenant-x", "conv-y", text, t0)
	if len(tok) != tokenLen || strings.ContainsAny(tok, "+/=") {
		t.Fatalf("token %q: want %d base64url characters", tok, tokenLen)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for _, s := range []string{text, "tenant-x", "conv-y", "13800138000"} {
		if bytes.Contains(raw, []byte(s)) || strings.Contains(tok, s) {
			t.Errorf("token contains %q", s)
		}
	}
}

func TestExpiredNoncesForgotten(t *testing.T) {
	i := newIssuer(t, time.Minute, 0)
	for k := range 100 {
		at := t0.Add(time.Duration(k) * time.Millisecond)
		if err := i.Redeem(i.Issue("t", "c", "text", at), "t", "c", "text", at); err != nil {
			t.Fatal(err)
		}
	}
	if n := i.used.Len(); n != 100 {
		t.Fatalf("remembered %d nonces, want 100", n)
	}
	// At t0+60.05s the tokens issued up to t0+50ms have expired.
	at := t0.Add(time.Minute + 50*time.Millisecond)
	if err := i.Redeem(i.Issue("t", "c", "text", at), "t", "c", "text", at); err != nil {
		t.Fatal(err)
	}
	if n := i.used.Len(); n != 49+1 {
		t.Fatalf("remembered %d nonces, want 50", n)
	}
}

func TestBoundedUsed(t *testing.T) {
	const max = 10
	i := newIssuer(t, time.Minute, max)
	var toks []string
	for k := range 3 * max {
		now := t0.Add(time.Duration(k) * time.Millisecond)
		tok := i.Issue("t", "c", "text", now)
		toks = append(toks, tok)
		if err := i.Redeem(tok, "t", "c", "text", now); err != nil {
			t.Fatal(err)
		}
		if n := i.used.Len(); n > max {
			t.Fatalf("remembered %d nonces, bound %d", n, max)
		}
	}
	// The most recent max tokens stay single-use.
	for _, tok := range toks[len(toks)-max:] {
		if err := i.Redeem(tok, "t", "c", "text", t0.Add(time.Second)); !errors.Is(err, ErrAckUsed) {
			t.Errorf("recent token: Redeem = %v, want ErrAckUsed", err)
		}
	}
}

func FuzzRedeem(f *testing.F) {
	// A per-process secret: a token from another process (a fuzz worker, an
	// earlier run's cached corpus) is then a forgery, which must fail.
	i, err := NewIssuer(nil, time.Minute, 1000)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(i.Issue("t", "c", "text", t0), "t", "c", "text")
	f.Add("", "", "", "")
	f.Add(strings.Repeat("A", tokenLen), "t", "c", "text")
	f.Add(strings.Repeat("_", tokenLen+1), "t", "c", "\xff\xfe")
	f.Add("AQ", "t", "c", "text")
	var successes atomic.Int32
	f.Fuzz(func(t *testing.T, token, tenant, conv, text string) {
		err := i.Redeem(token, tenant, conv, text, t0)
		if err == nil {
			// Only the genuine seed token may pass, and only once.
			if successes.Add(1) > 1 || tenant != "t" || conv != "c" || text != "text" {
				t.Fatalf("forged or reused token accepted")
			}
			return
		}
		for _, s := range []error{ErrAckInvalid, ErrAckExpired, ErrAckUsed, ErrAckMismatch} {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("Redeem error %v is not a sentinel", err)
	})
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	i := newIssuer(t, 0, 0)
	tok := i.Issue("t", "c", "text", t0)
	if n := testing.AllocsPerRun(100, func() { i.Issue("t", "c", "text", t0) }); n > 1 {
		t.Errorf("Issue allocates %.1f times, want 1 (the token)", n)
	}
	if n := testing.AllocsPerRun(100, func() { i.Redeem(tok, "t", "c", "other", t0) }); n > 0 {
		t.Errorf("refused Redeem allocates %.1f times", n)
	}
}

// TestVerifyThenUse: Verify checks a token without using it up, and names
// the nonce and expiry a shared store keys it by; Use uses it up once.
func TestVerifyThenUse(t *testing.T) {
	i := newIssuer(t, time.Minute, 0)
	tok := i.Issue("t1", "c1", "text", t0)
	for _, tc := range []struct {
		name       string
		tenant     string
		conv, text string
		at         time.Time
		want       error
	}{
		{"good", "t1", "c1", "text", t0, nil},
		{"good again: Verify uses nothing up", "t1", "c1", "text", t0.Add(time.Second), nil},
		{"other text", "t1", "c1", "other", t0, ErrAckMismatch},
		{"expired", "t1", "c1", "text", t0.Add(time.Minute), ErrAckExpired},
	} {
		tk, err := i.Verify(tok, tc.tenant, tc.conv, tc.text, tc.at)
		if !errors.Is(err, tc.want) || (err != nil) != (tc.want != nil) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
		if err == nil && !tk.Expiry.Equal(t0.Add(time.Minute)) {
			t.Errorf("%s: expiry %v, want %v", tc.name, tk.Expiry, t0.Add(time.Minute))
		}
	}
	tk, err := i.Verify(tok, "t1", "c1", "text", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := i.Use(tk, t0); err != nil {
		t.Fatalf("first Use: %v", err)
	}
	if err := i.Use(tk, t0); !errors.Is(err, ErrAckUsed) {
		t.Errorf("second Use: %v, want ErrAckUsed", err)
	}
	if err := i.Redeem(tok, "t1", "c1", "text", t0); !errors.Is(err, ErrAckUsed) {
		t.Errorf("Redeem after Use: %v, want ErrAckUsed", err)
	}
}
