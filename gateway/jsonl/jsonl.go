// Package jsonl is the batch format of `xunjian check --jsonl`: one JSON
// object per input line (id, text, role, conversation_id, agent_id, ts;
// the lines of one conversation in order), one object per output line:
// the /v1/check reply plus the line's id, or the id and an error. Replay
// reads the same input lines.
package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/xunjian/xunjian/gateway/api"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/jsonkeys"
)

// MaxLineBytes is the longest input line Run reads; a longer line
// gets an error object and the run goes on with the next line.
const MaxLineBytes = 1 << 20

// Line is one input line of `xunjian check --jsonl`. Lines of one
// conversation come in order.
type Line struct {
	ID             json.RawMessage `json:"id,omitempty"`
	Text           *string         `json:"text"`
	Role           string          `json:"role,omitempty"`
	ConversationID string          `json:"conversation_id,omitempty"`
	AgentID        string          `json:"agent_id,omitempty"`
	TS             time.Time       `json:"ts,omitzero"`
}

// LineResult is one output line: the /v1/check reply plus the input's id,
// or the id and an error.
type LineResult struct {
	ID json.RawMessage `json:"id,omitempty"`
	*api.Reply
	Error *LineError `json:"error,omitempty"`

	policyErr error // the policy failed: the run stops, nothing is written
}

// LineError says why a line was not inspected. Code is one of the error
// codes of package errcode (invalid_json, invalid_utf8, invalid_field,
// duplicate_key, body_too_large), as on the HTTP endpoints.
type LineError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Run reads one JSON object per line from r, inspects each through in,
// and writes one JSON object per line to w, keeping each conversation's
// context across its lines (a line refused leaves its conversation as it
// was). A bad line (invalid JSON or UTF-8, a missing, empty or huge text,
// an unknown role) gets an error object and the run goes on. It returns
// only read, write and policy errors. now supplies the time of lines
// without a ts.
func Run(ctx context.Context, in *inspect.Inspector, r io.Reader, w io.Writer, now func() time.Time) error {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	sess := &inspect.Session{Store: &inspect.MemStore{}, Now: now}
	for lineNo := 1; ; lineNo++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, tooLong, err := ReadLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read line %d: %w", lineNo, err)
		}
		if len(bytes.TrimSpace(line)) > 0 || tooLong {
			res := inspectLine(ctx, sess, in, line, tooLong)
			if res.policyErr != nil {
				return fmt.Errorf("line %d: %w", lineNo, res.policyErr)
			}
			if werr := enc.Encode(res); werr != nil {
				return fmt.Errorf("write line %d: %w", lineNo, werr)
			}
		}
		if errors.Is(err, io.EOF) {
			return bw.Flush()
		}
	}
}

func inspectLine(ctx context.Context, sess *inspect.Session, in *inspect.Inspector, line []byte, tooLong bool) LineResult {
	fail := func(id json.RawMessage, code errcode.Code, msg string) LineResult {
		return LineResult{ID: id, Error: &LineError{Code: code.String(), Message: msg}}
	}
	// Every error line carries the line's id when the line shows one, so
	// the caller can tell which input failed.
	if tooLong {
		return fail(LeadingID(line), errcode.BodyTooLarge, fmt.Sprintf("line longer than %d bytes", MaxLineBytes))
	}
	if !utf8.Valid(line) {
		return fail(LeadingID(line), errcode.InvalidUTF8, "line is not valid UTF-8")
	}
	var l Line
	if err := json.Unmarshal(line, &l); err != nil {
		code, msg := errcode.JSON(err)
		return fail(LeadingID(line), code, msg)
	}
	// As on the HTTP endpoints: a key named twice (or twice but for case)
	// would have one value inspected and another acted on.
	if err := jsonkeys.Check(line); err != nil {
		return fail(l.ID, errcode.DuplicateKey, err.Error())
	}
	if l.Text == nil {
		return fail(l.ID, errcode.InvalidField, "text: missing")
	}
	v, err := sess.Inspect(ctx, in, inspect.Message{
		Request: inspect.Request{Text: *l.Text, Role: l.Role, ConversationID: l.ConversationID, AgentID: l.AgentID},
		TS:      l.TS,
	})
	var failed *inspect.FailedError
	switch {
	case errors.Is(err, inspect.ErrInvalid):
		return fail(l.ID, errcode.InvalidField, err.Error())
	case errors.As(err, &failed):
		return LineResult{ID: l.ID, policyErr: failed.Err}
	case err != nil:
		return LineResult{ID: l.ID, policyErr: err}
	}
	r := api.NewReply(&v)
	return LineResult{ID: l.ID, Reply: &r}
}

// ReadLine reads one line of a JSONL stream without its newline, for
// Run and the tools that read the same format (replay). A line longer than
// MaxLineBytes is consumed whole and reported as tooLong (line is then
// its first MaxLineBytes bytes, for LeadingID), so one bad line never ends
// the stream. err is the reader's (io.EOF after the last line).
func ReadLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLineBytes+1 {
			tooLong = true
			if room := MaxLineBytes - len(buf); room > 0 {
				buf = append(buf, chunk[:room]...)
			}
		} else if !tooLong {
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), tooLong, err
	}
}

// LeadingID returns the value of the top-level "id" key of a JSON object
// line that may be broken further on (cut short, malformed, invalid UTF-8,
// a field of the wrong type), when the line shows it before the damage;
// nil otherwise. Only a number or a string id is returned, so an error line
// never echoes an object or array built from the input.
func LeadingID(line []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := k.(string)
		if key != "id" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil
			}
			continue
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		switch v[0] {
		case '"':
			if !utf8.Valid(v) {
				return nil
			}
			return v
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return v
		}
		return nil
	}
	return nil
}
