"""P2P energy market engine, independent of Home Assistant.

Inside this package every import of a sibling module is relative, so that the same
source runs as the top-level `market` package in a checkout and bundled inside the
Home Assistant integration in a release (see docs/release.md).
"""

__version__ = "0.2.0"
