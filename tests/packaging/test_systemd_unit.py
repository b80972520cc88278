"""The systemd unit shipped in packaging/systemd runs the headless node as a service.

systemd is not PID 1 on the test machines, so the unit cannot be started for real:
`systemd-analyze` checks it, and its ExecStart line, expanded the way systemd expands
it with the shipped environment file, runs the installed `p2p-energy` command as a real
process that serves, admits a neighbour and stops on SIGTERM as systemd stops it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from market.cli import build_parser
from tests.packaging.wheel_venv import Installed, clean_env

pytestmark = pytest.mark.e2e

UNITS = Path(__file__).resolve().parents[2] / "packaging" / "systemd"
UNIT = UNITS / "p2p-energy-node.service"
ENV_FILE = UNITS / "p2p-energy-node.env"
INSTALLED_SCRIPT = "/usr/local/bin/p2p-energy"
# What systemd gives a system service (it does not pass on the manager's environment).
SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
# CI installs systemd (.ci/run), so there a missing systemd-analyze fails the test.
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None and not os.environ.get("CI"),
    reason="systemd-analyze is not installed (apt install systemd)",
)


def _unit_settings(text: str) -> dict[str, list[str]]:
    """`Section.Key` -> every value it is given (DeviceAllow= and others repeat)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def _env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines, comments and quotes as systemd's EnvironmentFile= reads them."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            env[key.strip()] = " ".join(shlex.split(value))
    return env


def _exec_start(line: str, env: Mapping[str, str]) -> list[str]:
    """ExecStart= as systemd expands it: `${VAR}` stays one argument (empty if unset),
    a word that is exactly `$VAR` becomes the value split at whitespace."""
    argv: list[str] = []
    for word in shlex.split(line):
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:
            argv.extend(env.get(whole[1], "").split())
        else:
            argv.append(
                re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m[1], ""), word)
            )
    return argv


def _seconds(value: str) -> float:
    """A systemd time span such as `30s` or `1min`."""
    match = re.fullmatch(r"([0-9.]+)\s*(ms|s|min)?", value)
    assert match, value
    return float(match[1]) * {"ms": 0.001, "s": 1.0, "min": 60.0, None: 1.0}[match[2]]


SETTINGS = _unit_settings(UNIT.read_text())


def _one(key: str) -> str:
    (value,) = SETTINGS[key]
    return value


def _loopback() -> str:
    """Options keeping a test node on loopback (on a free port), out of the LAN's sight."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    return f"--no-zeroconf --listen 127.0.0.1:{port}"


class Service:
    """The unit's main process, started as systemd would start it."""

    def __init__(self, installed: Installed, state_dir: Path, options: str) -> None:
        self.state_dir = state_dir
        self.log_path = state_dir.with_suffix(".journal")
        env = {
            **_env_file(ENV_FILE.read_text()),
            "P2P_ENERGY_OPTIONS": options,
            "PATH": SERVICE_PATH,
            "STATE_DIRECTORY": str(state_dir),  # set by systemd for StateDirectory=
        }
        argv = _exec_start(_one("Service.ExecStart"), env)
        assert argv[0] == INSTALLED_SCRIPT
        argv[0] = str(installed.script)
        state_dir.mkdir(mode=0o700, exist_ok=True)
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd="/"
            )

    def journal(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, text: str, limit_s: float = 30) -> None:
        deadline = time.monotonic() + limit_s
        while text not in self.journal():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in the service's log:\n{self.journal()}")
            time.sleep(0.1)

    def stop(self) -> tuple[int, float]:
        """SIGTERM, as `systemctl stop` sends it; (exit code, seconds taken)."""
        assert _one("Service.KillSignal") == "SIGTERM"
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=_seconds(_one("Service.TimeoutStopSec")))
        return code, time.monotonic() - start


@contextmanager
def service(installed: Installed, state_dir: Path, options: str) -> Iterator[Service]:
    started = Service(installed, state_dir, options)
    try:
        yield started
    finally:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait()


def test_the_unit_restarts_on_failure_with_its_own_user_state_dir_and_serial_access() -> None:
    assert SETTINGS["Unit.After"] == ["network-online.target"]
    assert SETTINGS["Unit.Wants"] == ["network-online.target"]
    assert _one("Service.User") == "p2p-energy"
    assert _one("Service.StateDirectory") == "p2p-energy"
    assert "--data-dir ${STATE_DIRECTORY}" in _one("Service.ExecStart")
    assert _one("Service.Restart") == "on-failure"
    assert _one("Service.SupplementaryGroups") == "dialout"
    assert "char-ttyUSB rw" in SETTINGS["Service.DeviceAllow"]
    assert _one("Service.NoNewPrivileges") == "yes"
    assert _one("Service.ProtectSystem") == "strict"
    assert _one("Install.WantedBy") == "multi-user.target"


def test_the_environment_file_holds_options_the_node_accepts() -> None:
    env = {**_env_file(ENV_FILE.read_text()), "STATE_DIRECTORY": "/var/lib/p2p-energy"}
    args = build_parser().parse_args(_exec_start(_one("Service.ExecStart"), env)[1:])
    assert args.data_dir == Path("/var/lib/p2p-energy")
    assert args.meter == "tic:/dev/ttyUSB0"
    assert args.name == env["P2P_ENERGY_NAME"]
    # ${P2P_ENERGY_NAME} stays one argument: a name may hold spaces, as the README's does.
    env["P2P_ENERGY_NAME"] = "12 rue des Lilas"
    args = build_parser().parse_args(_exec_start(_one("Service.ExecStart"), env)[1:])
    assert args.name == "12 rue des Lilas"


@needs_systemd_analyze
def test_systemd_accepts_the_unit_and_rates_its_sandbox_ok(
    installed: Installed, tmp_path: Path
) -> None:
    assert SYSTEMD_ANALYZE is not None
    # verify also checks that ExecStart's command exists: point it at the installed one.
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED_SCRIPT, str(installed.script)))
    verify = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
    # Exposure on systemd's 0-100 scale; 20 ("2.0") is the top of its "OK" band.
    security = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", "--threshold=20", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert security.returncode == 0, security.stdout


def test_the_service_serves_admits_a_neighbour_and_stops_cleanly_on_sigterm(
    installed: Installed, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    with service(installed, first, f"--create Rue-des-Tests {_loopback()}") as node:
        node.wait_for("node running")

        # The README's way to invite a neighbour, run next to the service.
        invite = subprocess.run(
            [str(installed.script), "invite", "--data-dir", str(first)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env=clean_env(),
        ).stdout.strip()
        assert invite.startswith("p2pe1-")

        second = tmp_path / "second"
        with service(installed, second, f"--join {invite} {_loopback()}") as neighbour:
            neighbour.wait_for("node running")
            assert "joined community 'Rue-des-Tests'" in neighbour.journal()
            node.wait_for("admitted")
            assert neighbour.stop()[0] == 0

        code, stop_s = node.stop()
        assert code == 0, node.journal()
        assert stop_s < _seconds(_one("Service.TimeoutStopSec"))
        assert "stopped cleanly" in node.journal()

    # Restarted with the set-up option still in the environment file: it keeps its
    # community and says why it ignored the option.
    with service(installed, first, f"--create Rue-des-Tests {_loopback()}") as node:
        node.wait_for("node running")
        assert "--create/--join ignored" in node.journal()
        assert node.stop()[0] == 0


def test_a_set_up_error_exits_with_the_status_systemd_does_not_restart(
    installed: Installed, tmp_path: Path
) -> None:
    with service(installed, tmp_path / "empty", _loopback()) as node:
        code = node.process.wait(timeout=30)
    assert str(code) == _one("Service.RestartPreventExitStatus")
    assert "holds no community" in node.journal()
