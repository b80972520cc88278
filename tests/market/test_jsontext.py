"""Malformed JSON from the network or a damaged file is one error type, whatever its shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market import jsontext
from market.node.datadir import ADDRESS_FILE, AGENT_ORDERS_FILE, PEERS_FILE, DataDir


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 50_000, "[" * 5000 + "]" * 5000])
def test_deep_nesting_is_a_value_error(text: str) -> None:
    try:
        value = jsontext.loads(text)
    except ValueError:
        return
    assert json.dumps(value)  # shallow enough to parse: then it parsed normally


@given(st.recursive(st.none() | st.integers() | st.text(), st.lists, max_leaves=20))
def test_what_json_parses_it_parses_alike(value: object) -> None:
    assert jsontext.loads(json.dumps(value)) == value


def test_damaged_data_dir_files_read_as_missing(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    for name in (ADDRESS_FILE, PEERS_FILE, AGENT_ORDERS_FILE):
        (tmp_path / name).write_text("[" * 100_000)
    assert data.address() is None
    assert data.peers() == []
    assert data.agent_orders() == {}
