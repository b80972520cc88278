"""services.yaml is what the action editor shows: every selector must be valid."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from homeassistant.helpers import selector

SERVICES = Path(__file__).resolve().parents[2] / "custom_components/p2p_energy/services.yaml"


def _fields() -> list[tuple[str, str, dict[str, object]]]:
    services = yaml.safe_load(SERVICES.read_text())
    return [
        (service, name, field["selector"])
        for service, spec in services.items()
        for name, field in (spec.get("fields") or {}).items()
        if "selector" in field
    ]


@pytest.mark.parametrize(("service", "field", "config"), _fields())
def test_every_selector_is_accepted_by_home_assistant(
    service: str, field: str, config: dict[str, object]
) -> None:
    selector.validate_selector(config)
