// Package ack issues and redeems confirm tokens.
//
// When the policy says `confirm`, the gateway holds the draft and returns an
// ack token; the agent's client re-sends the same draft with the token to
// release it. A token is good once, until it expires, and only for the text,
// tenant and conversation it was issued for.
//
// A token is self-contained and stateless to issue:
//
//	version(1) | expiry(8, Unix ms, big endian) | nonce(16) | binding(16) | mac(16)
//
// base64url without padding (76 characters). binding is an HMAC (under a key
// derived from the secret) of tenant, conversation and SHA-256(text), so the
// token reveals nothing of them, yet Redeem can tell a token for another
// draft (ErrAckMismatch) from a forged one (ErrAckInvalid). mac is an HMAC
// (under another derived key) of everything before it. Both are HMAC-SHA256
// truncated to 128 bits (RFC 2104 §5).
//
// Redemption is the only state: redeemed nonces are remembered until their
// token expires, in a structure bounded by maxOutstanding.
package ack

import (
	"container/heap"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

// Sentinel errors of Redeem, for errors.Is. None of them carries the token,
// the text or any key material.
var (
	// ErrAckInvalid: the token is malformed, of an unknown version, or was
	// not issued with this secret (forged or tampered with).
	ErrAckInvalid = errors.New("ack token invalid")
	// ErrAckExpired: the token was valid but its time limit has passed.
	ErrAckExpired = errors.New("ack token expired")
	// ErrAckUsed: the token was already redeemed.
	ErrAckUsed = errors.New("ack token already used")
	// ErrAckMismatch: the token is genuine but was issued for another text,
	// tenant or conversation. A mismatch does not use the token up.
	ErrAckMismatch = errors.New("ack token does not match the message")
)

// Defaults for zero arguments of NewIssuer and zero Config fields.
const (
	DefaultTTL            = 5 * time.Minute
	DefaultMaxOutstanding = 100_000
	// MinSecretLen is the shortest secret NewIssuer accepts.
	MinSecretLen = 32
)

const (
	version    = 1
	nonceLen   = 16
	tagLen     = 16 // truncated HMAC-SHA256
	rawLen     = 1 + 8 + nonceLen + tagLen + tagLen
	offExpiry  = 1
	offNonce   = offExpiry + 8
	offBinding = offNonce + nonceLen
	offMAC     = offBinding + tagLen
)

// tokenLen is the length of an encoded token: base64 without padding.
const tokenLen = (rawLen*8 + 5) / 6

// enc is the token encoding. Strict refuses non-canonical encodings, so
// each token has exactly one spelling. It is never modified.
var enc = base64.RawURLEncoding.Strict()

// Issuer issues and redeems ack tokens with one secret.
//
// An Issuer is safe for concurrent use. Issue keeps no state; Redeem takes a
// mutex only to record the nonce of a token that passed every other check.
// Tokens survive a process restart only if the secret does; the record of
// redeemed tokens does not, so with a persistent secret a token redeemed
// just before a restart could be redeemed once more after it.
type Issuer struct {
	ttl     time.Duration
	states  sync.Pool // *state
	mu      sync.Mutex
	used    usedSet // guarded by mu
	maxUsed int
}

// Config configures an Issuer; its SecretEnv and TTL are the `ack`
// section of the gateway's configuration file.
type Config struct {
	// SecretEnv names the environment variable holding the token key (at
	// least MinSecretLen bytes); the gateway reads it at start into Secret.
	// Empty means a random key per process, so tokens do not survive a
	// restart or work across gateways.
	SecretEnv string `yaml:"secret_env"`
	// Secret is the token key; nil means a random one for this process
	// (see NewIssuer). Never in the file.
	Secret []byte `yaml:"-"`
	// TTL is how long a token stays valid; zero means DefaultTTL (5m).
	TTL duration.Duration `yaml:"ttl"`
	// MaxOutstanding bounds how many redeemed tokens are remembered; zero
	// means DefaultMaxOutstanding (see NewIssuer). Not settable from the
	// configuration file.
	MaxOutstanding int `yaml:"-"`
}

// Defaults fills the zero fields of c that have a default: TTL and
// MaxOutstanding.
func (c *Config) Defaults() {
	if c.TTL == 0 {
		c.TTL = duration.Duration(DefaultTTL)
	}
	if c.MaxOutstanding == 0 {
		c.MaxOutstanding = DefaultMaxOutstanding
	}
}

// Validate checks c as a configuration file gives it, naming the fault by
// its YAML path under path (e.g. "ack.ttl: must not be negative").
func (c Config) Validate(path string) error {
	if c.TTL < 0 {
		return fmt.Errorf("%s.ttl: must not be negative", path)
	}
	return nil
}

// New returns the Issuer cfg describes: NewIssuer(cfg.Secret, cfg.TTL,
// cfg.MaxOutstanding).
func New(cfg Config) (*Issuer, error) {
	return NewIssuer(cfg.Secret, cfg.TTL.D(), cfg.MaxOutstanding)
}

// NewIssuer returns an Issuer. secret must be at least MinSecretLen bytes;
// nil means a random secret for this process only (tokens then do not
// survive a restart, nor work across gateways). ttl is how long a token is
// good; zero means DefaultTTL (5 min). maxOutstanding bounds how many
// redeemed tokens are remembered; zero means DefaultMaxOutstanding. When
// more unexpired tokens than that have been redeemed, the one closest to
// expiry is forgotten and could be redeemed a second time: a replay of the
// same confirmed text in the same conversation, which needs the token,
// rather than refusing every ack in every tenant while the store is full.
func NewIssuer(secret []byte, ttl time.Duration, maxOutstanding int) (*Issuer, error) {
	switch {
	case secret != nil && len(secret) < MinSecretLen:
		return nil, fmt.Errorf("ack: secret is %d bytes, need at least %d", len(secret), MinSecretLen)
	case ttl < 0:
		return nil, fmt.Errorf("ack: ttl %s is negative", ttl)
	case maxOutstanding < 0:
		return nil, fmt.Errorf("ack: max outstanding %d is negative", maxOutstanding)
	}
	if secret == nil {
		secret = make([]byte, MinSecretLen)
		rand.Read(secret) // never fails (crypto/rand, Go 1.24+)
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if maxOutstanding == 0 {
		maxOutstanding = DefaultMaxOutstanding
	}
	macKey := derive(secret, "xunjian ack mac v1")
	bindKey := derive(secret, "xunjian ack binding v1")
	i := &Issuer{ttl: ttl, maxUsed: maxOutstanding, used: usedSet{idx: make(map[[nonceLen]byte]int)}}
	i.states.New = func() any {
		return &state{mac: hmac.New(sha256.New, macKey), bind: hmac.New(sha256.New, bindKey), text: sha256.New()}
	}
	return i, nil
}

// derive derives a purpose-specific key from the secret, so the two HMACs
// never share a key.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// TTL returns how long a token is good after it is issued.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Issue returns a token for text in (tenant, conversation), good until
// now + TTL.
func (i *Issuer) Issue(tenant, conversation, text string, now time.Time) string {
	var raw [rawLen]byte
	raw[0] = version
	binary.BigEndian.PutUint64(raw[offExpiry:], uint64(now.Add(i.ttl).UnixMilli()))
	rand.Read(raw[offNonce:offBinding])
	st := i.states.Get().(*state)
	st.binding(raw[offBinding:offMAC], raw[:offBinding], tenant, conversation, text)
	st.macOf(raw[offMAC:], raw[:offMAC])
	i.states.Put(st)
	var out [tokenLen]byte
	enc.Encode(out[:], raw[:])
	return string(out[:])
}

// Redeem checks that token was issued by this Issuer (or another with the
// same secret) for text in (tenant, conversation), has not expired at now
// and was not redeemed before, and marks it used. Checks run in this order:
// MAC (ErrAckInvalid), expiry (ErrAckExpired), binding (ErrAckMismatch),
// single use (ErrAckUsed); the error is that sentinel. Only a successful
// Redeem uses the token up. It is Verify, then Use.
func (i *Issuer) Redeem(token, tenant, conversation, text string, now time.Time) error {
	t, err := i.Verify(token, tenant, conversation, text, now)
	if err != nil {
		return err
	}
	return i.Use(t, now)
}

// Ticket is a token that passed every check of Verify but single use: what
// a store of used tokens needs to use it up, in this Issuer (Use) or in a
// store several gateways share.
type Ticket struct {
	// Nonce is the token's random nonce: what a store of used tokens keys
	// it by.
	Nonce [nonceLen]byte
	// Expiry is when the token expires: how long a store must remember it.
	Expiry time.Time
}

// Verify checks token as Redeem does (MAC, expiry, binding; the error is
// ErrAckInvalid, ErrAckExpired or ErrAckMismatch) but does not use it up:
// it returns the Ticket to use up, here (Use) or in a store shared by
// several gateways.
func (i *Issuer) Verify(token, tenant, conversation, text string, now time.Time) (Ticket, error) {
	if len(token) != tokenLen {
		return Ticket{}, ErrAckInvalid
	}
	var in [tokenLen]byte
	copy(in[:], token)
	var raw [rawLen]byte
	if n, err := enc.Decode(raw[:], in[:]); err != nil || n != rawLen {
		return Ticket{}, ErrAckInvalid
	}
	if raw[0] != version {
		return Ticket{}, ErrAckInvalid
	}
	st := i.states.Get().(*state)
	defer i.states.Put(st)
	var want [tagLen]byte
	st.macOf(want[:], raw[:offMAC])
	if subtle.ConstantTimeCompare(want[:], raw[offMAC:]) != 1 {
		return Ticket{}, ErrAckInvalid
	}
	expiry := int64(binary.BigEndian.Uint64(raw[offExpiry:]))
	if now.UnixMilli() >= expiry {
		return Ticket{}, ErrAckExpired
	}
	st.binding(want[:], raw[:offBinding], tenant, conversation, text)
	if subtle.ConstantTimeCompare(want[:], raw[offBinding:offMAC]) != 1 {
		return Ticket{}, ErrAckMismatch
	}
	t := Ticket{Expiry: time.UnixMilli(expiry)}
	copy(t.Nonce[:], raw[offNonce:offBinding])
	return t, nil
}

// Use uses up the token of t, which Verify returned, in this Issuer's own
// record of redeemed tokens: ErrAckUsed if it was used before, nil the
// first time. A gateway that shares its state with others uses tokens up
// in the shared store instead, and here only while that store is away.
func (i *Issuer) Use(t Ticket, now time.Time) error {
	expiry, nowMS := t.Expiry.UnixMilli(), now.UnixMilli()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.used.expire(nowMS)
	if i.used.has(t.Nonce) {
		return ErrAckUsed
	}
	for i.used.Len() >= i.maxUsed {
		heap.Pop(&i.used) // forget the one closest to expiry
	}
	heap.Push(&i.used, usedNonce{nonce: t.Nonce, expiry: expiry})
	return nil
}

// state is the per-goroutine hashing state, recycled through a pool: keyed
// HMACs are costly to set up, and strings are copied into buf to be hashed
// without allocating.
type state struct {
	mac, bind hash.Hash // HMAC-SHA256 under the MAC and binding keys
	text      hash.Hash // SHA-256
	buf       []byte
	head      [offMAC]byte
	out       [sha256.Size]byte
}

// maxKeptBuf is the largest scratch buffer a pooled state keeps.
const maxKeptBuf = 64 << 10

// binding writes into dst the truncated HMAC of header (version, expiry,
// nonce), tenant, conversation and SHA-256(text), length-prefixed so that
// no two (tenant, conversation) pairs encode alike.
func (st *state) binding(dst, header []byte, tenant, conversation, text string) {
	st.text.Reset()
	st.buf = append(st.buf[:0], text...)
	st.text.Write(st.buf)
	clear(st.buf) // the draft text
	b := append(st.buf[:0], header...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(tenant)))
	b = append(b, tenant...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(conversation)))
	b = append(b, conversation...)
	b = st.text.Sum(b)
	st.sum(dst, st.bind, b)
	if cap(b) > maxKeptBuf {
		b = nil
	}
	st.buf = b[:0]
}

// macOf writes into dst the truncated MAC of a token's first offMAC bytes.
func (st *state) macOf(dst, msg []byte) {
	// Copied so that the caller's array need not escape through the
	// hash.Hash interface.
	n := copy(st.head[:], msg)
	st.sum(dst, st.mac, st.head[:n])
}

// sum writes into dst the truncated HMAC m of msg.
func (st *state) sum(dst []byte, m hash.Hash, msg []byte) {
	m.Reset()
	m.Write(msg)
	copy(dst, m.Sum(st.out[:0]))
}

// usedNonce is a redeemed token's nonce, remembered until its expiry.
type usedNonce struct {
	nonce  [nonceLen]byte
	expiry int64 // Unix ms
}

// usedSet is a min-heap of redeemed nonces by expiry with an index, so the
// expired ones (and, when full, the one closest to expiry) leave first.
type usedSet struct {
	items []usedNonce
	idx   map[[nonceLen]byte]int // nonce → position in items
}

func (u *usedSet) Len() int           { return len(u.items) }
func (u *usedSet) Less(a, b int) bool { return u.items[a].expiry < u.items[b].expiry }
func (u *usedSet) Swap(a, b int) {
	u.items[a], u.items[b] = u.items[b], u.items[a]
	u.idx[u.items[a].nonce] = a
	u.idx[u.items[b].nonce] = b
}

func (u *usedSet) Push(x any) {
	n := x.(usedNonce)
	u.idx[n.nonce] = len(u.items)
	u.items = append(u.items, n)
}

func (u *usedSet) Pop() any {
	last := u.items[len(u.items)-1]
	u.items = u.items[:len(u.items)-1]
	delete(u.idx, last.nonce)
	return last
}

func (u *usedSet) has(n [nonceLen]byte) bool {
	_, ok := u.idx[n]
	return ok
}

// expire forgets the nonces whose tokens have expired at nowMS: Redeem
// refuses those tokens as expired anyway.
func (u *usedSet) expire(nowMS int64) {
	for len(u.items) > 0 && u.items[0].expiry <= nowMS {
		heap.Pop(u)
	}
}
