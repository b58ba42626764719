# npm/wasm package `fact-resilience` (bindings-wasm/). Needs Rust (rustup) + Node 20 + npm.
#   build-wasm  cargo (wasm32) -> wasm-bindgen --target web -> wasm-opt -Oz -> sizes (pkg/sizes.json)
#   check-wasm-size  fails if the .wasm is over budget (172 KB after wasm-opt, 74 KB gzipped)
#   test-js     the size check, then node --test: tests/js (API, errors, vectors, panic,
#               health, Prometheus, OpenTelemetry, packaging) and tests/edge (workerd); so
#               `make test` enforces the budget. npm ci also installs the OpenTelemetry
#               SDK the otel tests use (dev dependencies only)
#   bench-js    benches/js_overhead.mjs against opossum and cockatiel
#   bench-js-cold  benches/js_cold_start.mjs: module load and first breaker, Node and workerd
#   bench-memory-js  benches/js_memory.mjs: JS heap + wasm memory per standalone breaker
#   lint-js     the Rust side of the binding under clippy for wasm32
WASM_BINDGEN_VERSION := 0.2.130
WASM_JS := bindings-wasm/js
WASM_PKG := $(WASM_JS)/pkg
WASM_TARGET_DIR ?= target
WASM_OUT := $(WASM_TARGET_DIR)/wasm32-unknown-unknown/release/fact_resilience_wasm.wasm
# opt-level 3 measured both smaller and faster than "s" and "z" here (figures in
# bindings-wasm/js/README.md, Size). Fat LTO and one codegen unit let it drop what the exports never
# reach. panic=abort: wasm32-unknown-unknown cannot unwind anyway. No `strip = true`: it drops
# the target_features section wasm-bindgen and wasm-opt need; postbuild.mjs strips instead.
WASM_CARGO_FLAGS := --release --target wasm32-unknown-unknown -p fact-resilience-wasm \
	--config 'profile.release.panic="abort"' --config 'profile.release.opt-level=3' \
	--config 'profile.release.lto="fat"' --config 'profile.release.codegen-units=1'

.PHONY: setup-js build-wasm check-wasm-size test-js bench-js bench-js-cold bench-memory-js lint-js

setup-js: setup-rust
	@wasm-bindgen --version 2>/dev/null | grep -q ' $(WASM_BINDGEN_VERSION)$$' || \
		cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@test -x $(WASM_JS)/node_modules/.bin/wasm-opt -a -x $(WASM_JS)/node_modules/.bin/workerd \
		-a -d $(WASM_JS)/node_modules/@opentelemetry/sdk-trace-base || \
		(cd $(WASM_JS) && npm ci --no-audit --no-fund)

build-wasm: setup-js
	CARGO_TARGET_DIR=$(WASM_TARGET_DIR) $(CARGO) build $(WASM_CARGO_FLAGS)
	rm -rf $(WASM_PKG)
	wasm-bindgen --target web --out-dir $(WASM_PKG) $(WASM_OUT)
	node $(WASM_JS)/scripts/postbuild.mjs $(WASM_PKG)

check-wasm-size: build-wasm
	node $(WASM_JS)/scripts/postbuild.mjs --check $(WASM_PKG)

test-js: check-wasm-size
	node --test --test-reporter=spec tests/js/ tests/edge/

bench-js: build-wasm
	@test -d benches/node_modules || (cd benches && npm ci --no-audit --no-fund)
	node --expose-gc benches/js_overhead.mjs

bench-js-cold: build-wasm
	@test -d benches/node_modules || (cd benches && npm ci --no-audit --no-fund)
	node benches/js_cold_start.mjs

# Memory per standalone CircuitBreaker (JS heap + wasm) at 10k and 100k breakers; no peers needed.
bench-memory-js: build-wasm
	node benches/js_memory.mjs

lint-js: setup-js
	$(CARGO) clippy -p fact-resilience-wasm --target wasm32-unknown-unknown -- -D warnings
