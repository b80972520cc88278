# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both bootstrap .venv (Python 3.13, pinned dependencies) through scripts/bootstrap;
# `make test` also bootstraps .venv-py311 (Python 3.11, the engine's second leg).

VENV := .venv
PY := $(VENV)/bin/python
VENV311 := .venv-py311
PY311 := $(VENV311)/bin/python
PYTEST_FLAGS ?=

.PHONY: venv venv-py311 test lint typecheck pytest pytest-py311 bench release brand demo clean test-ha-latest

venv:
	@scripts/bootstrap

venv-py311:
	@scripts/bootstrap 3.11

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy --strict market custom_components scripts/demo scripts/refresh_ha_pins.py scripts/check_coverage.py
	@# The engine also runs on Python 3.11 (Raspberry Pi OS 12): no 3.12+ API in market/.
	$(VENV)/bin/mypy --strict --python-version 3.11 market

# The engine's tests run without Home Assistant's test plugin (it installs autouse
# fixtures and socket guards meant for HA tests); the integration's tests run with it.
# The engine's leg includes the fault suite (tests/faults: node processes in network
# namespaces, on a tmpfs; root runs all of it, see docs/testing.md).
# Coverage of both runs is combined into one report.
pytest: venv
	rm -f .coverage .coverage.*
	$(PY) -m pytest -p no:homeassistant --cov --cov-report= tests/market tests/e2e tests/faults $(PYTEST_FLAGS)
	$(PY) -m pytest --cov --cov-append --cov-report= tests/integration $(PYTEST_FLAGS)
	$(PY) -m coverage report
	@# Every integration module at 95 % or more, the config flow at 100 % (issues 7, 12)
	$(PY) scripts/check_coverage.py

# The engine on Python 3.11, the Python of Raspberry Pi OS 12 where the headless node
# runs: its tests, the headless node end to end, and the engine installed from its wheel
# (console script, systemd unit). No Home Assistant in this venv.
pytest-py311: venv-py311
	$(PY311) -m pytest tests/market tests/e2e/test_headless_node.py tests/packaging $(PYTEST_FLAGS)

test: lint typecheck pytest pytest-py311

# The second leg: the integration, e2e and engine tests on the newest Home Assistant, in a
# Debian testing chroot with Python 3.14 (needs root; cached under .cache/ha-latest, see
# docs/testing.md). PYTEST_ARGS=... runs just those pytest arguments there instead.
test-ha-latest:
	scripts/ha-latest/run $(PYTEST_ARGS)

bench: venv
	$(PY) benchmarks/run.py

brand: venv
	$(PY) scripts/draw_brand.py

release: venv
	$(PY) scripts/build_release.py --out dist/p2p_energy.zip

# A neighbourhood of DEMO_HOUSEHOLDS (12) headless nodes and one real Home Assistant
# household on an accelerated clock (DEMO_SPEED, 120x). Ctrl-C stops it; DEMO_HOURS=N
# ends it after N hours of market time and prints the report.
demo: venv
	$(PY) -m scripts.demo

clean:
	rm -rf dist build .mypy_cache .ruff_cache .pytest_cache .coverage .coverage.*
