package errcode

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// JSON classifies an error of encoding/json's Unmarshal: a body that is
// not JSON is InvalidJSON; a value of the wrong type or form (a number for
// a string, a ts that is not RFC 3339) is InvalidField, as a missing field
// is. The message names the field or the byte offset and never quotes the
// input, which may be private.
func JSON(err error) (Code, string) {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
		pe *time.ParseError
	)
	switch {
	case errors.As(err, &se):
		return InvalidJSON, fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return InvalidField, fmt.Sprintf("%s: want %s, got %s", field, te.Type, te.Value)
	case errors.As(err, &pe):
		return InvalidField, "ts: want an RFC 3339 time"
	}
	return InvalidField, "a field holds a value of the wrong form"
}
