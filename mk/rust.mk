# Rust: the core and the workspace.
CARGO ?= cargo

.PHONY: setup-rust test-rust test-nostd lint-rust bench-rust

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
