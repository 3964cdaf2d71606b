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
REQUIREMENTS ?= -r requirements-dev.txt -c constraints.txt
VPY := $(CURDIR)/$(VENV)/bin/python
VBIN := $(CURDIR)/$(VENV)/bin
BUILD ?= $(CURDIR)/build
# The other collections the tests need (awx.awx, community.crypto), and their tarballs: tools/collections/fetch.sh.
COLLECTION_DEPS ?= $(BUILD)/collection-deps
COLLECTION_PIN ?= tools/collections/ansible-wheel.txt
CRYPTO_TARBALL = $(firstword $(wildcard $(COLLECTION_DEPS)/tarballs/community-crypto-*.tar.gz))
EE_VENV ?= $(CURDIR)/.venv-ee
TREE := $(BUILD)/ansible_collections/mim/certificate_management
COLLECTIONS := $(BUILD)/collections
COLLECTION_VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := $(BUILD)/dist/mim-certificate_management-$(COLLECTION_VERSION).tar.gz
BUNDLE := $(BUILD)/mim-certificate_management-bundle-$(COLLECTION_VERSION).tar.gz
PY_VERSION = $(shell $(VPY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0

.PHONY: help setup deps demo test tree build install units typecheck sanity lint nox docs-check kerberos integration molecule importer fault-matrix docs simulator-tests cores clean \
	ee-check bundle bundle-test bench bench-enroll bench-smoke

help:
	@echo "make demo   - set up .venv, run the example playbook against the local MIM CM simulator"
	@echo "make test   - run every check (unit, sanity, lint, build, docs, integration)"
	@echo "make cores  - sanity, units and integration on every other supported ansible-core (part of make test)"
	@echo "make bundle - the offline bundle, $(BUNDLE)"

# VENV_STAMP: the file that says VENV holds REQUIREMENTS (make cores names one per ansible-core version).
VENV_STAMP ?= $(VENV)/.installed
$(VENV_STAMP): requirements-dev.txt constraints.txt tools/requirements-core.txt
	@test -n "$(PYTHON)" || { echo "No Python 3.11-3.13 found; run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check $(REQUIREMENTS)
	touch $@

setup: $(VENV_STAMP)

deps: setup
	tools/collections/fetch.sh $(VPY) $(COLLECTION_DEPS) $(COLLECTION_PIN)

# ansible-test needs the collection under ansible_collections/<namespace>/<name>/: a copy of the tracked and new files,
# with community.crypto (a dependency) beside it.
tree: deps
	rm -rf $(BUILD)/ansible_collections
	mkdir -p $(TREE) $(BUILD)/ansible_collections/community
	cp -r $(COLLECTION_DEPS)/ansible_collections/community/crypto $(BUILD)/ansible_collections/community/
	git ls-files --cached --others --exclude-standard -z | xargs -0 -I{} sh -c 'if test -e "{}"; then echo "{}"; fi' | tar -cf - -T - | tar -xf - -C $(TREE)
	# its own git repository, so that ansible-test does not take it for ignored files of this checkout
	cd $(TREE) && git init -q && git add -A

build: tree
	rm -rf $(BUILD)/dist
	cd $(TREE) && $(VBIN)/ansible-galaxy collection build --output-path $(BUILD)/dist
	mkdir -p $(BUILD)/ee && cp $(TARBALL) $(BUILD)/ee/mim-certificate_management.tar.gz  # for execution-environment.yml
	cp $(CRYPTO_TARBALL) $(BUILD)/ee/community-crypto.tar.gz

install: build
	rm -rf $(COLLECTIONS)
	$(VBIN)/ansible-galaxy collection install --offline $(CRYPTO_TARBALL) $(TARBALL) -p $(COLLECTIONS)

demo: install
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) tools/demo/run_demo.sh $(VPY)

units: tree
	$(VPY) tools/seed_ansible_test_pip.py
	cd $(TREE) && $(VBIN)/ansible-test units --venv --python $(PY_VERSION) --requirements

# Every function of plugins/module_utils and plugins/plugin_utils annotated, and the annotations checked (tools/mypy.ini).
typecheck: tree
	cd $(BUILD) && MYPYPATH=$(BUILD) $(VPY) -m mypy --config-file $(CURDIR)/tools/mypy.ini -p ansible_collections.mim.certificate_management.plugins.module_utils \
	  -p ansible_collections.mim.certificate_management.plugins.plugin_utils

sanity: tree
	$(VPY) tools/seed_ansible_test_pip.py
	cd $(TREE) && PATH=$(VBIN):$$PATH $(VBIN)/ansible-test sanity --venv --python $(PY_VERSION) --requirements

# awx.awx (for playbooks/awx_setup.yml) comes out of the ansible community wheel pinned in tools/collections/.
lint: tree
	ANSIBLE_COLLECTIONS_PATH=$(BUILD):$(COLLECTION_DEPS) PATH=$(VBIN):$$PATH $(VBIN)/ansible-lint --profile production --offline
	ANSIBLE_COLLECTIONS_PATH=$(BUILD):$(COLLECTION_DEPS) $(VBIN)/ansible-playbook --syntax-check playbooks/awx_setup.yml awx/project/finalize.yml
	cd $(TREE) && $(VBIN)/antsibull-changelog lint

docs-check: install
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc mim.certificate_management.cm_request_status > $(BUILD)/cm_request_status.txt
	grep -q 'request_id' $(BUILD)/cm_request_status.txt
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc --list mim.certificate_management | grep -q cm_request_status
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc mim.certificate_management.cm_request_info | grep -q status_name
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc mim.certificate_management.cm_request | grep -q data_collection_encoding
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc mim.certificate_management.cm_profile_template_info | grep -q is_smartcard
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc mim.certificate_management.cm_profile_info | grep -q certificates
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $(VBIN)/ansible-doc -t role mim.certificate_management.finalize_request > $(BUILD)/finalize_request.txt
	grep -q finalize_request_ids $(BUILD)/finalize_request.txt

# kerberos first: the simulator's Kerberos tests need the KDC tools and gssapi (they skip loudly, or fail under CI).
# In parallel, one worker per CPU (pytest-xdist): most of their time is simulators starting and answering.
simulator-tests: kerberos
	$(VPY) -m pytest -q -n auto tests/simulator/tests

# The Kerberos tier: MIT KDC and gssapi (installed when missing; skipped loudly only where they cannot be installed).
kerberos: setup
	tools/install_kerberos.sh $(VPY)

# INTEGRATION_TARGETS: the targets to run (default: all).
integration: tree kerberos
	$(VPY) tools/testenv/integration_env.py $(TREE) $(INTEGRATION_TARGETS)

# galaxy-importer, as Galaxy/Automation Hub run it on upload (role README, docs, ansible-lint), on the built tarball.
IMPORTER := $(CURDIR)/.venv-importer
$(IMPORTER)/.installed: tools/requirements-importer.txt
	$(PYTHON) -m venv $(IMPORTER)
	$(IMPORTER)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements-importer.txt
	touch $@

# The importer lints the tarball alone, without its dependency community.crypto (as Galaxy does): the warnings that
# ansible-lint cannot resolve community.crypto's modules are the only ones allowed.
importer: build $(IMPORTER)/.installed
	cd $(BUILD) && PATH=$(IMPORTER)/bin:$$PATH GALAXY_IMPORTER_CONFIG=$(CURDIR)/tools/galaxy-importer.cfg \
	  $(IMPORTER)/bin/python -m galaxy_importer.main $(TARBALL) > $(BUILD)/importer.log 2>&1 || { cat $(BUILD)/importer.log; exit 1; }
	@cat $(BUILD)/importer.log
	grep -q 'Importer processing completed successfully' $(BUILD)/importer.log
	! grep -E '^(WARNING|ERROR)' $(BUILD)/importer.log | grep -v "syntax-check\[unknown-module\]: couldn't resolve module/action 'community\.crypto\."

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
	MIM_CM_FAULT_MATRIX_SIZE=1000 $(VPY) tools/testenv/integration_env.py $(TREE) fault_matrix

# The role's molecule scenario (converge, idempotence, verify) against a simulator it starts itself.
molecule: tree
	$(TREE)/extensions/molecule/run.sh $(VPY)

# The execution environment's build context (ansible-builder create; no image: no container engine here).
$(EE_VENV)/.installed: tools/ee/requirements.txt
	$(PYTHON) -m venv $(EE_VENV)
	$(EE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/ee/requirements.txt
	touch $@

ee-check: build $(EE_VENV)/.installed
	$(EE_VENV)/bin/python tools/ee/check_ee.py $(TARBALL) $(CRYPTO_TARBALL)

# antsibull-nox's sessions (antsibull-nox.toml, noxfile.py): ruff, yamllint, antsibull-docs lint and the extra checks.
# nox and antsibull-nox in NOX_VENV; the sessions' venvs in .nox/, made anew when their pins change and otherwise
# reused without pip (nox -R), so that a run after the first needs no network.
NOX_VENV ?= $(CURDIR)/.venv-nox
NOX_SESSIONS ?= lint docs-check extra-checks
$(NOX_VENV)/.installed: tools/requirements-nox.txt
	$(PYTHON) -m venv $(NOX_VENV)
	$(NOX_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements-nox.txt
	touch $@

# community.crypto, a dependency, comes from COLLECTION_DEPS (found with .venv's ansible-galaxy), not from Galaxy.
NOX_ENV = PATH=$(VBIN):$$PATH ANSIBLE_COLLECTIONS_PATH=$(COLLECTION_DEPS) ANTSIBULL_NOX_IGNORE_INSTALLED_COLLECTIONS=false
.nox/.installed: $(NOX_VENV)/.installed antsibull-nox.toml noxfile.py constraints.txt docs/requirements.txt
	$(MAKE) --no-print-directory deps
	rm -rf .nox
	$(NOX_ENV) $(NOX_VENV)/bin/nox --install-only
	touch $@

nox: .nox/.installed deps
	$(NOX_ENV) $(NOX_VENV)/bin/nox -R -e $(NOX_SESSIONS)

# The offline bundle (collection tarball + every wheel, ansible-core included), and its install with no network.
# kerberos: gcc and libkrb5-dev, to build the gssapi and krb5 wheels (pip's wheel cache keeps them).
bundle: build kerberos
	tools/bundle/build.sh $(VPY) $(TARBALL) $(CRYPTO_TARBALL) $(BUILD)

bundle-test: bundle
	tools/bundle/test.sh $(BUNDLE) $(VPY)

# The benchmark (issues 5 and 14): uri loop, module loop, batch and the plain-requests floor at N=50/200/1000, NTLM, 10k
# memory, and the fleet (the finalize_request role, ping, one batch task and uri per host, and a no-op set_fact, over
# 100/200/500/1000 hosts); writes docs/benchmark.md and docs/benchmark.png; then the enrollment (bench-enroll, below).
# About 85 minutes on two cores under load.
$(VENV)/.bench-installed: $(VENV)/.installed tools/requirements-bench.txt
	$(VPY) -m pip install --quiet --disable-pip-version-check -r tools/requirements-bench.txt -c constraints.txt
	touch $@

bench: install $(VENV)/.bench-installed
	$(VPY) tools/bench/bench.py --build $(BUILD)
	$(VPY) tools/bench/bench_enroll.py --build $(BUILD)

# The enrollment benchmark alone: the enroll_certificate role over 50 hosts against the simulator with its CA, the
# role with its API calls shipped as modules, a re-run and ping per host, 3 rounds; writes docs/benchmark_enroll.md.
# About 15 minutes on two cores.
bench-enroll: install $(VENV)/.bench-installed
	$(VPY) tools/bench/bench_enroll.py --build $(BUILD)

# The same benchmark code on 5 requests, a fleet of 5 hosts and an enrollment of 3, into $(BUILD)/bench-smoke: every
# scenario runs and is audited (no figure judged), and the fleet and enrollment tables have a row for each variant.
bench-smoke: install $(VENV)/.bench-installed
	rm -rf $(BUILD)/bench-smoke
	$(VPY) tools/bench/bench.py --build $(BUILD) --sizes 5 --repeat 1 --memory-size 0 --hammer-calls 400 --fleet-sizes 5 --fleet-repeat 1 \
	  --out $(BUILD)/bench-smoke
	test -s $(BUILD)/bench-smoke/benchmark.png
	grep -q '| none | c module batch | 5 |' $(BUILD)/bench-smoke/benchmark.md
	for row in 'set_fact no-op | .* | no writes' 'ping | .* | no writes' 'role | .* | 5 applied once' 'batch | .* | 5 applied once' \
	    'uri GET+PUT | .* | 5 applied once'; do \
	  grep -q "^| 5 | $$row |\$$" $(BUILD)/bench-smoke/benchmark.md || { echo "bench-smoke: no fleet row '$$row'"; exit 1; }; \
	done
	$(VPY) tools/bench/bench_enroll.py --build $(BUILD) --sizes 3 --repeat 1 --out $(BUILD)/bench-smoke
	for row in 'enroll | .* | 3 enrolled once' 'enroll, API modules shipped | .* | 3 enrolled once' 're-run, nothing to do | .* | no writes' \
	    'ping | .* | no writes'; do \
	  grep -q "^| 3 | $$row |\$$" $(BUILD)/bench-smoke/benchmark_enroll.md || { echo "bench-smoke: no enrollment row '$$row'"; exit 1; }; \
	done

# make test runs every step, even after one fails, each step's output also in build/test-logs/<step>.log, and ends
# with one line per step (passed or FAILED, its time, and what it skipped: the "*** ... ***" lines it printed).
TEST_STEPS := simulator-tests units typecheck sanity lint nox ee-check docs-check docs importer integration bundle-test \
	molecule bench-smoke cores
TEST_LOGS := $(BUILD)/test-logs

test:
	@rm -rf $(TEST_LOGS); mkdir -p $(TEST_LOGS); failed=; summary=; \
	for step in $(TEST_STEPS); do \
	  start=$$SECONDS; \
	  if $(MAKE) --no-print-directory $$step 2>&1 | tee $(TEST_LOGS)/$$step.log; then result=passed; else result=FAILED; failed+=" $$step"; fi; \
	  summary+=$$(printf '%-16s %-7s %4d s' $$step $$result $$((SECONDS - start)))$$'\n'; \
	  summary+=$$({ grep -hoE '\*\*\* .* \*\*\*|^2\.[0-9]+\.[0-9]+ on Python .*' $(TEST_LOGS)/$$step.log || true; } | sort -u | sed 's/^/    /'); \
	  summary+=$${summary:+$$'\n'}; \
	done; \
	echo; echo "== make test: $(words $(TEST_STEPS)) steps (logs in $(TEST_LOGS)/)"; printf '%s' "$$summary" | grep -v '^$$'; \
	if [ -n "$$failed" ]; then echo "*** FAILED:$$failed ***"; exit 1; fi; echo "== every step passed"

# Every ansible-core from 2.16 on is tested: the one of requirements-dev.txt (2.19) in .venv by units, sanity and
# integration above, and each other one by `make cores` in its own venv, .venv-core-<minor>, from
# tools/requirements-core.txt. A row of CORES is
#   core version (the newest patch release on PyPI)
#   : the controller Pythons it supports, in the order tried (the first one found here is used)
#   : its integration run: all targets, or the SMOKE_TARGETS
#   : pins that replace those of constraints.txt (2.16 to 2.18 require resolvelib < 1.1; constraints.txt pins 1.2.1)
#   : the pin file of the collections it is tested with (tools/collections/; default ansible-wheel.txt)
# Each gets ansible-test sanity and units, and its integration run. Pythons are looked for in CORE_PYTHONS
# (interpreter paths, e.g. CORE_PYTHONS=/opt/python3.12/bin/python3), PYTHON, on PATH, then among pyenv's versions; a
# core with none of its Pythons is reported as NOT TESTED (an error under CI=true), never as passed.
CORES := 2.16.19:3.11,3.10,3.12:all:resolvelib==1.0.1:ansible-wheel-2.16.txt \
	2.17.14:3.11,3.10,3.12:smoke:resolvelib==1.0.1 \
	2.18.19:3.13,3.12,3.11:smoke:resolvelib==1.0.1 \
	2.20.10:3.12,3.13,3.14:smoke \
	2.21.5:3.14,3.13,3.12:all
SMOKE_TARGETS := cm_request_status bad_input
CORE_PYTHONS ?=
CORE_STEPS ?= setup sanity units integration

cores:
	@failed=; untested=; report=; \
	for row in $(CORES); do \
	  IFS=: read -r core pythons integration pins deps <<< "$$row"; \
	  collections=; \
	  if [ -n "$$deps" ]; then collections="COLLECTION_PIN=tools/collections/$$deps COLLECTION_DEPS=$(BUILD)/collection-deps-$$core"; fi; \
	  python=; \
	  for version in $${pythons//,/ }; do \
	    for candidate in $(CORE_PYTHONS) $(PYTHON) $$(command -v python$$version) \
	        $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$version.*/bin/python3 2>/dev/null | sort -rV); do \
	      if "$$candidate" -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != sys.argv[1])' $$version 2>/dev/null; then \
	        python=$$candidate; break 2; \
	      fi; \
	    done; \
	  done; \
	  if [ -z "$$python" ]; then \
	    echo "*** NOT TESTED: ansible-core $$core, for no Python $$pythons was found (PATH, pyenv, CORE_PYTHONS) ***"; \
	    untested+=" $$core"; report+="$$core: NOT TESTED, no Python $$pythons found"$$'\n'; continue; \
	  fi; \
	  version=$$("$$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  venv=.venv-core-$${core%.*}; \
	  if [ -e $$venv ] && [ "$$($$venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$$version" ]; then \
	    rm -rf $$venv; \
	  fi; \
	  names=; for pin in $${pins//,/ }; do names+="|$${pin%%==*}"; done; \
	  requirements="ansible-core==$$core $${pins//,/ } -r tools/requirements-core.txt -c <(grep -v -i -E '^($${names#|})==' constraints.txt)"; \
	  echo "== ansible-core $$core on $$python ($$venv)"; \
	  line="$$core on Python $$version:"; \
	  for step in $(CORE_STEPS); do \
	    targets=; \
	    if [ $$step = integration ] && [ $$integration = smoke ]; then targets="$(SMOKE_TARGETS)"; fi; \
	    start=$$SECONDS; \
	    if $(MAKE) --no-print-directory VENV=$$venv VENV_STAMP=$$venv/.installed-$$core PYTHON=$$python $$collections \
	        REQUIREMENTS="$$requirements" INTEGRATION_TARGETS="$$targets" $$step; then \
	      result=passed; \
	    else \
	      result=FAILED; failed+=" $$core:$$step"; \
	    fi; \
	    line+=" $$step$${targets:+ ($$targets)} $$result in $$((SECONDS - start)) s,"; \
	  done; \
	  report+="$${line%,}"$$'\n'; \
	done; \
	echo "== ansible-core versions: $$(sed -n 's/^ansible-core==//p' requirements-dev.txt) in .venv (make units sanity integration); by make cores:"; \
	printf '%s' "$$report"; \
	if [ -n "$$untested" ]; then \
	  echo "*** NOT TESTED:$$untested ***"; \
	  if [ "$${CI:-}" = true ]; then echo "CI must test every supported ansible-core: failing."; exit 1; fi; \
	fi; \
	if [ -n "$$failed" ]; then echo "*** FAILED:$$failed ***"; exit 1; fi

clean:
	rm -rf $(BUILD) $(VENV) $(VENV)-core-* $(IMPORTER) $(DOCS_VENV) $(EE_VENV) $(NOX_VENV) .nox
