"""Named random streams: one per (purpose, household, day), reproducible anywhere.

A stream is seeded with a string, which Python hashes with SHA-512 (not with the
per-process string hash), so a day's draws never depend on what was drawn before, on
the order days are asked for, or on the interpreter run.
"""

from __future__ import annotations

import random


def stream(*parts: object) -> random.Random:
    """The random stream named by `parts` (e.g. "load", household seed, day number)."""
    return random.Random(":".join(map(str, parts)))  # noqa: S311 - simulation, not security
