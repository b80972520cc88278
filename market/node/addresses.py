"""Node addresses: the URL of a peer, and the address to give others."""

from __future__ import annotations

import socket


def peer_url(address: str) -> str:
    """A peer's base URL from "host:port" or a URL."""
    return address if "://" in address else f"http://{address}"


def advertised_host(host: str) -> str:
    """The address others should use: `host`, or the LAN address for a wildcard."""
    if host not in ("0.0.0.0", "", "::"):  # noqa: S104 - comparing, not binding
        return host
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            # no packet is sent: connect() on UDP only picks the outgoing interface
            probe.connect(("192.0.2.1", 9))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"
