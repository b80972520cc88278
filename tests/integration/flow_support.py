"""What the config flow tests share: running a flow step with every message it shows
checked against the translations, and a real member node to join."""

from __future__ import annotations

import asyncio
import json
import socket
import string
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock, patch

import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.p2p_energy.const import CONF_NODE_NAME, DOMAIN
from market.ledger.community import Community
from market.ledger.kinds import AdmitBody, Kind
from market.node import Node, NodeConfig
from market.node.datadir import DataDir
from market.terms import CommunityTerms

INTEGRATION = Path(__file__).resolve().parents[2] / "custom_components" / "p2p_energy"
LANGUAGES = ("strings.json", "translations/en.json", "translations/fr.json")


def _translations() -> list[dict[str, Any]]:
    return [json.loads((INTEGRATION / name).read_text(encoding="utf-8")) for name in LANGUAGES]


TRANSLATIONS = _translations()


def assert_translated(result: ConfigFlowResult, section: str = "config") -> None:
    """Every error, abort reason, step and placeholder the user would see has a text in
    English and French, every field has a name and a description, and no text needs a
    placeholder the flow does not give."""
    for strings in TRANSLATIONS:
        texts = strings[section]
        placeholders = set(result.get("description_placeholders") or {})
        if result["type"] is FlowResultType.ABORT:
            assert result["reason"] in texts["abort"], result["reason"]
        if result["type"] in (FlowResultType.FORM, FlowResultType.MENU):
            step = texts["step"][result["step_id"]]
            for text in (step.get("title", ""), step.get("description", "")):
                _assert_placeholders(text, placeholders)
        if result["type"] is FlowResultType.MENU:
            step = texts["step"][result["step_id"]]
            options = result["menu_options"]
            assert isinstance(options, list)
            assert set(options) <= set(step["menu_options"])
        for field, error in (result.get("errors") or {}).items():
            assert error in texts["error"], f"{field}: {error}"
            _assert_placeholders(texts["error"][error], placeholders)
        schema = result.get("data_schema")
        if result["type"] is FlowResultType.FORM and schema is not None:
            step = texts["step"][result["step_id"]]
            for key in schema.schema:
                assert str(key) in step.get("data", {}), f"{result['step_id']}: {key}"
                description = step.get("data_description", {}).get(str(key))
                assert description, f"{result['step_id']}: {key} has no description"


def form_values(result: ConfigFlowResult, user_input: dict[str, Any] | None = None) -> Any:
    """What the form submits when the user only types `user_input`: its defaults."""
    schema = result["data_schema"]
    assert schema is not None
    return schema(user_input or {})


def schema_keys(result: ConfigFlowResult) -> list[Any]:
    """The form's fields (voluptuous markers)."""
    schema = result["data_schema"]
    assert schema is not None
    return list(schema.schema)


def field_selector(result: ConfigFlowResult, key: str) -> Any:
    """The selector of one of the form's fields."""
    schema = result["data_schema"]
    assert schema is not None
    return schema.schema[key]


def placeholders(result: ConfigFlowResult) -> dict[str, str]:
    """The placeholders the form's texts are filled with."""
    return dict(result.get("description_placeholders") or {})


def _assert_placeholders(text: str, given: set[str]) -> None:
    needed = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    assert needed <= given, f"{text!r} needs {needed - given}"


async def configure(
    hass: HomeAssistant, result: ConfigFlowResult, user_input: dict[str, Any] | None = None
) -> ConfigFlowResult:
    """Submit a step of a config flow, as the frontend does."""
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert_translated(result)
    return result


async def configure_options(
    hass: HomeAssistant, result: ConfigFlowResult, user_input: dict[str, Any] | None = None
) -> ConfigFlowResult:
    """Submit the options form."""
    result = await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    assert_translated(result, "options")
    return result


async def start_options(hass: HomeAssistant, entry_id: str) -> ConfigFlowResult:
    """Open the options of a config entry."""
    result = await hass.config_entries.options.async_init(entry_id)
    assert_translated(result, "options")
    return result


def assert_flow_title(hass: HomeAssistant, flow_id: str) -> dict[str, str]:
    """The placeholders of a discovered flow's title, checked against the translations."""
    (flow,) = [f for f in hass.config_entries.flow.async_progress() if f["flow_id"] == flow_id]
    title_placeholders = dict(flow["context"]["title_placeholders"])
    for strings in TRANSLATIONS:
        _assert_placeholders(strings["config"]["flow_title"], set(title_placeholders))
    return title_placeholders


async def start(
    hass: HomeAssistant, source: str = SOURCE_USER, data: Any = None
) -> ConfigFlowResult:
    """Start a config flow."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": source}, data=data
    )
    assert_translated(result)
    return result


async def to_community_menu(hass: HomeAssistant, name: str = "Maison") -> ConfigFlowResult:
    """Name the node; the flow then asks to create or join a community."""
    result = await start(hass)
    result = await configure(hass, result, {CONF_NODE_NAME: name})
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "community"
    return result


@pytest.fixture(name="flow_env")
async def flow_env_fixture(
    hass: HomeAssistant, tmp_path: Path, mock_async_zeroconf: MagicMock
) -> AsyncIterator[AsyncMock]:
    """Home Assistant's configuration folder in a temporary directory (nodes keep their
    files there), zeroconf without multicast, and entries that do not start a node: these
    tests are about the flow; test_init.py starts nodes. Yields the set-up mock."""
    hass.config.config_dir = str(tmp_path / "config")
    with (
        patch("custom_components.p2p_energy.async_setup_entry", return_value=True) as setup_entry,
        patch("custom_components.p2p_energy.async_unload_entry", return_value=True),
    ):
        yield setup_entry
        # Unloaded while set-up and unload are still mocks: newer test plugins unload
        # every entry when `hass` ends, which would run the real unload on entries that
        # never started a node.
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)


def nodes_dir(hass: HomeAssistant) -> Path:
    """Where the nodes of this Home Assistant keep their files."""
    return Path(hass.config.path(".storage", DOMAIN))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Member:
    """A real member's node of a real community, serving gossip and redeem on loopback."""

    node: Node

    @property
    def community(self) -> Community:
        return self.node.community

    @property
    def host_port(self) -> tuple[str, int]:
        assert self.node.port is not None
        return "127.0.0.1", self.node.port

    async def admitted(self) -> list[bytes]:
        """Keys admitted into the community, as this member's ledger holds them."""
        entries = await self.node.ledger.entries(kind=Kind.ADMIT)
        return [AdmitBody.decode(entry.body).member for entry in entries]


def _make_member_dir(path: Path, name: str, terms: CommunityTerms) -> None:
    data = DataDir(path)
    community = Community.create(name, now_ms(), [data.identity().public_key], terms)
    data.save_community(community)


async def start_member(
    path: Path, name: str = "Rue des Lilas", terms: CommunityTerms | None = None
) -> Member:
    """The only genesis member of a new community, listening on 127.0.0.1."""
    await asyncio.to_thread(_make_member_dir, path, name, terms or CommunityTerms())
    node = await Node.open(NodeConfig(data_dir=path, host="127.0.0.1", port=0))
    await node.start()
    return Member(node)
