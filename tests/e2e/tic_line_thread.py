"""A ser2net-like TCP server in a thread, playing a real Linky capture in a loop.

For end-to-end tests whose Home Assistant runs in another process: it reaches the
capture through `socket://127.0.0.1:PORT`, the real serial path of the integration.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[1] / "market" / "data" / "tic"


@contextlib.contextmanager
def tic_line(capture: str = "std_1p_base_real_1.bin", period_s: float = 0.5) -> Iterator[str]:
    """Serve `capture` until the block ends; yields the socket:// URL."""
    data = (CAPTURES / capture).read_bytes()
    stop = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with contextlib.suppress(OSError):
                while not stop.is_set():
                    self.request.sendall(data)
                    time.sleep(period_s)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"socket://127.0.0.1:{server.server_address[1]}"
        finally:
            stop.set()
            server.shutdown()
            with contextlib.suppress(OSError):
                server.socket.shutdown(socket.SHUT_RDWR)
