"""The YAML examples of the user documentation are real.

Every ```yaml block of README.md and docs/dashboards.md parses; automations, scripts
and actions pass Home Assistant's own validation and call the integration's actions
with fields it knows; dashboards use core cards only and their templates render; and
every entity id the documents name (English, and French in the table of
docs/dashboards.md) is one the integration creates for a node named "Maison" in the
community "Rue des Lilas".
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest
import voluptuous as vol
import yaml
from conftest import T0, NodeDirs, TicLine, wait_until
from homeassistant.components.automation import config as automation_config
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.components.script import config as script_config
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import script
from homeassistant.helpers.template import Template
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy import household_services, services
from custom_components.p2p_energy.const import (
    CONF_IMPORT_POWER,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_SELL_SURPLUS,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    DOMAIN,
    METER_SOURCE_ENTITIES,
    METER_SOURCE_TIC,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/dashboards.md", "docs/integration.md")
FENCE = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)

# A Linky that produces: its exported energy and injected power exist too.
PRODUCER_CAPTURE = ROOT / "tests" / "market" / "data" / "tic" / "std_1p_prod_openhab_1.bin"

# The devices of the documented set-up: the node, its community, the Linky, and the
# "Grid meter" of a set-up with existing sensors.
OUR_ENTITY = re.compile(
    r"\b(?:sensor|binary_sensor|switch)\.(?:maison|rue_des_lilas|linky|grid_meter)_[a-z0-9_]+\b"
)
FRENCH_ROW = re.compile(r"^\| `([a-z_]+\.[a-z0-9_]+)` \| `([a-z_]+\.[a-z0-9_]+)` \|$", re.MULTILINE)

CORE_CARDS = frozenset({"entities", "history-graph", "statistics-graph", "tile", "markdown"})
EVENTS = frozenset(
    f"{DOMAIN}_{name}" for name in ("slot_cleared", "slot_disputed", "ev_schedule", "surplus")
)
SERVICE_SCHEMAS: dict[str, vol.Schema] = {
    services.SERVICE_PLACE_ORDER: services.PLACE_ORDER_SCHEMA,
    services.SERVICE_CANCEL_ORDER: services.CANCEL_ORDER_SCHEMA,
    services.SERVICE_CREATE_INVITE: services.CREATE_INVITE_SCHEMA,
    household_services.SERVICE_START_EV_SESSION: household_services.START_EV_SESSION_SCHEMA,
    household_services.SERVICE_STOP_EV_SESSION: household_services.STOP_EV_SESSION_SCHEMA,
    household_services.SERVICE_SET_LIMITS: household_services.SET_LIMITS_SCHEMA,
    services.SERVICE_LEAVE_COMMUNITY: services.ENTRY_SCHEMA,
    services.SERVICE_ROTATE_KEY: services.ENTRY_SCHEMA,
    services.SERVICE_VOTE_TO_REMOVE: services.VOTE_TO_REMOVE_SCHEMA,
    services.SERVICE_GET_STATEMENT: services.GET_STATEMENT_SCHEMA,
}
RAW_BLUEPRINTS = (
    "https://raw.githubusercontent.com/p2p-energy-market/p2p-energy-market/main/"
    "blueprints/automation/p2p_energy/"
)
# Where Home Assistant stores a blueprint imported from RAW_BLUEPRINTS.
IMPORTED_BLUEPRINTS = Path("blueprints", "automation", "p2p-energy-market")


@dataclass(frozen=True)
class Example:
    """A ```yaml block of a document."""

    doc: str
    line: int
    text: str

    @property
    def data(self) -> Any:
        return yaml.safe_load(self.text)

    @property
    def kind(self) -> str:
        return kind_of(self.data)


def kind_of(data: Any) -> str:
    """What a block documents; every block must be one of these."""
    assert isinstance(data, dict), f"a YAML example is a mapping, not {type(data).__name__}"
    if "views" in data:
        return "dashboard"
    if "triggers" in data or "use_blueprint" in data:
        return "automation"
    if "sequence" in data:
        return "script"
    if "action" in data:
        return "action"
    if set(data) in ({"order_ids"}, {"invite", "expires"}):
        return "response"
    if set(data) == {"logger"}:
        return "configuration"
    raise AssertionError(f"unrecognised YAML example with keys {sorted(data)}")


def _examples() -> list[Example]:
    found = []
    for doc in DOCS:
        path = ROOT / doc
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            found.append(Example(doc, text.count("\n", 0, match.start()) + 1, match.group(1)))
    return found


EXAMPLES = _examples()


def _of_kind(*kinds: str) -> list[Example]:
    return [example for example in EXAMPLES if example.kind in kinds]


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item)


def _mappings(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _mappings(value)
    elif isinstance(data, list):
        for item in data:
            yield from _mappings(item)


# ---------------------------------------------------------------- without Home Assistant


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: f"{example.doc}:{example.line}")
def test_every_yaml_example_parses(example: Example) -> None:
    assert example.kind


def test_the_documents_hold_the_examples() -> None:
    kinds = [(example.doc, example.kind) for example in EXAMPLES]
    assert kinds.count(("docs/dashboards.md", "dashboard")) == 2
    assert kinds.count(("README.md", "automation")) >= 8
    assert ("README.md", "script") in kinds
    assert ("README.md", "action") in kinds


def test_blueprint_import_links_name_the_repositorys_blueprints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(
        r"https://my\.home-assistant\.io/redirect/blueprint_import/\?[^)\s]+", readme
    )
    targets = {unquote(parse_qs(urlparse(link).query)["blueprint_url"][0]) for link in links}
    local = {path.name for path in (ROOT / "blueprints/automation/p2p_energy").glob("*.yaml")}
    assert targets == {RAW_BLUEPRINTS + name for name in local}


# ---------------------------------------------------------------- with Home Assistant


async def _set_up(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _ids(registry: er.EntityRegistry, entry: MockConfigEntry) -> dict[str, er.RegistryEntry]:
    return {e.entity_id: e for e in er.async_entries_for_config_entry(registry, entry.entry_id)}


async def _maison_with_linky(
    hass: HomeAssistant, node_dirs: NodeDirs, url: str
) -> tuple[MockConfigEntry, dict[str, er.RegistryEntry]]:
    """Maison's node with a producer's Linky, once its meter entities exist."""
    registry = er.async_get(hass)
    entry = node_dirs.entry(
        title="Maison",
        data={
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: url,
            CONF_TIC_MODE: "auto",
            CONF_METER_ADDRESS: "021861348497",
        },
    )
    await _set_up(hass, entry)
    # Meter sensors are created with the first frame that carries their label.
    await wait_until(
        hass,
        lambda: any(
            e.unique_id.endswith("_export_energy")
            for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        ),
    )
    return entry, _ids(registry, entry)


@pytest.fixture
async def producer_line(socket_enabled: None) -> Iterator[TicLine]:
    """A standard-mode Linky that injects (PV surplus), on socket://127.0.0.1:PORT."""
    line = TicLine(PRODUCER_CAPTURE.read_bytes())
    await line.start()
    yield line
    await line.stop()


async def test_entity_ids_in_the_documents_are_the_integrations(
    hass: HomeAssistant, node_dirs: NodeDirs, producer_line: TicLine
) -> None:
    """Every id the documents name exists, enabled by default, in English; the French
    table gives the ids the same entities get in a French Home Assistant."""
    texts = {doc: (ROOT / doc).read_text(encoding="utf-8") for doc in DOCS[:2]}
    french = dict(FRENCH_ROW.findall(texts["docs/dashboards.md"]))
    assert len(french) >= 20
    named = {entity_id for text in texts.values() for entity_id in OUR_ENTITY.findall(text)}

    registry = er.async_get(hass)
    maison, english_ids = await _maison_with_linky(hass, node_dirs, producer_line.url)
    # A household with its own grid sensors has a "Grid meter" device instead.
    hass.states.async_set("sensor.grid_in", "0", {"unit_of_measurement": "W"})
    neighbour = await _set_up(
        hass,
        node_dirs.entry(
            title="Voisin",
            data={CONF_METER_SOURCE: METER_SOURCE_ENTITIES, CONF_IMPORT_POWER: "sensor.grid_in"},
        ),
    )
    english = english_ids | {
        entity_id: entity
        for entity_id, entity in _ids(registry, neighbour).items()
        if entity.unique_id.endswith("_surplus_power")
    }
    unknown = named - set(english) - set(french.values())
    assert not unknown, f"ids the integration does not create: {sorted(unknown)}"
    disabled = sorted(i for i in named & set(english) if english[i].disabled_by is not None)
    assert not disabled, f"disabled by default: {disabled}"
    assert set(french) <= set(english)

    # The same node again, its entities created afresh in a French Home Assistant.
    await hass.config_entries.async_unload(neighbour.entry_id)
    await hass.config_entries.async_remove(maison.entry_id)  # and its entities
    # Newer HA gives a re-created entity the id it had before its removal; a fresh French
    # installation has no such memory.
    registry.deleted_entities.clear()
    hass.config.language = "fr"
    _, french_ids = await _maison_with_linky(hass, node_dirs, producer_line.url)
    by_unique_id = {entity.unique_id: entity_id for entity_id, entity in french_ids.items()}
    assert {
        english_id: by_unique_id[english[english_id].unique_id] for english_id in french
    } == french
    await hass.config_entries.async_unload(maison.entry_id)


def _check_our_actions(data: Any) -> None:
    """Calls of the integration's actions name an action it has and only its fields."""
    for mapping in _mappings(data):
        action = mapping.get("action")
        if not (isinstance(action, str) and action.startswith(f"{DOMAIN}.")):
            continue
        name = action.removeprefix(f"{DOMAIN}.")
        assert name in SERVICE_SCHEMAS, action
        fields = {str(key): key for key in SERVICE_SCHEMAS[name].schema}
        given = set(mapping.get("data", {}))
        assert given <= set(fields), f"{action}: unknown fields {given - set(fields)}"
        required = {name for name, key in fields.items() if isinstance(key, vol.Required)}
        assert required <= given, f"{action}: missing {required - given}"


def _check_our_events(data: Any) -> None:
    for mapping in _mappings(data):
        event_type = mapping.get("event_type")
        if isinstance(event_type, str) and event_type.startswith(DOMAIN):
            assert event_type in EVENTS, event_type


async def _check_templates(hass: HomeAssistant, data: Any, entry_id: str) -> None:
    """`config_entry_id('…')` finds the node; template triggers render."""
    for text in _strings(data):
        for entity_id in re.findall(r"config_entry_id\('([^']+)'\)", text):
            rendered = Template(f"{{{{ config_entry_id('{entity_id}') }}}}", hass).async_render()
            assert rendered == entry_id, entity_id
    for mapping in _mappings(data):
        if mapping.get("trigger") == "template":
            Template(mapping["value_template"], hass).async_render(strict=True)


@pytest.fixture
async def maison(hass: HomeAssistant, node_dirs: NodeDirs) -> MockConfigEntry:
    """Maison's node, trading only through the actions."""
    entry = await _set_up(hass, node_dirs.entry(options={CONF_SELL_SURPLUS: False}))
    # Imported blueprints, where Home Assistant puts them (for `use_blueprint`).
    imported = Path(hass.config.path(str(IMPORTED_BLUEPRINTS)))
    imported.mkdir(parents=True)
    for blueprint in (ROOT / "blueprints/automation/p2p_energy").glob("*.yaml"):
        shutil.copy(blueprint, imported)
    return entry


async def test_automations_scripts_and_actions_validate(
    hass: HomeAssistant, maison: MockConfigEntry
) -> None:
    examples = _of_kind("automation", "script", "action")
    for example in examples:
        data = example.data
        where = f"{example.doc}:{example.line}"
        if example.kind == "automation":
            validated = await automation_config.async_validate_config_item(hass, where, data)
            assert validated is not None, where
            assert validated.validation_status is automation_config.ValidationStatus.OK, where
        elif example.kind == "script":
            assert await script_config.async_validate_config_item(hass, "example", data), where
        else:
            await script.async_validate_actions_config(hass, [data])
        if "use_blueprint" in data:
            # Home Assistant ignores inputs a blueprint does not have: a typo would pass.
            used = data["use_blueprint"]
            blueprint = await async_get_blueprints(hass).async_get_blueprint(used["path"])
            assert set(used.get("input", {})) <= set(blueprint.inputs), where
        _check_our_actions(data)
        _check_our_events(data)
        await _check_templates(hass, data, maison.entry_id)
    await hass.config_entries.async_unload(maison.entry_id)


async def test_documented_responses_are_the_actions(
    hass: HomeAssistant, maison: MockConfigEntry
) -> None:
    slot = datetime.fromtimestamp(T0 + 3600, UTC).isoformat()
    responses = [
        await hass.services.async_call(
            DOMAIN,
            service,
            {"config_entry_id": maison.entry_id, **data},
            blocking=True,
            return_response=True,
        )
        for service, data in (
            ("place_order", {"side": "sell", "energy_kwh": 1, "price": 0.1, "slot": slot}),
            ("create_invite", {}),
        )
    ]
    actual = [set(response or {}) for response in responses]
    for example in _of_kind("response"):
        assert set(example.data) in actual, f"{example.doc}:{example.line}"
    await hass.config_entries.async_unload(maison.entry_id)


def _cards(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for view in dashboard["views"]:
        yield from view["cards"]


async def test_dashboards_use_core_cards_and_their_templates_render(
    hass: HomeAssistant, maison: MockConfigEntry
) -> None:
    """With an EV plan and an open order, so that every table renders rows."""
    node = maison.entry_id
    await hass.services.async_call(
        DOMAIN,
        "start_ev_session",
        {
            "config_entry_id": node,
            "energy_kwh": 10,
            "departure": datetime.fromtimestamp(T0 + 7200, UTC).isoformat(),
            "max_price": 0.15,
        },
        blocking=True,
    )
    await hass.services.async_call(
        DOMAIN,
        "place_order",
        {
            "config_entry_id": node,
            "side": "sell",
            "energy_kwh": 0.5,
            "price": 0.1,
            "slot": datetime.fromtimestamp(T0 + 3600, UTC).isoformat(),
        },
        blocking=True,
    )
    await hass.async_block_till_done()
    for example in _of_kind("dashboard"):
        where = f"{example.doc}:{example.line}"
        for card in _cards(example.data):
            assert card["type"] in CORE_CARDS, f"{where}: {card['type']}"
            rows = [card["entity"]] if "entity" in card else card.get("entities", [])
            for row in rows:
                entity_id = row if isinstance(row, str) else row.get("entity")
                if entity_id is not None:
                    assert OUR_ENTITY.fullmatch(entity_id), f"{where}: {entity_id}"
            if card["type"] == "markdown":
                rendered = Template(card["content"], hass).async_render(
                    parse_result=False, strict=True
                )
                # A markdown table needs its rows on consecutive lines.
                assert "|\n\n|" not in rendered, f"{where}: {rendered}"
    await hass.config_entries.async_unload(maison.entry_id)
