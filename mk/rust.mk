# Rust: the core and the workspace.
CARGO ?= cargo

.PHONY: setup-rust test-rust test-nostd lint-rust bench-rust bench-memory-rust

setup-rust:
	@rustup target list --installed | grep -q '^wasm32-unknown-unknown$$' || rustup target add wasm32-unknown-unknown
	@rustup target list --installed | grep -q '^thumbv7em-none-eabihf$$' || rustup target add thumbv7em-none-eabihf
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt

test-rust: setup-rust
	$(CARGO) test --workspace
	$(CARGO) test -p fact-resilience-core --all-features

# Proves the core is no_std (+ alloc) on a bare-metal target and on wasm32.
test-nostd: setup-rust
	$(CARGO) build -p fact-resilience-core --no-default-features --target thumbv7em-none-eabihf
	$(CARGO) build -p fact-resilience-core --no-default-features --target wasm32-unknown-unknown

lint-rust: setup-rust
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p fact-resilience-core --no-default-features -- -D warnings
	$(CARGO) clippy -p fact-resilience-core --all-features --all-targets -- -D warnings

# Criterion: the breaker beside failsafe, the thread-safe breaker beside failsafe and recloser
# at 1 and 2 threads (core/BENCHMARKS.md has the tables), the simulator.
bench-rust: setup-rust
	$(CARGO) bench -p fact-resilience-core --bench breaker -- --measurement-time 3 --warm-up-time 1
	$(CARGO) bench -p fact-resilience-core --features coarse-clock --bench shared -- --measurement-time 3 --warm-up-time 1
	$(CARGO) bench -p fact-resilience-core --bench sim

# Bytes per idle key in a Registry at 10k, 100k and 1M keys (a counting global allocator).
bench-memory-rust: setup-rust
	$(CARGO) run --release -p fact-resilience-core --example idle_keys
