"""The headless node's control API (`--control-socket`): a host places, cancels and
reads orders, outcomes and status over a Unix socket; bad requests get a reason."""

from __future__ import annotations

import asyncio
import json
import shutil
import stat
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from market.model import Side
from market.node.clock import ManualClock
from market.node.control import ControlApi, ControlClient, ControlError
from tests.market.node_harness import T0, Household, run_slot, start_neighbourhood, wait_until

Control = tuple[ControlClient, Path, ManualClock]


@pytest.fixture
async def control(tmp_path: Path, running: list[Household]) -> AsyncIterator[Control]:
    """The first of two nodes, behind its control socket (in a short path: a Unix
    socket's path has about 107 bytes)."""
    clock, _dirs, _community = await start_neighbourhood(tmp_path, running, 2)
    folder = Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp"))
    path = folder / "control.sock"
    api = ControlApi(running[0].node)
    await api.start(path)
    client = ControlClient(path)
    try:
        yield client, path, clock
    finally:
        await client.close()
        await api.stop()
        shutil.rmtree(folder)


async def test_orders_placed_through_the_socket_trade_and_show_in_book_and_outcome(
    control: Control, running: list[Household]
) -> None:
    client, path, clock = control
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # only the node's user
    slot = T0 + 1800
    ask = await client.place_order("sell", 500, 800, slot)
    await running[1].node.place_order(Side.BUY, 500, 1800, slot)
    book = await client.book(slot)
    assert [(o["order_id"], o["side"], o["source"]) for o in book if o["own"]] == [
        (ask, "sell", "api")
    ]
    held = await client.held(ask)
    assert (held["energy_wh"], held["price"], held["slot"]) == (500, 800, slot)

    await run_slot(clock, running, slot)
    outcome = {o["slot"]: o for o in await client.outcomes()}[slot]
    assert outcome["state"] == "final"
    assert outcome["result"]["volume_wh"] == 500
    assert outcome["result_hash"] is not None

    status = await client.status()
    assert status["node_id"] == running[0].node.identity.public_key.hex()
    heads = await client.heads()
    frontier = await running[0].node.ledger.frontier()
    assert heads == {a.hex(): [seq, h.hex()] for a, (seq, h) in frontier.items()}


async def test_a_script_reads_the_communitys_surplus(
    control: Control, running: list[Household]
) -> None:
    client, _path, _clock = control
    await running[1].node.place_order(Side.SELL, 1200, 500, T0 + 900)
    await wait_until(lambda: running[0].node.surplus_forecast(count=1)[0].total_sell_wh > 0)
    [first, second] = await client.surplus(2)
    assert first == {
        "slot": T0 + 900,
        "unmatched_sell_wh": 1200,
        "total_sell_wh": 1200,
        "total_buy_wh": 0,
        "price": None,
    }
    assert second["slot"] == T0 + 1800
    with pytest.raises(ControlError) as err:
        await client.request("GET", "/surplus?count=many")
    assert (err.value.status, err.value.reason) == (400, "malformed")


async def test_refusals_carry_the_nodes_reason_and_bad_requests_a_4xx(
    control: Control,
) -> None:
    client, _path, _clock = control
    with pytest.raises(ControlError) as err:
        await client.place_order("sell", 500, 800, T0)  # its gate has closed
    assert (err.value.status, err.value.reason) == (409, "gate_closed")
    with pytest.raises(ControlError) as err:
        await client.place_order("sell", 5.5, 800, T0 + 1800)  # type: ignore[arg-type]
    assert (err.value.status, err.value.reason) == (409, "not_integer")
    order_id = await client.place_order("buy", 100, 900, T0 + 1800)
    await client.request("DELETE", f"/orders/{order_id}")
    with pytest.raises(ControlError) as err:
        await client.request("DELETE", "/orders/" + "0" * 64)
    assert (err.value.status, err.value.reason) == (409, "unknown_order")
    with pytest.raises(ControlError) as err:
        await client.held("0" * 64)
    assert err.value.status == 404
    bad_bodies: list[object] = [
        [1, 2],
        {"side": "up", "energy_wh": 1, "price": 1, "slot": T0 + 1800},
        {"side": "buy", "price": 1, "slot": T0 + 1800},
        {"side": "buy", "energy_wh": 1, "price": 1, "slot": T0 + 1800, "owner": "x"},
    ]
    for body in bad_bodies:
        with pytest.raises(ControlError) as err:
            await client.request("POST", "/orders", body)
        assert (err.value.status, err.value.reason) == (400, "malformed"), body
    with pytest.raises(ControlError) as err:
        await client.request("GET", "/slots/soon/book")
    assert err.value.status == 400


async def test_a_deeply_nested_body_is_refused_not_a_server_error(
    control: Control,
) -> None:
    client, _path, _clock = control
    session = client._session
    async with session.post("http://node/v1/orders", data="[" * 3000) as response:
        assert response.status == 400
        assert (await response.json())["reason"] == "malformed"


async def test_a_shell_can_leave_or_vote_through_the_socket(
    control: Control, running: list[Household]
) -> None:
    # `python -m market control` is how a headless household leaves, rotates its key
    # or votes to remove a member (Home Assistant has actions for the same).
    _client, path, _clock = control
    other = running[1].node.identity.public_key.hex()

    async def shell(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "market",
            "control",
            "--socket",
            str(path),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        return process.returncode or 0, out.decode(), err.decode()

    code, out, _err = await shell("status")
    assert code == 0 and json.loads(out)["is_member"] is True
    code, out, _err = await shell("surplus", "--count", "2")
    assert code == 0 and [slot["slot"] for slot in json.loads(out)] == [T0 + 900, T0 + 1800]
    code, out, _err = await shell("remove", "zz")
    assert code == 1 and "malformed" in _err
    code, out, _err = await shell("remove", other)
    assert code == 0 and json.loads(out) == {"voted": other}
    code, out, _err = await shell("leave", "--confirm-timeout", "5")
    assert code == 0
    assert json.loads(out) == {"left": True, "confirmed_by_a_peer": True}
    assert running[0].node.status().is_member is False
    code, _out, err = await shell("rotate-key")
    assert code == 1 and "revoked" in err  # a key that left hands nothing on
