# The entry point: `make run` serves on the embedded SQLite default, `make test` runs
# everything CI runs. PostgreSQL tests read SCIMD_TEST_DATABASE_URL (see README).
GO       ?= go
BIN      := bin/scimd
PKGS     := ./...
export SCIMD_TEST_DATABASE_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)

.PHONY: run build test test-short test-race lint bench fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/scimd

run: build
	./$(BIN) serve

# go vet, then every test with the race detector, PostgreSQL included when reachable. The
# timeout is above go test's default of 10 minutes: under the race detector on a shared
# 2-core machine, internal/server's concurrency tests alone can take that long.
TEST_TIMEOUT ?= 30m
test: lint
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

# SQLite only, no race detector: the quick loop.
test-short:
	SCIMD_TEST_DATABASE_URL= $(GO) test -short -count=1 $(PKGS)

test-race:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# The Go benchmarks (internal/bench: each SCIM operation beside its raw-driver floor, both
# backends; PostgreSQL when reachable), then a short scimbench initial-sync with its floor
# against a scimd started on a throwaway database of each backend. See BENCHMARKS.md.
BENCH_SYNC := --scenario initial-sync --users 2000 --groups 20 --members-per-group 100 --concurrency 8 --floor --fresh-db
bench: build
	$(GO) test -run='^$$' -bench=. -benchmem -timeout=30m $(PKGS)
	$(GO) build -o bin/scimbench ./cmd/scimbench
	./bin/scimbench --scimd $(BIN) --database sqlite:throwaway.db $(BENCH_SYNC)
	@if [ -n "$(SCIMD_TEST_DATABASE_URL)" ]; then \
		echo ./bin/scimbench --scimd $(BIN) --database '$(SCIMD_TEST_DATABASE_URL)' $(BENCH_SYNC); \
		./bin/scimbench --scimd $(BIN) --database '$(SCIMD_TEST_DATABASE_URL)' $(BENCH_SYNC); \
	else echo "SKIPPING the PostgreSQL scimbench run: SCIMD_TEST_DATABASE_URL is not set"; fi

FUZZTIME ?= 20s
# Every fuzz test of every package, each for FUZZTIME; the corpus stays in testdata/fuzz.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
		for fn in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$fn"; \
			$(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin
