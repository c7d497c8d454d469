# The entry point: `make run` serves on the embedded SQLite default, `make test` runs
# everything CI runs. PostgreSQL tests read SCIMD_TEST_DATABASE_URL (see README).
GO       ?= go
BIN      := bin/scimd
PKGS     := ./...
export SCIMD_TEST_DATABASE_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)

.PHONY: run build test test-short test-race lint bench bench-figures bench-gate bench-tenants fuzz fleet-test clean

build:
	$(GO) build -o $(BIN) ./cmd/scimd

run: build
	./$(BIN) serve

# go vet, then every test with the race detector, PostgreSQL included when reachable. The
# server package's black-box suite (every test on both backends, each on a fresh database)
# outgrows go test's default 10-minute limit on a loaded machine; 30 minutes still catches a hang.
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
	$(GO) vet -tags fleet ./internal/faults/

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
	$(MAKE) bench-gate

# The figures of BENCHMARKS.md's tables, one command: scimbench's ops scenario (lookup,
# create, PATCH deactivate, member add, cursor page; each beside its raw-driver floor and
# the do-nothing HTTP ceiling, interleaved in one run) on each backend, with --gate: a
# ratio below its target by more than the noise band fails. Reports in bench-results/.
# The per-tenant rate limit (default 100/s) is off and the tenant's share of concurrent
# requests (default 4) raised to the clients' 8: one tenant at thousands of requests a
# second is what they exist to refuse. BENCH_GATE_BAND is the gate's noise band
# (BENCHMARKS.md, "The gate").
BENCH_GATE_BAND ?= 0.4
BENCH_OPS   := --scenario ops --floor --fresh-db --concurrency 8 --groups 8 --ops-per-round 6000 --rounds 3 --progress 0 \
	--scimd-args '--rate-limit 0 --tenant-concurrency 16' --gate-band $(BENCH_GATE_BAND)

BENCH_PG    := $(or $(SCIMD_TEST_DATABASE_URL),postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
bench-figures bench-gate: build
	$(GO) build -o bin/scimbench ./cmd/scimbench
	@mkdir -p bench-results
	@rc=0; for db in sqlite:throwaway.db '$(BENCH_PG)'; do \
		name=$$(case $$db in sqlite:*) echo sqlite;; *) echo postgres;; esac); \
		echo ./bin/scimbench --scimd $(BIN) --database "$$db" $(BENCH_OPS) --tenants 1 --users 10000 --gate --json-out bench-results/ops-$$name.json; \
		./bin/scimbench --scimd $(BIN) --database "$$db" $(BENCH_OPS) --tenants 1 --users 10000 --gate --json-out bench-results/ops-$$name.json || rc=1; \
	done; exit $$rc

# Flat in tenants and users: the ops scenario on one tenant of 10,000 users, then on 1,000
# tenants of 1,000 users (1,000,000 users, seeded with set-based SQL), whose cost a request
# (scimd's CPU over the floor client's, same run: scimbench --baseline) must be within 15% of
# the first for every operation, with scimd's peak RSS under 200 MiB. PostgreSQL by
# default; BENCH_TENANTS_DB=sqlite:throwaway.db for SQLite. About 10 minutes.
BENCH_TENANTS_DB ?= $(BENCH_PG)
bench-tenants: build
	$(GO) build -o bin/scimbench ./cmd/scimbench
	@mkdir -p bench-results
	./bin/scimbench --scimd $(BIN) --database '$(BENCH_TENANTS_DB)' $(BENCH_OPS) --tenants 1 --users 10000 --json-out bench-results/tenants-1x10000.json
	./bin/scimbench --scimd $(BIN) --database '$(BENCH_TENANTS_DB)' $(BENCH_OPS) --tenants 1000 --users 1000 --max-rss-mib 200 \
		--baseline bench-results/tenants-1x10000.json --within 0.15 --json-out bench-results/tenants-1000x1000.json

FUZZTIME ?= 20s
# Every fuzz test of every package, each for FUZZTIME; the corpus stays in testdata/fuzz.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
		for fn in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$fn"; \
			$(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# The fleet (RELIABILITY.md, "Fleet"): PostgreSQL with pg_auto_failover (monitor and two
# nodes), three scimd replicas and HAProxy on 127.0.0.1, the storms and faults, the results
# table. Needs pg_autoctl (postgresql-15-auto-failover) and haproxy; about 3 minutes. Every
# process it started is killed afterwards, even when the test itself was killed.
FLEET_TIMEOUT ?= 6m
fleet-test:
	@dir=$$(mktemp -d /tmp/scimd-fleet.XXXXXX); chmod 755 $$dir; \
	SCIMD_FLEET_DIR=$$dir timeout --signal=INT --kill-after=30s 7m \
		$(GO) test -tags fleet -count=1 -v -timeout $(FLEET_TIMEOUT) -run '^TestFleet$$' ./internal/faults/; rc=$$?; \
	internal/faults/testdata/fleet_cleanup.sh $$dir; \
	if [ $$rc -ne 0 ]; then for l in $$dir/*.log; do echo "== $$l"; tail -40 $$l; done; fi; \
	rm -rf $$dir; exit $$rc

clean:
	rm -rf bin
