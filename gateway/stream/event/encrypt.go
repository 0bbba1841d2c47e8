package event

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Alg is the only text_enc algorithm of xunjian.event/v1.
const Alg = "AES-256-GCM"

// NonceSize is the length of a text_enc nonce in bytes.
const NonceSize = 12

// ErrDecrypt is returned (wrapped) when a text_enc does not open: wrong
// key, tampered nonce, ciphertext or additional data. It says nothing of
// which, so it leaks nothing.
var ErrDecrypt = errors.New("event: text_enc does not decrypt")

// TextEnc is a message's raw text sealed for auditors. Nonce and Ciphertext
// (which ends with the 16-byte GCM tag) marshal as standard base64.
type TextEnc struct {
	Alg        string `json:"alg"`
	KeyID      string `json:"key_id"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// Encryptor seals raw text with AES-256-GCM under one key. It is immutable
// and safe for concurrent use. Its key never appears in errors or output.
type Encryptor struct {
	aead  cipher.AEAD
	keyID string
}

// NewEncryptor builds an Encryptor from a standard-base64 32-byte key (as
// read from the environment) and the id auditors use to find that key.
func NewEncryptor(keyB64, keyID string) (*Encryptor, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keyB64))
	if err != nil {
		return nil, errors.New("event: encryption key: not standard base64")
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("event: encryption key: %d bytes, want 32 (AES-256)", len(key))
	}
	if keyID == "" {
		return nil, errors.New("event: encryption key: empty key id")
	}
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("event: encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("event: encryption key: %w", err)
	}
	return &Encryptor{aead: aead, keyID: keyID}, nil
}

// KeyID returns the id of the Encryptor's key.
func (e *Encryptor) KeyID() string { return e.keyID }

// Encrypt seals plaintext with a fresh random 12-byte nonce, binding
// additionalData (the event_id, so a text_enc cannot be moved to another
// event).
func (e *Encryptor) Encrypt(plaintext, additionalData []byte) (TextEnc, error) {
	// One allocation holds the nonce and the ciphertext.
	buf := make([]byte, NonceSize, NonceSize+len(plaintext)+e.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return TextEnc{}, fmt.Errorf("event: nonce: %w", err)
	}
	ct := e.aead.Seal(buf[NonceSize:], buf, plaintext, additionalData)
	return TextEnc{Alg: Alg, KeyID: e.keyID, Nonce: buf[:NonceSize:NonceSize], Ciphertext: ct}, nil
}

// Decrypt opens t, sealed with this Encryptor's key and additionalData. A
// text of another algorithm or key id fails with a plain error; one that
// does not authenticate fails with ErrDecrypt.
func (e *Encryptor) Decrypt(t TextEnc, additionalData []byte) ([]byte, error) {
	if t.Alg != Alg {
		return nil, fmt.Errorf("event: text_enc alg %q: want %s", t.Alg, Alg)
	}
	if t.KeyID != e.keyID {
		return nil, fmt.Errorf("event: text_enc key id %q: this key is %q", t.KeyID, e.keyID)
	}
	if len(t.Nonce) != NonceSize {
		return nil, fmt.Errorf("%w: nonce of %d bytes, want %d", ErrDecrypt, len(t.Nonce), NonceSize)
	}
	pt, err := e.aead.Open(nil, t.Nonce, t.Ciphertext, additionalData)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
