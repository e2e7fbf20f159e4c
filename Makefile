# chat-workbook: `make lab` opens the workbook, `make test` proves it. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup lab test lint bench book course doctor export notebooks student screenshots clean

R2D_VENV := .venv-repo2docker
setup: $(STAMP) $(R2D_VENV)/.installed node_modules/.installed tests/node_modules/.installed

# jupyter-repo2docker renders binder/'s Dockerfile offline for tests/test_binder.py. It gets a
# virtual environment of its own: its dependencies must never move the workbook's pins.
$(R2D_VENV)/.installed: tools/requirements-repo2docker.txt
	test -x $(R2D_VENV)/bin/python || $(PYTHON) -m venv $(R2D_VENV)
	$(R2D_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements-repo2docker.txt
	touch $@

# Browser packages (the Socket.IO client) come from npm when npm exists; pages fall back to a CDN.
node_modules/.installed: package.json package-lock.json
	if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: pages will load the Socket.IO client from its CDN"; fi

# Node peers of the interop tests (tests/package.json: express, ws, wscat, socket.io, socket.io-client).
# Without npm the interop tests are skipped, or fail when CI=true.
tests/node_modules/.installed: tests/package.json tests/package-lock.json
	if command -v npm >/dev/null; then npm ci --prefix tests --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the interop tests with Node peers will not run"; fi

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --editable .
	touch $@

# JupyterLab on loopback; as root (containers, this kind of machine) it needs --allow-root.
# `make lab LAB_DIR=student` opens the student edition (after `make student`).
LAB_ARGS ?=
LAB_DIR ?= notebooks
lab: setup
	$(BIN)/jupyter lab --notebook-dir=$(LAB_DIR) --ServerApp.ip=127.0.0.1 \
		$$([ "$$(id -u)" -eq 0 ] && echo --allow-root) $(LAB_ARGS)

# What `make lab` and `make test` need on this machine, one line each: [OK], or [FAIL] and its fix.
# Changes nothing. Runs before `make setup` too (standard library only); with a .venv it checks that one.
doctor:
	@$(PYTHON) tools/doctor.py

lint: setup
	$(BIN)/ruff check helpers tests tools bench book/_ext

# The reference Node servers and the load generator of `make bench` (bench/package.json).
bench/node_modules/.installed: bench/package.json bench/package-lock.json
	npm ci --prefix bench --no-audit --no-fund --silent && touch $@

# The workbook's servers against the original Node servers (Express + ws, socket.io), side by
# side on loopback: writes bench/results.md and bench/results.png. A few minutes; needs Node.
BENCH_ARGS ?=
bench: setup bench/node_modules/.installed
	$(BIN)/python -m bench $(BENCH_ARGS)

# Unit, integration and notebook tests in one run: pytest over tests/, nbval (strict) over notebooks/.
# The notebooks' servers get a free port (WORKBOOK_PORT), so a workbook open in JupyterLab on
# port 3000 doesn't collide with them, below the range outgoing connections take their ports from
# (tests/scale_support.py: quiet_port), so no client of a test can hold it first;
# tests/sanitize.cfg makes ports compare equal.
# A server shared on the network (share=True) shares on loopback here: WORKBOOK_SHARE_ADDRESS.
# The book site: every notebook with its stored outputs, the README as its landing page and the
# teaching guide as a chapter, with launch buttons (Binder, a JupyterHub). Jupyter Book 1 (Sphinx,
# MyST-NB) builds it offline, in an environment of its own (.venv-book: it pins its own Sphinx and
# Jupyter stack); Mermaid comes from npm (book/package.json), so the diagrams are drawn without a
# CDN. Open build/book/_build/html/index.html; tests/browser/test_book.py opens every page.
BOOK_VENV := .venv-book
$(BOOK_VENV)/.installed: tools/requirements-book.txt
	test -x $(BOOK_VENV)/bin/python || $(PYTHON) -m venv $(BOOK_VENV)
	$(BOOK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements-book.txt
	touch $@

book/node_modules/.installed: book/package.json book/package-lock.json
	if command -v npm >/dev/null; then npm ci --prefix book --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the book's diagrams will stay Mermaid text"; fi

book: $(BOOK_VENV)/.installed book/node_modules/.installed
	rm -rf book/_static/mermaid
	if [ -d book/node_modules/mermaid/dist ]; then mkdir -p book/_static/mermaid/chunks && \
		cp book/node_modules/mermaid/dist/mermaid.esm.min.mjs book/_static/mermaid/ && \
		cp -r book/node_modules/mermaid/dist/chunks/mermaid.esm.min book/_static/mermaid/chunks/; fi
	rm -rf build/book
	$(BOOK_VENV)/bin/jupyter-book build . --config book/_config.yml --toc book/_toc.yml \
		--path-output build/book --warningiserror --quiet

# nbgrader grades the exercises (tools/grading.py): it pins notebook 7 and its own Jupyter stack,
# so it gets an environment of its own (.venv-nbgrader); the notebooks it runs use .venv's kernel.
NBGRADER_VENV := .venv-nbgrader
$(NBGRADER_VENV)/.installed: tools/requirements-nbgrader.txt
	test -x $(NBGRADER_VENV)/bin/python || $(PYTHON) -m venv $(NBGRADER_VENV)
	$(NBGRADER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements-nbgrader.txt
	touch $@

# An nbgrader course folder in build/course: one assignment per notebook with exercises.
course: setup $(NBGRADER_VENV)/.installed
	$(BIN)/python tools/grading.py build/course

test: setup lint book $(NBGRADER_VENV)/.installed
	WORKBOOK_SHARE_ADDRESS=127.0.0.1 WORKBOOK_PORT=$$($(BIN)/python -c 'from tests.scale_support import quiet_port; print(quiet_port())') \
	$(BIN)/python -m pytest tests notebooks --nbval --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider $(PYTEST_ARGS)

# Write the stage modules from the notebook cells marked `#| export MODULE` (nbdev's convention);
# tests/test_export.py fails when a module and its cells differ.
export: setup
	$(BIN)/python tools/export.py

# Re-execute every notebook top to bottom in a fresh kernel and store its outputs.
# Sharing cells share on loopback, so the stored outputs name no machine's address.
notebooks: setup
	WORKBOOK_SHARE_ADDRESS=127.0.0.1 $(BIN)/python tools/execute_notebooks.py notebooks/*.ipynb

# The student edition in student/: every solution between nbgrader's markers replaced by a stub.
student: setup
	$(BIN)/python tools/student_edition.py --out student

# PNG screenshots of the real pages and of JupyterLab running notebook 05, for the README.
screenshots: setup
	$(BIN)/python tools/screenshots.py --out docs/img

clean:
	rm -rf $(VENV) $(BOOK_VENV) $(R2D_VENV) $(NBGRADER_VENV) .pytest_cache .ruff_cache *.egg-info student build/book build/course book/_static/mermaid
