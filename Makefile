# Short on purpose: each target is what CI and the README run.
.PHONY: build test lint

build:
	go build -o warpreg ./cmd/warpreg

# Every test: the product's packages, then the SDK conformance module, which starts
# a real warpreg server and drives it with the official cloudflare-go SDK.
test:
	go test -race -count=1 ./...
	cd conformance && go test -race -count=1 ./...

lint:
	test -z "$$(gofmt -l . | tee /dev/stderr)"
	go vet ./...
	cd conformance && go vet ./...
