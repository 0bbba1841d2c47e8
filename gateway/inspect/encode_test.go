package inspect

import (
	"context"
	"errors"
	"reflect"
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
