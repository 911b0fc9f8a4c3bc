# Short on purpose: each target is what CI and the README run.
.PHONY: build test test-postgres bench-smoke overload fuzz lint

build:
	go build -o warpreg ./cmd/warpreg

# Every test. The storage suite runs on SQLite, and on PostgreSQL too when
# WARPREG_TEST_POSTGRES_URL is set; then test-postgres runs the HTTP, end-to-end and
# SDK suites once more on PostgreSQL. The conformance module starts real warpreg
# servers and drives them with the official cloudflare-go SDK.
test:
	go test -race -count=1 ./...
	cd conformance && go test -race -count=1 ./...
	@if [ -n "$$WARPREG_TEST_POSTGRES_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	else echo "PostgreSQL suites skipped: WARPREG_TEST_POSTGRES_URL is not set"; fi

test-postgres:
	WARPREG_TEST_ENGINE=postgres go test -race -count=1 ./internal/httpapi ./cmd/warpreg
	cd conformance && WARPREG_TEST_ENGINE=postgres go test -race -count=1 ./...

# The load tool, briefly, on 10,000 registrations: it must keep working. No figures
# are asserted; BENCHMARKS.md says how to measure.
bench-smoke:
	scripts/bench-smoke

# Zero failed requests and bounded memory at 8 times the connections the README's
# figures use (scripts/overload says how to run it longer).
overload:
	scripts/overload

# Every fuzz target in the main module, FUZZTIME each (default 10s).
fuzz:
	scripts/fuzz

lint:
	test -z "$$(gofmt -l . | tee /dev/stderr)"
	go vet ./...
	cd conformance && go vet ./...
