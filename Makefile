# The README's two commands live here.
.PHONY: run test bench build

run:
	go run ./cmd/xunjian serve

test:
	./scripts/test.sh

bench:
	go test -run '^$$' -bench . -benchmem ./detectors/... ./rules/... ./gateway/...

build:
	go build -o bin/xunjian ./cmd/xunjian
