# The README's commands. `make run` serves the demo on SQLite; `make test` runs everything.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test build lint openapi bench faults web

run:
	scripts/ensure-redis.sh
	scripts/build-web.sh
	$(CARGO) build --release --bin fivestar
	"$${CARGO_TARGET_DIR:-target}/release/fivestar" seed-demo
	@echo "phone page: http://$${FIVESTAR_BIND:-127.0.0.1:8080}/m/   API reference: http://$${FIVESTAR_BIND:-127.0.0.1:8080}/docs"
	"$${CARGO_TARGET_DIR:-target}/release/fivestar" serve

test:
	scripts/test.sh

build:
	$(CARGO) build --release --bin fivestar

# The phone page (web/ → web/dist, served at /m/); only when web/ changed.
web:
	scripts/build-web.sh

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
