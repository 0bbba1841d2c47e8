// Package eventtest checks events against the xunjian.event/v1 JSON Schema
// (event.Schema) in tests, wherever the events come from: built in a unit
// test, consumed from a broker after a run through the gateway. It takes
// the schema as bytes, so the event package's own tests can use it too.
package eventtest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaURL = "https://xunjian.dev/schema/xunjian.event/v1.json"

// Schema is the compiled xunjian.event/v1 schema, with formats and
// content asserted.
type Schema struct{ s *jsonschema.Schema }

// Compile compiles schema (event.Schema()), failing the test if it does
// not compile.
func Compile(t testing.TB, schema []byte) *Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.AssertContent()
	if err := c.AddResource(schemaURL, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	return &Schema{s}
}

// Validate reports whether b, one event's JSON, is a valid
// xunjian.event/v1 event.
func (s *Schema) Validate(b []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("event JSON: %w", err)
	}
	return s.s.Validate(inst)
}
