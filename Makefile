# SPDX-License-Identifier: GPL-3.0-or-later
# bulwark.hardening: one entry point for the toolchain, the lab, the tests and the demo.
#
#   make demo     build the lab, audit it, harden it, audit again, and print the table
#   make test     every test CI runs (lint, sanity, units, lab, integration, Molecule, build)
#   make ee       the execution environment for AWX (ansible-builder), bulwark-lab/ee:latest
#
# Everything heavy (virtualenvs, collections, lab images) is cached under $(BULWARK_CACHE),
# outside the repository, and reused: a warm run skips what did not change.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export BULWARK_CACHE ?= /var/cache/bulwark
LANE ?= 2.19
VENV := $(BULWARK_CACHE)/venv-$(LANE)
BIN := $(VENV)/bin
# Lane 2.21 (ansible-core 2.21) needs Python 3.12+; it runs sanity and units where one exists.
EXTRA_LANES := $(shell tools/bootstrap.sh 2.21 --probe 2>/dev/null && echo 2.21)

# The tools run with our collection and its dependencies on the collection path, with HOME in
# the cache (Molecule and ansible-test keep state there), and without the CA-bundle variables
# of this environment: requests lets them override a session's own CA, which breaks TLS to a
# daemon with a private CA (see docs/troubleshooting.md).
RUN := env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE \
	PATH="$(BIN):$$PATH" HOME="$(BULWARK_CACHE)/home" \
	ANSIBLE_COLLECTIONS_PATH="$(CURDIR)/build/collections-$(LANE)" \
	ANSIBLE_LOCAL_TEMP="$(BULWARK_CACHE)/home/.ansible/tmp"

LAB := python3 lab/bulwark_lab.py
SCENARIOS := $(notdir $(wildcard extensions/molecule/*))
# pytest exit code 5 means "no tests collected": that must never pass silently.
PYTEST = $(RUN) pytest -p no:cacheprovider

.PHONY: help bootstrap sysdeps lab lab-down lint sanity units test-lab integration molecule \
	docs docs-check build test demo clean ee

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)

sysdeps:  ## Debian packages the tests need (root)
	@tools/sysdeps.sh

bootstrap: sysdeps  ## the pinned toolchain and dependency collections (no Galaxy)
	@tools/bootstrap.sh $(LANE)
	@for lane in $(EXTRA_LANES); do tools/bootstrap.sh $$lane; done

lab:  ## the lab images (cached by recipe hash)
	@$(LAB) images
	@$(LAB) binaries

lab-down:
	@$(LAB) down --all

ee: bootstrap lab  ## the AWX execution environment, bulwark-lab/ee:latest (ansible-builder)
	@tools/build_ee.sh

lint: bootstrap
	$(RUN) ansible-lint --profile production --strict
	$(RUN) python tools/gen_docs.py --check
	$(RUN) antsibull-changelog lint

sanity: bootstrap
	tools/ansible_test.sh $(LANE) sanity
	@for lane in $(EXTRA_LANES); do tools/ansible_test.sh $$lane sanity; done

units: bootstrap
	tools/ansible_test.sh $(LANE) units --requirements
	@for lane in $(EXTRA_LANES); do tools/ansible_test.sh $$lane units --requirements; done

test-lab: bootstrap lab
	$(PYTEST) tests/lab

integration: bootstrap lab
	$(PYTEST) tests/integration

molecule: bootstrap lab
	@for s in $(SCENARIOS); do \
	  echo "=== molecule test -s $$s"; \
	  $(RUN) molecule test -s $$s || exit 1; \
	done

docs: bootstrap
	$(RUN) python tools/gen_docs.py

build: bootstrap
	$(RUN) tools/check_build.sh

test: lint sanity units test-lab integration molecule build
	@echo "make test: all suites passed"

demo: bootstrap lab
	$(RUN) tools/demo.sh

clean:
	rm -rf tests/output build
