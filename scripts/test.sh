#!/usr/bin/env bash
# The whole test suite: static checks, unit and integration tests, the stock
# OPA test runner on the default policy bundle. Used by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== opa test (stock binary, the version we embed) on the default bundle"
opa_version=$(go list -m -f '{{.Version}}' github.com/open-policy-agent/opa)
go run "github.com/open-policy-agent/opa@${opa_version}" test -v rules/bundle | tail -n 3

echo "== go test"
go test -count=1 ${GOTEST_FLAGS:-} ./...

echo "== fuzz smoke (10s each: normalizer, JSONL batch, HTTP request decoding, proxy body)"
go test -run '^$' -fuzz '^FuzzNormalize$' -fuzztime 10s ./detectors/normalize/
go test -run '^$' -fuzz '^FuzzRunJSONL$' -fuzztime 10s ./gateway/inspect/
go test -run '^$' -fuzz '^FuzzAgentRequest$' -fuzztime 10s ./gateway/
go test -run '^$' -fuzz '^FuzzExtract$' -fuzztime 10s ./gateway/proxy/
