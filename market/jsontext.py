"""JSON read from the network or from disk, where any text may arrive.

`json.loads` raises RecursionError, not ValueError, for arrays or objects nested deeper
than the interpreter's recursion limit (about 16 KiB of `[` is enough). Callers that
refuse malformed JSON with a clear error catch ValueError; this makes that one catch
cover every malformed input.
"""

from __future__ import annotations

import json
from typing import Any


def loads(text: str | bytes) -> Any:
    """Parse JSON; too deep a nesting is a ValueError like any other malformed input."""
    try:
        return json.loads(text)
    except RecursionError as err:
        raise ValueError("JSON nested too deeply") from err
