package inspect

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/complaint"
	"github.com/xunjian/xunjian/rules"
)

// convEncoding is the version byte of the binary form of a Conversation.
const convEncoding = 1

// Bounds Conversation.UnmarshalBinary holds the encoded lengths to, so a
// damaged or hostile record cannot make it allocate without bound.
const (
	maxDecodedSignals = 4 * maxSignals
	maxDecodedRecent  = 4 * MaxRecent
)

// ErrBadEncoding reports bytes that are not a Conversation's binary form.
var ErrBadEncoding = errors.New("inspect: not an encoded conversation")

// AppendBinary appends the binary form of c to b: what a store shared by
// several gateways keeps between messages (the recent turns' decision ids
// included, so that SetDelivered still finds them on another gateway). The
// form is compact and versioned; UnmarshalBinary reads it back.
func (c *Conversation) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, convEncoding)
	b = appendString(b, c.ID)
	b = binary.AppendVarint(b, int64(c.Turns))
	b = binary.AppendVarint(b, int64(c.CustomerEscalations))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(c.Risk))
	b = appendTime(b, c.LastCustomer)
	b = appendTime(b, c.LastAgent)
	b = binary.AppendUvarint(b, uint64(len(c.Signals)))
	for _, s := range c.Signals {
		b = binary.AppendVarint(b, int64(s.Escalations))
		b = binary.AppendVarint(b, int64(s.Negative))
		b = append(b, byte(s.MaxSeverity))
	}
	b = binary.AppendUvarint(b, uint64(len(c.Recent)))
	for i := range c.Recent {
		t := &c.Recent[i]
		b = appendString(b, t.Role)
		b = appendString(b, t.Text)
		b = appendTime(b, t.TS)
		b = appendString(b, t.Action)
		if t.Delivered {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendUUID(b, t.decision)
	}
	return b, nil
}

// MarshalBinary implements encoding.BinaryMarshaler with AppendBinary.
func (c *Conversation) MarshalBinary() ([]byte, error) { return c.AppendBinary(nil) }

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it sets *c to
// the conversation AppendBinary encoded in data, sharing no memory with
// data. Bytes that are not one (another version, truncated, trailing
// data, lengths out of bounds) give an error wrapping ErrBadEncoding and
// leave *c unchanged.
func (c *Conversation) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	if v := d.byte(); v != convEncoding {
		return fmt.Errorf("%w: version %d", ErrBadEncoding, v)
	}
	var out Conversation
	out.ID = d.string()
	out.Turns = int(d.varint())
	out.CustomerEscalations = int(d.varint())
	out.Risk = math.Float64frombits(d.uint64())
	out.LastCustomer = d.time()
	out.LastAgent = d.time()
	if n := d.count(maxDecodedSignals); n > 0 {
		out.Signals = make([]complaint.Signals, n)
		for i := range out.Signals {
			s := &out.Signals[i]
			s.Escalations = int(d.varint())
			s.Negative = int(d.varint())
			s.MaxSeverity = detectors.Severity(d.byte())
		}
	}
	if n := d.count(maxDecodedRecent); n > 0 {
		out.Recent = make([]Turn, n)
		for i := range out.Recent {
			t := &out.Recent[i]
			t.Role = d.name()
			t.Text = d.string()
			t.TS = d.time()
			t.Action = d.name()
			t.Delivered = d.byte() == 1
			t.decision = d.uuid()
		}
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) > 0 {
		return fmt.Errorf("%w: %d bytes past its end", ErrBadEncoding, len(d.b))
	}
	*c = out
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendUUID writes u as appendString writes its canonical text (36
// characters; "" for the nil UUID), without making the string.
func appendUUID(b []byte, u uuid.UUID) []byte {
	if u == uuid.Nil {
		return appendString(b, "")
	}
	b = binary.AppendUvarint(b, 36)
	b = hex.AppendEncode(b, u[0:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, u[8:10])
	b = append(b, '-')
	return hex.AppendEncode(b, u[10:16])
}

// appendTime writes t as a presence byte and, when t is not zero, its
// Unix nanoseconds (the years 1678 to 2262 hold every message time).
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	return binary.AppendVarint(b, t.UnixNano())
}

// decoder reads what the append functions wrote; its first fault sticks
// in err and makes every later read return zero.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrBadEncoding, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a slice length, at most limit.
func (d *decoder) count(limit int) int {
	n := d.uvarint()
	if n > uint64(limit) {
		d.fail(fmt.Sprintf("%d elements, over %d", n, limit))
		return 0
	}
	return int(n)
}

// bytes reads what appendString wrote, as a view of the input.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string past the end")
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) string() string { return string(d.bytes()) }

// name is string for a turn's role or action: a role or an action's name
// comes back as the constant, without a string of its own (the shared
// store decodes every turn of a conversation for each message); anything
// else is a new string.
func (d *decoder) name() string {
	text := d.bytes()
	switch string(text) {
	case RoleAgent:
		return RoleAgent
	case RoleCustomer:
		return RoleCustomer
	}
	for a := rules.Allow; a <= rules.Block; a++ {
		if s := a.String(); s == string(text) {
			return s
		}
	}
	return string(text)
}

// uuid reads what appendUUID wrote: "" is the nil UUID, anything else
// must be a UUID's canonical text.
func (d *decoder) uuid() uuid.UUID {
	text := d.bytes()
	if len(text) == 0 {
		return uuid.Nil
	}
	u, err := uuid.ParseBytes(text)
	if err != nil || len(text) != 36 {
		d.fail("decision id not a UUID")
		return uuid.Nil
	}
	return u
}

func (d *decoder) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(0, d.varint())
	}
	d.fail("bad time")
	return time.Time{}
}
