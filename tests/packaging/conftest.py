"""Fixtures of the packaging tests."""

from __future__ import annotations

import pytest

from tests.packaging.wheel_venv import WHEELHOUSE, Installed, build_and_install


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The engine's wheel, built once per run and installed into a fresh venv."""
    if not WHEELHOUSE.is_dir():
        pytest.skip(f"no wheelhouse at {WHEELHOUSE}: run through `make pytest-py311`")
    return build_and_install(tmp_path_factory.mktemp("packaging"))
