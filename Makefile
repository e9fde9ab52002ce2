# Developer shortcuts; README and CI call the same scripts.
.PHONY: help setup build fmt clippy test e2e quickstart

help: ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## install protoc, etcd and grpcurl when missing
	scripts/setup.sh

build: ## build every crate and the sluice binary
	. scripts/env.sh && cargo build --workspace

fmt: ## format the code
	cargo fmt --all

clippy: ## lint with warnings as errors
	. scripts/env.sh && cargo clippy --workspace --all-targets -- -D warnings

test: ## the whole suite (starts etcd, checks PostgreSQL/MariaDB)
	scripts/test.sh

e2e: ## only the end-to-end tests (needs `make build` first)
	. scripts/env.sh && cargo nextest run -p sluice-e2e

quickstart: ## generate 1,000,000 rows and copy them through a 2-worker in-process cluster
	scripts/quickstart.sh
