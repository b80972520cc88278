"""The simulator and the `python -m market tic` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from market.cli import main
from market.meter.decoder import TicDecoder
from market.meter.errors import InvalidModeError
from market.meter.frame import Mode, parse_mode
from market.meter.simulator import MeterSimulator, SimulatorConfig
from market.meter.state import MeterTracker

DATA = Path(__file__).parent / "data" / "tic"
NOON_SUMMER = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)  # 12:00 in Paris
NIGHT = datetime(2026, 6, 21, 0, 0, tzinfo=UTC)


def run(config: SimulatorConfig, start: datetime, frames: int) -> tuple[MeterTracker, TicDecoder]:
    simulator = MeterSimulator(config, start)
    decoder = TicDecoder()
    tracker = MeterTracker()
    for _ in range(frames):
        for frame in decoder.feed(simulator.step(simulator.period_s)):
            tracker.update(frame)
    return tracker, decoder


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("phases", [1, 3])
def test_simulated_frames_are_valid_in_every_mode(mode: Mode, phases: int) -> None:
    tracker, decoder = run(SimulatorConfig(mode=mode, phases=phases), NIGHT, 50)
    assert decoder.stats.frames == 50
    assert decoder.stats.datasets_bad_total == 0
    assert tracker.state is not None
    assert tracker.state.mode is mode
    assert tracker.state.phases == phases


def test_consumption_indexes_grow_with_power() -> None:
    simulator = MeterSimulator(SimulatorConfig(mode=Mode.STANDARD), NIGHT)
    before = simulator.import_wh
    energy_wms = 0
    for _ in range(4000):  # one hour at 0.9 s a frame
        simulator.step(0.9)
        energy_wms += simulator.import_va * 900
    assert simulator.import_wh - before == energy_wms // 3_600_000
    assert 200 < simulator.import_wh - before < 1000  # a night-time household


def test_producer_injects_at_noon_and_not_at_night() -> None:
    config = SimulatorConfig(mode=Mode.STANDARD, producer=True, pv_peak_w=6000)
    noon, _ = run(config, NOON_SUMMER, 100)
    night, _ = run(config, NIGHT, 100)
    assert noon.state is not None and night.state is not None
    assert noon.state.producer and noon.state.status is not None and noon.state.status.producer
    assert (noon.state.injected_power_va or 0) > 1000
    assert noon.state.export_wh is not None and noon.state.export_wh > 2_345_678
    assert night.state.injected_power_va == 0
    assert night.state.export_wh == 2_345_678


def test_simulated_horodates_carry_the_summer_flag() -> None:
    simulator = MeterSimulator(SimulatorConfig(mode=Mode.STANDARD), NOON_SUMMER)
    (frame,) = TicDecoder().feed(simulator.step(0.9))
    date = frame.datasets["DATE"].horodate
    assert date is not None
    assert date.raw == "E260621120000"  # 12:00:00.9 local, summer time
    assert date.at.astimezone(UTC) == NOON_SUMMER


def test_simulator_rejects_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        MeterSimulator(SimulatorConfig(), datetime(2026, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize("path", sorted(DATA.glob("*.bin")), ids=lambda p: p.name)
def test_decode_command_prints_one_json_object_per_frame(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tic", "decode", str(path)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    frames = TicDecoder().feed(path.read_bytes())
    assert [json.loads(line) for line in lines] == [f.to_json_obj() for f in frames]
    stats_line = err.strip().splitlines()[-1]
    expected_bad = 12 if "noisy" in path.name else 0
    assert stats_line.startswith(f"frames={len(frames)} ")
    assert stats_line.endswith(f" datasets_bad={expected_bad}")


def test_decode_command_reports_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tic", "decode", "/nonexistent/capture.bin"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_simulate_command_writes_decodable_frames_to_stdout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "market", "tic", "simulate", "--mode", "historic", "--frames",
         "3", "--period", "0"],
        capture_output=True,
        check=True,
        timeout=30,
    )  # fmt: skip
    frames = TicDecoder().feed(result.stdout)
    # The first frame is whole too: a reader that starts with the simulator sees it.
    assert len(frames) == 3
    assert {f.mode for f in frames} == {Mode.HISTORIC}


@pytest.mark.parametrize("target", [["--tcp", "0"], ["--pty"]])
def test_read_command_reads_a_simulated_meter(
    target: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    simulate = subprocess.Popen(
        [sys.executable, "-m", "market", "tic", "simulate", "--mode", "standard",
         "--period", "0.05", *target],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert simulate.stdout is not None
        port = simulate.stdout.readline().strip()
        assert port.startswith(("socket://127.0.0.1:", "/dev/"))
        assert main(["tic", "read", port, "--baudrate", "9600", "--frames", "2"]) == 0
    finally:
        simulate.terminate()
        simulate.wait(10)
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2
    assert all(line["mode"] == "standard" for line in lines)
    assert "connected" in err


def test_command_line_rejects_bad_settings(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["tic", "decode", "x.bin", "--mode", "fast"],
        ["tic", "read", "/dev/ttyUSB0", "--baudrate", "4800"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid TIC mode 'fast'" in err
    assert "invalid baud rate '4800'" in err
    assert main(["tic", "read", "ttyUSB0"]) == 2
    assert "invalid serial port 'ttyUSB0'" in capsys.readouterr().err


def test_parse_mode() -> None:
    assert parse_mode("auto") is None
    assert parse_mode(None) is None
    assert parse_mode("historic") is Mode.HISTORIC
    assert parse_mode(Mode.STANDARD) is Mode.STANDARD
    with pytest.raises(InvalidModeError) as err:
        parse_mode("STANDARD")
    assert err.value.mode == "STANDARD"


def test_a_load_the_profile_does_not_model_is_counted_on_the_import_index() -> None:
    """The demo's EV charger: while it draws, the Linky's import index counts it."""
    start = datetime(2026, 1, 15, 23, 0, tzinfo=UTC)  # night: no PV, the base load only
    quiet = MeterSimulator(SimulatorConfig(seed=3), start)
    charging = MeterSimulator(SimulatorConfig(seed=3), start)
    charging.extra_load_w = 7400
    for _ in range(360):  # an hour in 10 s steps
        quiet.step(10)
        charging.step(10)
    assert charging.import_wh - quiet.import_wh == 7400
