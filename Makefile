# The two front doors are `make demo` and `make test`; each installs what it needs.
# Each part of the product keeps its targets in mk/<part>.mk.
SHELL := /bin/bash

.PHONY: test lint demo

test: test-rust test-nostd
lint: lint-rust

include $(sort $(wildcard mk/*.mk))
