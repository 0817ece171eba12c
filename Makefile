# Two commands set everything up on a fresh Debian/Ubuntu machine with Python 3.11+:
#   make demo   - scan the bundled example list against the bundled local nameserver
#   make test   - install what the tests need, then run ruff, mypy and the whole test suite
PY ?= python3
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test lint typecheck pytest system-deps bench-quick bench bench-resume bench-scenario bench-network fuzz clean

$(UV):
	$(PY) -m venv .tools
	.tools/bin/pip install -q "uv>=0.5,<1"

$(VENV)/.synced: pyproject.toml uv.lock setup.py src/sovmap/collect/_fastdns.c | $(UV)
	$(UV) sync --frozen --all-extras --python $(PY) --reinstall-package sovmap
	touch $@

demo: $(VENV)/.synced
	$(VENV)/bin/sovmap demo --out out/demo

system-deps:
	bash scripts/install-system-deps.sh

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(VENV)/.synced
	$(VENV)/bin/mypy

pytest: $(VENV)/.synced
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

test: system-deps lint typecheck pytest

bench-quick: $(VENV)/.synced system-deps
	$(VENV)/bin/python bench/scan_bench.py --quick

bench: $(VENV)/.synced system-deps
	$(VENV)/bin/python bench/scan_bench.py

bench-resume: $(VENV)/.synced system-deps
	$(VENV)/bin/python bench/resume_bench.py

bench-scenario: $(VENV)/.synced
	$(VENV)/bin/python bench/scenario_bench.py

# sovmap behind three simulated resolvers (50 ms +- 20 ms, 2% loss, 2,000 q/s each), about 4 min
bench-network: $(VENV)/.synced system-deps
	$(VENV)/bin/python bench/network_bench.py

# no per-test time limit here: one fuzz test runs thousands of inputs (the CLI ones a scan each)
fuzz: $(VENV)/.synced
	SOVMAP_FUZZ_EXAMPLES=$${SOVMAP_FUZZ_EXAMPLES:-20000} $(VENV)/bin/pytest -q -p no:randomly \
		-o timeout=0 tests/test_readers.py tests/test_hostile_cli.py \
		tests/orgs/test_hostile_orgs_sources.py tests/knowledge/test_hostile_knowledge.py \
		tests/register/test_roi_package_hostile.py -k fuzz --hypothesis-show-statistics

clean:
	rm -rf $(VENV) .tools out .pytest_cache .mypy_cache .ruff_cache
