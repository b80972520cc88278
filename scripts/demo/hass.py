"""A real Home Assistant process on a loopback port (end-to-end tests and the demo).

Starts `hass` from this virtualenv on a fresh config directory, creates the owner
account through the onboarding API (as the frontend does) and hands out an access
token for the REST and websocket APIs. The process is always stopped at the end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HASS = Path(sys.executable).with_name("hass")
_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0

# The household's Home Assistant: Lyon, metric, euros. {name} and {host} are filled
# in by whoever uses it; {port} by running_hass.
CORE_CONFIG = """\
homeassistant:
  name: {name}
  latitude: 45.76
  longitude: 4.84
  elevation: 170
  unit_system: metric
  time_zone: Europe/Paris
  currency: EUR
  country: FR
  language: en
http:
  server_host: {host}
  server_port: {port}
config:
onboarding:
"""

BASE_CONFIG = (
    CORE_CONFIG.replace("{name}", "P2P energy e2e").replace("{host}", "127.0.0.1")
    + "logger:\n  default: info\n"
)


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class HassProcess:
    """A running Home Assistant and the means to talk to it."""

    config_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_text(self) -> str:
        log = self.config_dir / "home-assistant.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def log_records(self) -> list[str]:
        """The log split into records (a record's traceback stays with it)."""
        records: list[str] = []
        for line in self.log_text.splitlines():
            if _RECORD_START.match(line) or not records:
                records.append(line)
            else:
                records[-1] += "\n" + line
        return records

    def problems_of(
        self, *names: str, levels: tuple[str, ...] = ("ERROR", "CRITICAL")
    ) -> list[str]:
        """Records at one of `levels` that mention any of `names`."""
        problems = []
        for record in self.log_records():
            head = record.split("\n", 1)[0]
            if any(f" {level} " in head for level in levels) and any(n in record for n in names):
                problems.append(record)
        return problems

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Any:
        """Call the HTTP API and return the decoded JSON answer."""
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            # keep HA's explanation (e.g. a schema error) in the message
            detail = err.read().decode(errors="replace")
            raise urllib.error.HTTPError(
                err.url, err.code, f"{err.reason}: {detail}", err.headers, None
            ) from err
        return json.loads(raw) if raw else None

    def wait_for_state(self, entity_id: str, timeout_s: float = 30.0) -> Any:
        """Poll the REST API until `entity_id` has a known state; return it."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                state = self.request("GET", f"/api/states/{entity_id}")
            except urllib.error.HTTPError as err:
                if err.code != 404:
                    raise
            else:
                if state["state"] not in ("unknown", "unavailable"):
                    return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"{entity_id} has no state after {timeout_s} s")
            time.sleep(0.3)

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hass exited with {self.process.returncode}:\n{self.log_text}")
            if "Activating recovery mode" in self.log_text:
                raise RuntimeError(f"hass started in recovery mode:\n{self.log_text}")
            try:
                self.request("GET", "/api/onboarding", auth=False)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
                continue
            return
        raise TimeoutError(f"hass did not answer within {START_TIMEOUT_S} s:\n{self.log_text}")

    def onboard(self, username: str = "demo", password: str = "demo-p2p-energy") -> str:
        """Create the owner account and return an access token for it."""
        client_id = self.url + "/"
        created = self.request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": client_id,
                "name": "Demo",
                "username": username,
                "password": password,
                "language": "en",
            },
            auth=False,
        )
        tokens = self.request(
            "POST",
            "/auth/token",
            form={
                "grant_type": "authorization_code",
                "code": created["auth_code"],
                "client_id": client_id,
            },
            auth=False,
        )
        self.token = tokens["access_token"]
        return self.token

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running_hass(
    config_dir: Path,
    extra_config: str = "",
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    base_config: str = BASE_CONFIG,
    skip_pip: bool = True,
) -> Iterator[HassProcess]:
    """Run Home Assistant on `config_dir` until the block ends, whatever happens.

    With `skip_pip=False` hass checks the integrations' requirements, and installs any
    that the environment lacks, as it does for a user: a requirement that conflicts with
    what Home Assistant pins shows only then.
    """
    port = port or free_port()
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(base_config.format(port=port) + extra_config)
    # The process runs the release's bundled copy: measuring it would only add noise.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_CORE"))},
        **(env or {}),
    }
    with (config_dir / "hass.stdout").open("wb") as out:
        process = subprocess.Popen(
            [str(HASS), "--config", str(config_dir), *(["--skip-pip"] if skip_pip else [])],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=config_dir,
            start_new_session=True,
        )
    hass = HassProcess(config_dir=config_dir, port=port, process=process)
    try:
        hass.wait_until_up()
        yield hass
    finally:
        hass.stop()
