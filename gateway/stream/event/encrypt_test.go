package event

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func mustEncryptor(t testing.TB, b byte, id string) *Encryptor {
	t.Helper()
	e, err := NewEncryptor(testKey(b), id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestNewEncryptorRejects(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	for _, tc := range []struct{ name, key, id string }{
		{"not base64", "%%%not-base64%%%", "k1"},
		{"16 bytes", secret, "k1"},
		{"empty", "", "k1"},
		{"no key id", testKey(1), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEncryptor(tc.key, tc.id)
			if err == nil {
				t.Fatal("want an error")
			}
			if tc.key != "" && strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q holds the key", err)
			}
		})
	}
}

func TestEncryptRoundTrip(t *testing.T) {
	enc := mustEncryptor(t, 7, "k1")
	ad := []byte("0190b5a4-0000-7000-8000-000000000000")
	for _, pt := range []string{"", "你好，我的手机号是13812345678", strings.Repeat("x", 5000)} {
		te, err := enc.Encrypt([]byte(pt), ad)
		if err != nil {
			t.Fatal(err)
		}
		if te.Alg != Alg || te.KeyID != "k1" || len(te.Nonce) != NonceSize || len(te.Ciphertext) != len(pt)+16 {
			t.Fatalf("text_enc %+v", te)
		}
		if pt != "" && bytes.Contains(te.Ciphertext, []byte(pt)) {
			t.Fatal("ciphertext holds the plaintext")
		}
		got, err := enc.Decrypt(te, ad)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != pt {
			t.Fatalf("round trip: got %q", got)
		}
	}
	// Fresh nonces: two seals of the same text differ.
	a, _ := enc.Encrypt([]byte("same"), ad)
	b, _ := enc.Encrypt([]byte("same"), ad)
	if bytes.Equal(a.Nonce, b.Nonce) || bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Fatal("nonce reused")
	}
}

func TestDecryptFails(t *testing.T) {
	enc := mustEncryptor(t, 7, "k1")
	ad := []byte("event-id")
	good, err := enc.Encrypt([]byte("secret 13812345678"), ad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	cases := []struct {
		name    string
		dec     *Encryptor
		te      TextEnc
		ad      []byte
		decrypt bool // fails with ErrDecrypt
	}{
		{"ciphertext first byte", enc, TextEnc{Alg, "k1", good.Nonce, flip(good.Ciphertext, 0)}, ad, true},
		{"tag last byte", enc, TextEnc{Alg, "k1", good.Nonce, flip(good.Ciphertext, len(good.Ciphertext)-1)}, ad, true},
		{"truncated", enc, TextEnc{Alg, "k1", good.Nonce, good.Ciphertext[:10]}, ad, true},
		{"nonce", enc, TextEnc{Alg, "k1", flip(good.Nonce, 3), good.Ciphertext}, ad, true},
		{"short nonce", enc, TextEnc{Alg, "k1", good.Nonce[:8], good.Ciphertext}, ad, true},
		{"additional data", enc, good, []byte("other-id"), true},
		{"no additional data", enc, good, nil, true},
		{"wrong key same id", mustEncryptor(t, 8, "k1"), good, ad, true},
		{"wrong key id", mustEncryptor(t, 7, "k2"), good, ad, false},
		{"wrong alg", enc, TextEnc{"AES-128-GCM", "k1", good.Nonce, good.Ciphertext}, ad, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.dec.Decrypt(tc.te, tc.ad)
			if err == nil {
				t.Fatalf("decrypted %q", pt)
			}
			if got := errors.Is(err, ErrDecrypt); got != tc.decrypt {
				t.Errorf("errors.Is(%v, ErrDecrypt) = %v", err, got)
			}
			if strings.Contains(err.Error(), "13812345678") {
				t.Error("error holds the plaintext")
			}
		})
	}
}
