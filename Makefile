# make demo: set up .venv, start the simulator, run the example playbook, stop the simulator.
# make test: every check (unit, sanity, lint, build/install, docs, integration), on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The Python that runs ansible-core 2.19 (3.11 .. 3.13); override with `make PYTHON=/path/to/python3.11 test`.
ifeq ($(origin PYTHON), undefined)
PYTHON := $(shell for p in python3.11 python3.12 python3.13 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null && { command -v $$p; break; }; done)
endif
VENV ?= .venv
REQUIREMENTS ?= -r requirements-dev.txt -r tools/requirements-awx.txt -c constraints.txt
# A Python 3.12+ for the newest ansible-core, if this machine has one (never assumed): on PATH, or installed by pyenv
# (whose shims only answer for the versions pyenv has activated).
ifeq ($(origin NEWEST_PYTHON), undefined)
NEWEST_PYTHON := $(shell for p in $$(command -v python3.14 python3.13 python3.12) $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do $$p -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
endif
VPY := $(CURDIR)/$(VENV)/bin/python
VBIN := $(CURDIR)/$(VENV)/bin
BUILD ?= $(CURDIR)/build
AWX_COLLECTIONS := $(BUILD)/awx-collections
EE_VENV ?= $(CURDIR)/.venv-ee
TREE := $(BUILD)/ansible_collections/mim/certificate_management
COLLECTIONS := $(BUILD)/collections
SIM := tools/simulator/mim_cm_simulator.py
COLLECTION_VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := $(BUILD)/dist/mim-certificate_management-$(COLLECTION_VERSION).tar.gz
BUNDLE := $(BUILD)/mim-certificate_management-bundle-$(COLLECTION_VERSION).tar.gz
PY_VERSION = $(shell $(VPY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0

.PHONY: help setup demo test tree build install units sanity lint docs-check kerberos integration molecule importer fault-matrix docs simulator-tests newest clean \
	ee-check bundle bundle-test bench bench-smoke

help:
	@echo "make demo   - set up .venv, run the example playbook against the local MIM CM simulator"
	@echo "make test   - run every check (unit, sanity, lint, build, docs, integration)"
	@echo "make bundle - the offline bundle, $(BUNDLE)"

$(VENV)/.installed: requirements-dev.txt constraints.txt tools/requirements-newest.txt tools/requirements-awx.txt
	@test -n "$(PYTHON)" || { echo "No Python 3.11-3.13 found; run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check $(REQUIREMENTS)
	touch $@

setup: $(VENV)/.installed

# ansible-test needs the collection under ansible_collections/<namespace>/<name>/: a copy of the tracked and new files.
tree: setup
	rm -rf $(BUILD)/ansible_collections
	mkdir -p $(TREE)
	git ls-files --cached --others --exclude-standard -z | xargs -0 -I{} sh -c 'test -e "{}" && echo "{}"' | tar -cf - -T - | tar -xf - -C $(TREE)
	# its own git repository, so that ansible-test does not take it for ignored files of this checkout
	cd $(TREE) && git init -q && git add -A

build: tree
	rm -rf $(BUILD)/dist
	cd $(TREE) && $(VBIN)/ansible-galaxy collection build --output-path $(BUILD)/dist

install: build
	rm -rf $(COLLECTIONS)
	$(VBIN)/ansible-galaxy collection install $(TARBALL) -p $(COLLECTIONS)

demo: install
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) tools/demo/run_demo.sh $(VPY)

units: tree
	$(VPY) tools/seed_ansible_test_pip.py
	cd $(TREE) && $(VBIN)/ansible-test units --venv --python $(PY_VERSION) --requirements

sanity: tree
	$(VPY) tools/seed_ansible_test_pip.py
	cd $(TREE) && PATH=$(VBIN):$$PATH $(VBIN)/ansible-test sanity --venv --python $(PY_VERSION) --requirements

# awx.awx (for playbooks/awx_setup.yml) comes out of the ansible community wheel pinned in tools/ee/awx-collection.txt.
lint: tree
	tools/ee/fetch_awx_collection.sh $(VPY) $(AWX_COLLECTIONS)
	ANSIBLE_COLLECTIONS_PATH=$(BUILD):$(AWX_COLLECTIONS) PATH=$(VBIN):$$PATH $(VBIN)/ansible-lint --profile production --offline
	ANSIBLE_COLLECTIONS_PATH=$(BUILD):$(AWX_COLLECTIONS) $(VBIN)/ansible-playbook --syntax-check playbooks/awx_setup.yml awx/project/finalize.yml

docs-check: install
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc mim.certificate_management.cm_request_status > $(BUILD)/cm_request_status.txt
	grep -q 'request_id' $(BUILD)/cm_request_status.txt
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc --list mim.certificate_management | grep -q cm_request_status
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc mim.certificate_management.cm_request_info | grep -q status_name
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc -t role mim.certificate_management.finalize_request > $(BUILD)/finalize_request.txt
	grep -q finalize_request_ids $(BUILD)/finalize_request.txt

# kerberos first: the simulator's Kerberos tests need the KDC tools and gssapi (they skip loudly, or fail under CI).
simulator-tests: kerberos
	$(VPY) -m pytest -q tools/simulator/tests

# The Kerberos tier: MIT KDC and gssapi (installed when missing; skipped loudly only where they cannot be installed).
kerberos: setup
	tools/install_kerberos.sh $(VPY)

integration: tree kerberos
	$(VPY) tools/run_integration.py $(TREE)

# galaxy-importer, as Galaxy/Automation Hub run it on upload (role README, docs, ansible-lint), on the built tarball.
IMPORTER := $(CURDIR)/.venv-importer
$(IMPORTER)/.installed: tools/requirements-importer.txt
	$(PYTHON) -m venv $(IMPORTER)
	$(IMPORTER)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements-importer.txt
	touch $@

importer: build $(IMPORTER)/.installed
	cd $(BUILD) && PATH=$(IMPORTER)/bin:$$PATH GALAXY_IMPORTER_CONFIG=$(CURDIR)/tools/galaxy-importer.cfg \
	  $(IMPORTER)/bin/python -m galaxy_importer.main $(TARBALL) > $(BUILD)/importer.log 2>&1 || { cat $(BUILD)/importer.log; exit 1; }
	@cat $(BUILD)/importer.log
	grep -q 'Importer processing completed successfully' $(BUILD)/importer.log
	! grep -E '^(WARNING|ERROR)' $(BUILD)/importer.log

# The documentation site: lint, HTML into $(BUILD)/docs/html (antsibull-docs + Sphinx, offline), then the link check.
DOCS_VENV ?= $(CURDIR)/.venv-docs
$(DOCS_VENV)/.installed: docs/requirements.txt
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r docs/requirements.txt
	touch $@

docs: install $(DOCS_VENV)/.installed
	docs/build.sh $(BUILD) $(DOCS_VENV) $(COLLECTIONS)
	$(VPY) docs/check_site.py $(BUILD)/docs/html

# The longer fault matrix: 1000 requests through 30% injected transient faults (200 run in make test).
fault-matrix: tree
	MIM_CM_FAULT_MATRIX_SIZE=1000 $(VPY) tools/run_integration.py $(TREE) fault_matrix

# The role's molecule scenario (converge, idempotence, verify) against a simulator it starts itself.
molecule: tree
	$(TREE)/extensions/molecule/run.sh $(VPY)

# The execution environment's build context (ansible-builder create; no image: no container engine here).
$(EE_VENV)/.installed: tools/ee/requirements.txt
	$(PYTHON) -m venv $(EE_VENV)
	$(EE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/ee/requirements.txt
	touch $@

ee-check: build $(EE_VENV)/.installed
	$(EE_VENV)/bin/python tools/ee/check_ee.py $(TARBALL)

# The offline bundle (collection tarball + every wheel, ansible-core included), and its install with no network.
# kerberos: gcc and libkrb5-dev, to build the gssapi and krb5 wheels (pip's wheel cache keeps them).
bundle: build kerberos
	tools/bundle/build.sh $(VPY) $(TARBALL) $(BUILD)

bundle-test: bundle
	tools/bundle/test.sh $(BUNDLE) $(VPY)

# The benchmark (issue 5): uri loop, module loop, batch and the plain-requests floor at N=50/200/1000, NTLM, 10k memory;
# writes docs/benchmark.md and docs/benchmark.png. About 20 minutes on two cores.
$(VENV)/.bench-installed: $(VENV)/.installed tools/requirements-bench.txt
	$(VPY) -m pip install --quiet --disable-pip-version-check -r tools/requirements-bench.txt -c constraints.txt
	touch $@

bench: install $(VENV)/.bench-installed
	$(VPY) tools/bench/bench.py --build $(BUILD)

# The same benchmark code on 5 requests, into $(BUILD)/bench-smoke: every scenario runs and is audited (no figure judged).
bench-smoke: install $(VENV)/.bench-installed
	rm -rf $(BUILD)/bench-smoke
	$(VPY) tools/bench/bench.py --build $(BUILD) --sizes 5 --repeat 1 --memory-size 0 --hammer-calls 400 --out $(BUILD)/bench-smoke
	test -s $(BUILD)/bench-smoke/benchmark.png
	grep -q '| none | c module batch | 5 |' $(BUILD)/bench-smoke/benchmark.md

test: simulator-tests units sanity lint ee-check docs-check docs importer integration bundle-test molecule bench-smoke newest

# sanity and integration again on the newest ansible-core, in its own venv, when a Python 3.12+ is here.
newest:
	@if [ -z "$(NEWEST_PYTHON)" ]; then echo "*** SKIPPED: no Python 3.12+ interpreter found, so the newest ansible-core was NOT tested ***"; exit 0; fi
	@echo "== newest ansible-core on $(NEWEST_PYTHON)"
	$(MAKE) VENV=.venv-newest PYTHON=$(NEWEST_PYTHON) REQUIREMENTS="-r tools/requirements-newest.txt -r tools/requirements-awx.txt" sanity integration

clean:
	rm -rf $(BUILD) $(VENV) $(VENV)-newest $(IMPORTER) $(DOCS_VENV) $(EE_VENV)
