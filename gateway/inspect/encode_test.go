package inspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestConversationBinary: a conversation the pipeline built survives its
// binary form whole (the turns' decision ids too, so SetDelivered works on
// the copy another gateway reads), and damaged bytes are refused.
func TestConversationBinary(t *testing.T) {
	in := defaultInspector(t)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var conv Conversation
	var last Verdict
	for i, m := range []Message{
		msg("我的快递一周了还没到", RoleCustomer, "c1"),
		msg("再不处理我就去12315投诉你们，还要找律师", RoleCustomer, "c1"),
		msg("非常抱歉，马上为您核实物流", RoleAgent, "c1"),
	} {
		v, err := inspectInto(in, context.Background(), m.Request, &conv, t0.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		last = v
	}
	cases := []struct {
		name string
		conv Conversation
	}{
		{"zero", Conversation{}},
		{"id only", Conversation{ID: "c9"}},
		{"built", conv},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.conv.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got Conversation
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normTimes(got), normTimes(c.conv)) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, c.conv)
			}
			for n := range b {
				if err := new(Conversation).UnmarshalBinary(b[:n]); !errors.Is(err, ErrBadEncoding) {
					t.Fatalf("%d of %d bytes: %v, want ErrBadEncoding", n, len(b), err)
				}
			}
			if err := new(Conversation).UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrBadEncoding) {
				t.Errorf("trailing byte: %v, want ErrBadEncoding", err)
			}
		})
	}
	b, _ := conv.MarshalBinary()
	var got Conversation
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !got.SetDelivered(last.DecisionID, false) || got.Recent[len(got.Recent)-1].Delivered {
		t.Error("SetDelivered does not find the decoded conversation's last turn")
	}
}

// TestConversationBinaryDecisionText: a turn's decision id is kept as 16
// bytes but written as its text, so the binary form is the one gateways
// sharing a store already read and write: bytes with the id's text (as a
// gateway of the version before wrote them) decode to a conversation whose
// turn SetDelivered finds and which encodes to the same bytes; an empty id
// is no id; an id that is not a UUID is refused.
func TestConversationBinaryDecisionText(t *testing.T) {
	const id = "019af0c2-7d4e-7a31-9c5b-2f8e6d4a1b3c"
	encoded := func(decision string) []byte {
		b := []byte{convEncoding}
		b = appendString(b, "c1")
		b = binary.AppendVarint(b, 2) // turns
		b = binary.AppendVarint(b, 0) // customer escalations
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(0.25))
		b = append(b, 0, 0)            // no last customer or agent time
		b = binary.AppendUvarint(b, 0) // no signals
		b = binary.AppendUvarint(b, 1) // one recent turn
		b = appendString(b, RoleAgent)
		b = appendString(b, "您好，已为您登记")
		b = append(b, 0) // no time
		b = appendString(b, "allow")
		b = append(b, 1) // delivered
		return appendString(b, decision)
	}
	old := encoded(id)
	var c Conversation
	if err := c.UnmarshalBinary(old); err != nil {
		t.Fatal(err)
	}
	if again, _ := c.MarshalBinary(); !bytes.Equal(again, old) {
		t.Errorf("re-encoded:\n %q\nwant\n %q", again, old)
	}
	if !c.SetDelivered(id, false) || c.Recent[0].Delivered {
		t.Error("SetDelivered does not find the turn by its id's text")
	}
	var none Conversation
	if err := none.UnmarshalBinary(encoded("")); err != nil {
		t.Fatal(err)
	}
	if none.SetDelivered("", false) || none.SetDelivered(id, false) {
		t.Error("a turn without an id matched one")
	}
	for _, bad := range []string{"not-a-uuid", id[:35], strings.ToUpper(id) + "0", "urn:uuid:" + id} {
		if err := new(Conversation).UnmarshalBinary(encoded(bad)); !errors.Is(err, ErrBadEncoding) {
			t.Errorf("decision %q: %v, want ErrBadEncoding", bad, err)
		}
	}
}

// normTimes returns c with its times in UTC and without monotonic
// readings, which the binary form does not keep.
func normTimes(c Conversation) Conversation {
	c = c.Clone()
	fix := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.UTC().Round(0)
	}
	c.LastCustomer, c.LastAgent = fix(c.LastCustomer), fix(c.LastAgent)
	for i := range c.Recent {
		c.Recent[i].TS = fix(c.Recent[i].TS)
	}
	return c
}

func BenchmarkConversationBinary(b *testing.B) {
	in := defaultInspector(b)
	var conv Conversation
	for i := range 8 {
		if _, err := inspectInto(in, context.Background(), Request{Text: "我的快递一周了还没到，再不处理我就投诉", Role: RoleCustomer, ConversationID: "c1"}, &conv, time.Unix(int64(i), 0)); err != nil {
			b.Fatal(err)
		}
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = conv.AppendBinary(buf[:0])
		var c Conversation
		if err := c.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConversationsHeld reports what the context of an open
// conversation of five turns (customer and agent alternating, each text
// new) keeps in the heap, bytes and objects, after a collection: a gateway
// holds one per open conversation, and every collection marks them all.
func BenchmarkConversationsHeld(b *testing.B) {
	in := defaultInspector(b)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	const n = 2000
	var bytesPer, objectsPer float64
	for b.Loop() {
		held := make([]Conversation, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range held {
			for turn := range 5 {
				role, text := RoleCustomer, fmt.Sprintf("订单%d还没发货，我等了%d天了", 880000+i, turn+2)
				if turn%2 == 1 {
					role, text = RoleAgent, fmt.Sprintf("亲，订单%d已经催促仓库，预计%d天内发出", 880000+i, turn+1)
				}
				if _, err := inspectInto(in, ctx, Request{Text: text, Role: role, ConversationID: fmt.Sprint("c", i)}, &held[i], now); err != nil {
					b.Fatal(err)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		bytesPer = float64(after.HeapAlloc-before.HeapAlloc) / n
		objectsPer = float64(after.HeapObjects-before.HeapObjects) / n
		runtime.KeepAlive(held)
	}
	b.ReportMetric(bytesPer, "heap-B/conversation")
	b.ReportMetric(objectsPer, "objects/conversation")
}
