# provision: `make build`, `make test` (what CI runs), `make demo` (the whole flow against the local
# emulator), `make lint`, `make bench`, `make man`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DEFAULT_GOAL := build

CARGO ?= cargo
BIN := target/release/provision
# The demo runs a debug build: on a fresh 2-core machine it compiles in about half the time of a
# release build, and the emulated services are not what the demo measures (`make bench` is).
DEMO_BIN := target/debug/provision
PROFILE ?= profiles/local.toml

.PHONY: build test lint deny demo bench man

## build: the release binary, target/release/provision
build:
	$(CARGO) build --release

## lint: formatting and clippy, warnings denied
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## deny: licenses, bans and sources (advisories need GitHub, which is not reachable here; see deny.toml)
deny:
	@if command -v cargo-deny >/dev/null 2>&1; then
		$(CARGO) deny --offline check licenses bans sources
	elif [ "$${CI:-}" = "true" ]; then
		echo "error: cargo-deny is not installed; .ci/run installs it (cargo install cargo-deny --locked)" >&2
		exit 1
	else
		echo "note: skipping cargo deny: it is not installed (cargo install cargo-deny --locked); CI runs it" >&2
	fi

## test: everything CI checks: fmt, clippy, cargo deny, then the tests
test: lint deny
	$(CARGO) test

## demo: start the emulator, then check, apply, explore and status --wait on profiles/local.toml.
## The recipe is silent (.ONESHELL: the leading @ covers all of it); it prints each step as
## "$ provision ..." before running it.
demo:
	@$(CARGO) build --quiet --bin provision
	tmp=$$(mktemp -d)
	step() { echo; echo "\$$ provision $$*"; "$(DEMO_BIN)" "$$@"; }
	echo "\$$ provision emulator --listen 127.0.0.1:0 --time-scale 3600 &"
	$(DEMO_BIN) emulator --listen 127.0.0.1:0 --time-scale 3600 >"$$tmp/out" 2>"$$tmp/err" &
	pid=$$!
	trap 'kill $$pid 2>/dev/null || true; wait $$pid 2>/dev/null || true; rm -rf "$$tmp"' EXIT
	# The emulator's first stdout line is its address.
	for _ in $$(seq 200); do
		[ "$$(wc -l <"$$tmp/out")" -ge 1 ] && break
		if ! kill -0 $$pid 2>/dev/null; then
			echo "error: the emulator exited before printing its address:" >&2
			cat "$$tmp/err" >&2
			exit 1
		fi
		sleep 0.05
	done
	addr=$$(head -n1 "$$tmp/out" | grep -oE '(https?://)?[^ /]+:[0-9]+' | head -n1 || true)
	if [ -z "$$addr" ]; then
		echo "error: the emulator printed no address on its first line" >&2
		cat "$$tmp/out" "$$tmp/err" >&2
		exit 1
	fi
	case "$$addr" in http://*|https://*) url=$$addr ;; *) url=http://$$addr ;; esac
	echo "emulator listening at $$url; the profile's URLs and secrets come from the environment:"
	# The emulator's seed credentials (never real secrets), passed the way real ones are.
	export AEP_CLIENT_SECRET=local-adobe-secret
	export ZOHO_CLIENT_SECRET=local-zoho-secret
	export ZOHO_REFRESH_TOKEN=1000.local.refresh
	export PROVISION_ADOBE__IMS_URL=$$url PROVISION_ADOBE__PLATFORM_URL=$$url
	export PROVISION_ZOHO__ACCOUNTS_URL=$$url PROVISION_ZOHO__API_URL=$$url
	# The Zoho token cache of this throwaway emulator goes with it (docs/profile.md).
	export XDG_CACHE_HOME=$$tmp/cache
	echo "  AEP_CLIENT_SECRET, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN (the emulator's seed values)"
	echo "  PROVISION_ADOBE__IMS_URL, PROVISION_ADOBE__PLATFORM_URL, PROVISION_ZOHO__ACCOUNTS_URL, PROVISION_ZOHO__API_URL = $$url"
	step check $(PROFILE)
	step apply --yes $(PROFILE)
	step explore $(PROFILE)
	step status --wait --timeout 2m $(PROFILE)

## man: the man page, target/man/provision.1, generated from the same clap definitions as --help
## (read it with `man -l target/man/provision.1`)
man:
	$(CARGO) build --bin provision
	mkdir -p target/man
	target/debug/provision man >target/man/provision.1
	echo "wrote target/man/provision.1"

## bench: issue 8's benchmark: apply and status against the emulator with 50 ms latency for 10, 50 and
## 200 modules; prints a table and writes target/bench/results.json (BENCH_SIZES=10,50 for fewer sizes)
bench:
	$(CARGO) bench --bench provision
