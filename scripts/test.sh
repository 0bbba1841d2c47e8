#!/usr/bin/env bash
# The whole test suite: static checks, unit and integration tests, the stock
# OPA test runner on the default policy bundle. Used by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

# A real Apache Kafka broker (KRaft, single node) for the stream's
# integration tests (build tag kafka): started now, in the background, while
# the static checks run; stopped whatever happens. KAFKA_PORT moves it. Its
# second listener (SASL_SSL with SCRAM, on KAFKA_PORT + 2 unless
# KAFKA_SCRAM_PORT says otherwise) is for the secure-transport tests, which
# read KAFKA_SCRAM_BROKERS, KAFKA_SCRAM_USER, KAFKA_SCRAM_PASSWORD,
# KAFKA_CA_FILE and KAFKA_CA_KEY_FILE from `scripts/kafka.sh env` once the
# broker is up.
export KAFKA_PORT=${KAFKA_PORT:-9092}
export KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
export KAFKA_BROKERS=127.0.0.1:${KAFKA_PORT}
kafka_log=$(mktemp)
scripts/kafka.sh start >"$kafka_log" 2>&1 &
kafka_pid=$!
trap 'wait "$kafka_pid" 2>/dev/null || true; scripts/kafka.sh stop >/dev/null 2>&1 || true; scripts/postgres.sh stop >/dev/null 2>&1 || true; scripts/redis.sh stop >/dev/null 2>&1 || true; scripts/redis.sh cluster-stop >/dev/null 2>&1 || true; rm -f "$kafka_log" "${summary_file:-}"' EXIT

# A throwaway PostgreSQL cluster (Debian's packages) for the console
# store's tests, which run every case on SQLite and, with
# XUNJIAN_TEST_POSTGRES set, on PostgreSQL too. PG_PORT moves it.
echo "== PostgreSQL"
scripts/postgres.sh start
while IFS= read -r line; do export "$line"; done < <(scripts/postgres.sh env)

# A throwaway Redis (Debian's redis-server, loopback, no persistence) for
# the shared state's tests and the multi-instance test, which run with
# XUNJIAN_TEST_REDIS set. REDIS_PORT moves it. Beside it a throwaway Redis
# Cluster of three primaries (redis-cli joins them), on which the shared
# state's tests run too, with XUNJIAN_TEST_REDIS_CLUSTER set.
# REDIS_CLUSTER_PORT moves it.
echo "== Redis"
scripts/redis.sh start
while IFS= read -r line; do export "$line"; done < <(scripts/redis.sh env)
scripts/redis.sh cluster-start
while IFS= read -r line; do export "$line"; done < <(scripts/redis.sh cluster-env)

echo "== go vet"
go vet -tags kafka,browser ./...

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -tags kafka,browser ./...

echo "== opa test (stock binary, the version we embed) on the default bundle"
opa_version=$(go list -m -f '{{.Version}}' github.com/open-policy-agent/opa)
go run "github.com/open-policy-agent/opa@${opa_version}" test -v rules/bundle | tail -n 3

echo "== Kafka broker"
if ! wait "$kafka_pid"; then
  cat "$kafka_log"; echo "the Kafka broker did not start"; exit 1
fi
cat "$kafka_log"
# Every line NAME=VALUE of `env` exported (eval "export $(…)" would
# export the first line only).
while IFS= read -r line; do export "$line"; done < <(scripts/kafka.sh env)

echo "== go test (with the real-Kafka integration tests and the browser tests: -tags kafka,browser, KAFKA_BROKERS=$KAFKA_BROKERS, KAFKA_SCRAM_BROKERS=${KAFKA_SCRAM_BROKERS:-none}, a headless Chromium)"
# scripts/testsummary runs go test -json, prints what go test prints without
# -json, and ends with one line over all packages: "N passed, N failed, N
# skipped" (a package that does not build counts as failed). The line is
# printed again as the script's last: here when anything failed (after go
# run's "exit status 1"), and the script stops with a non-zero status; else
# after the fuzz smoke.
summary_file=$(mktemp)
go run ./scripts/testsummary -o "$summary_file" go test -json -tags kafka,browser -count=1 ${GOTEST_FLAGS:-} ./... || {
  status=$?; echo "== go test, all packages"; cat "$summary_file"; exit "$status"
}

echo "== fuzz smoke (a fixed number of executions each, about 10s here, so a slow machine runs longer instead of racing a deadline: normalizer, invisible code points, masking in every digit form, JSONL batch, HTTP request decoding, duplicate keys, proxy body, model files)"
go test -run '^$' -fuzz '^FuzzNormalize$' -fuzztime 50000x ./detectors/normalize/
go test -run '^$' -fuzz '^FuzzInvisible$' -fuzztime 50000x ./detectors/normalize/
go test -run '^$' -fuzz '^FuzzRedactValue$' -fuzztime 50000x ./detectors/privacy/
go test -run '^$' -fuzz '^FuzzCheck$' -fuzztime 200000x ./gateway/internal/jsonkeys/
go test -run '^$' -fuzz '^FuzzRunJSONL$' -fuzztime 15000x ./gateway/jsonl/
go test -tags contractoff -run '^$' -fuzz '^FuzzAgentRequest$' -fuzztime 12000x ./gateway/ # contractoff: see gateway/contract_off_test.go
go test -run '^$' -fuzz '^FuzzExtract$' -fuzztime 70000x ./gateway/proxy/
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 20000x ./detectors/model/

echo "== go test, all packages"
cat "$summary_file"
