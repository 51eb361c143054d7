# The README's commands. `make run` serves the demo on SQLite; `make test` runs everything.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test build lint openapi bench faults

run:
	scripts/ensure-redis.sh
	$(CARGO) build --release --bin fivestar
	"$${CARGO_TARGET_DIR:-target}/release/fivestar" seed-demo
	"$${CARGO_TARGET_DIR:-target}/release/fivestar" serve

test:
	scripts/test.sh

build:
	$(CARGO) build --release --bin fivestar

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Regenerate the committed OpenAPI document after changing routes.
openapi:
	$(CARGO) run -q --bin fivestar -- openapi > api-docs/openapi.json

bench:
	bench/run.sh

# The long half of the fault suite (the quick half runs in `make test`).
faults:
	bench/faults.sh
