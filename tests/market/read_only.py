"""A directory nobody can write in, as root too (tests run as root on CI here)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` cannot be written while inside: root writes through any file mode, so as
    root it becomes a read-only bind mount of itself; otherwise its mode is 0o500."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
            yield
        finally:
            subprocess.run(["umount", str(path)], check=True)
        return
    mode = path.stat().st_mode
    path.chmod(0o500)
    try:
        yield
    finally:
        path.chmod(mode)
