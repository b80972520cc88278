"""Entry point of `python -m market`."""

import sys

from .cli import main

sys.exit(main())
