package rules

import _ "embed"

//go:embed input.schema.json
var inputSchemaJSON []byte

// InputSchema returns the JSON Schema (draft 2020-12) of the input document
// a policy sees (input.schema.json): an [Input] with every field, as the
// gateway's inspector builds it. A policy is evaluated on the part of it
// its modules can read; every field it reads is as the schema says. The
// caller gets its own copy.
func InputSchema() []byte { return append([]byte(nil), inputSchemaJSON...) }
