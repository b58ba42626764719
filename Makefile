# The two front doors are `make demo` and `make test`; each installs what it needs.
# Each part of the product keeps its targets in mk/<part>.mk.
SHELL := /bin/bash

.PHONY: test lint demo

test: test-rust test-nostd test-python test-js
lint: lint-rust lint-python lint-js

# The main job: a FACT-style service rides out a scripted cache outage.
demo: develop-python
	$(VENV)/bin/fact-resilience demo

include $(sort $(wildcard mk/*.mk))
