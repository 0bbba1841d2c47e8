# The README's two commands live here.
.PHONY: run test bench build install

run:
	go run ./cmd/xunjian serve

test:
	./scripts/test.sh

bench:
	go test -run '^$$' -bench . -benchmem ./detectors/... ./rules/... ./gateway/...

build:
	go build -o bin/xunjian ./cmd/xunjian

# xunjian into $(go env GOPATH)/bin, which must be on PATH (README, "Prerequisites").
install:
	go install ./cmd/xunjian
