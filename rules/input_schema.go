package rules

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed input.schema.json
var inputSchemaJSON []byte

// InputSchema returns the JSON Schema (draft 2020-12) of the input document
// a policy sees (input.schema.json): an [Input] with every field, as the
// gateway's inspector builds it. A policy is evaluated on the part of it
// its modules can read; every field it reads is as the schema says. The
// caller gets its own copy.
func InputSchema() []byte { return append([]byte(nil), inputSchemaJSON...) }

// InputChecker validates input documents against [InputSchema]: for the
// tests and tools that build policy inputs and must keep to the contract.
// It is safe for concurrent use.
type InputChecker struct{ schema *jsonschema.Schema }

// NewInputChecker compiles the embedded input schema.
func NewInputChecker() (*InputChecker, error) {
	s, err := compileSchema("input.schema.json", inputSchemaJSON)
	if err != nil {
		return nil, err
	}
	return &InputChecker{schema: s}, nil
}

// Check validates b, a JSON input document. The error lists every failing
// leaf as "location (keyword)", e.g. "/findings/0/kind" (enum), and never a
// value: inputs hold message text.
func (c *InputChecker) Check(b []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("decode input: %w", err)
	}
	err = c.schema.Validate(doc)
	var ve *jsonschema.ValidationError
	if err == nil || !errors.As(err, &ve) {
		return err
	}
	return fmt.Errorf("breaks input.schema.json: %s", strings.Join(schemaLeaves(ve), "; "))
}

// schemaLeaves describes the innermost failures of ve, each as its
// instance location (a JSON pointer, "" for the root) and keyword.
func schemaLeaves(ve *jsonschema.ValidationError) []string {
	if len(ve.Causes) == 0 {
		loc := ""
		if len(ve.InstanceLocation) > 0 {
			loc = "/" + strings.Join(ve.InstanceLocation, "/")
		}
		return []string{fmt.Sprintf("%q (%s)", loc, strings.Join(ve.ErrorKind.KeywordPath(), "/"))}
	}
	var out []string
	for _, c := range ve.Causes {
		out = append(out, schemaLeaves(c)...)
	}
	return out
}

// compileSchema compiles one of the embedded JSON Schemas, named url.
func compileSchema(url string, b []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", url, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("rules: %s: %w", url, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", url, err)
	}
	return s, nil
}
