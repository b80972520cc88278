"""TIC dataset checksums for both modes (Enedis-NOI-CPT_54E §6.2.2)."""

from __future__ import annotations


def checksum_char(payload: bytes) -> int:
    """Return the checksum character for the bytes it covers: (sum & 0x3F) + 0x20."""
    return (sum(payload) & 0x3F) + 0x20


def historic_checksum(label: bytes, data: bytes) -> int:
    """Checksum of a historic dataset: label, SP, data (the SP before it is excluded)."""
    return checksum_char(label + b" " + data)


def standard_checksum(label: bytes, horodate: bytes | None, data: bytes) -> int:
    """Checksum of a standard dataset: every byte from the label to the HT before it."""
    if horodate is None:
        return checksum_char(label + b"\t" + data + b"\t")
    return checksum_char(label + b"\t" + horodate + b"\t" + data + b"\t")
