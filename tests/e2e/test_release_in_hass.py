"""The release zip, unpacked as HACS would, loads in a real Home Assistant process."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hass_process import free_port, running_hass
from tic_line_thread import tic_line

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "build_release.py"


def _source_files(base: Path) -> set[str]:
    return {
        p.relative_to(base).as_posix()
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module", name="release_zip")
def release_zip_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "p2p_energy.zip"
    subprocess.run([sys.executable, str(BUILD), "--out", str(out)], check=True)
    return out


def test_zip_holds_the_integration_and_the_engine(release_zip: Path) -> None:
    """Every file of the integration and of the engine is in the zip, nothing else."""
    expected = _source_files(ROOT / "custom_components" / "p2p_energy") | {
        f"market/{name}" for name in _source_files(ROOT / "market")
    }
    with zipfile.ZipFile(release_zip) as zf:
        names = set(zf.namelist())
        assert names == expected
        assert "manifest.json" in names
        assert "market/py.typed" in names
        init = zf.read("__init__.py").decode()
    # The bundled copy is imported, never a top-level `market` the user may lack.
    assert not re.search(r"^\s*(from|import) market\b", init, re.MULTILINE)
    assert "from .market" in init


def test_release_loads_in_home_assistant(release_zip: Path, tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    target = config_dir / "custom_components" / "p2p_energy"
    target.mkdir(parents=True)
    with zipfile.ZipFile(release_zip) as zf:
        zf.extractall(target)

    # Without --skip-pip, as households run it: hass checks the manifest's requirements
    # against what it runs with (a conflict made *Add integration* answer HTTP 500).
    with tic_line() as dongle_url, running_hass(config_dir, skip_pip=False) as hass:
        hass.onboard()
        flow = hass.request("POST", "/api/config/config_entries/flow", {"handler": "p2p_energy"})
        assert flow["type"] == "form", flow
        assert flow["step_id"] == "user"
        assert [field["name"] for field in flow["data_schema"]] == ["node_name"]

        step = f"/api/config/config_entries/flow/{flow['flow_id']}"
        menu = hass.request("POST", step, {"node_name": "Maison"})
        assert menu["type"] == "menu", menu
        create = hass.request("POST", step, {"next_step_id": "create"})
        assert create["step_id"] == "create", create
        meter = hass.request(
            "POST",
            step,
            {
                "community_name": "Rue des Lilas",
                "slot_minutes": "15",
                "floor_price": 0.04,
                "ceiling_price": 0.1952,
                "port": free_port(),
            },
        )
        assert meter["type"] == "menu", meter
        tic = hass.request("POST", step, {"next_step_id": "tic"})
        assert tic["step_id"] == "tic", tic
        manual = hass.request("POST", step, {"serial_port": "manual", "tic_mode": "auto"})
        assert manual["step_id"] == "tic_manual", manual
        # The flow reads a frame through the real serial path before it accepts.
        done = hass.request("POST", step, {"manual_path": dongle_url, "tic_mode": "auto"})
        assert done["type"] == "create_entry", done

        entries = hass.request("GET", "/api/config/config_entries/entry?domain=p2p_energy")
        title = "Rue des Lilas \u2013 Maison"  # community, en dash, node
        assert [(e["title"], e["state"]) for e in entries] == [(title, "loaded")]
        energy = hass.wait_for_state("sensor.linky_energy_imported")
        assert energy["state"] == "11887.649", energy  # EAST of the capture, in kWh
        log = hass.log_text
        problems = hass.problems_of("p2p_energy", "market", levels=("WARNING", "ERROR", "CRITICAL"))

    assert "custom integration p2p_energy" in log  # HA did find our integration
    assert "Integration 'p2p_energy' not found" not in log
    # No warning about us (deprecations HA reports, requirements, set-up) but the one
    # HA logs for every custom integration.
    untested = "We found a custom integration p2p_energy which has not been tested"
    problems = [p for p in problems if untested not in p.split("\n", 1)[0]]
    assert problems == [], "\n\n".join(problems)
