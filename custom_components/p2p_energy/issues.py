"""Repair issues of a household node: what the resident should look at.

- `peer_unreachable`: a neighbour's node has not answered for more than an hour;
- `clock_skew`: this machine's clock is further from the neighbours' than the gossip's
  replay window (30 s) or the seal margin, whichever is less: the neighbours refuse its
  requests as stale, and its orders and seals may miss the gate closures;
- `equivocation`: a member signed two different entries with one sequence number and
  is excluded from the market (a fact of the ledger: it stays until dismissed);
- `catching_up`: this node asks its neighbours for its own newer entries (after a
  restored backup) and signs nothing until one answers;
- `chain_forked`: a neighbour holds an entry of this node's key that conflicts with
  its chain; it signs nothing any more (docs/node.md, "Restoring a backup");
- `node_fault`: a duty of the node keeps failing (the disk refuses writes, a loop
  raises); it is retried, and the issue goes once the duty works again (docs/node.md,
  "Faults");
- `readings_missing`: in the last 24 h, the household traded in slots (4 or more) in
  which the community counted no reading of its meter, so it was allocated nothing of
  them and the grid billed it instead (docs/settlement.md, "Readings");
- `settlement_disputed`: in the last 24 h, slots (4 or more) the household is in have
  no quorum on their settlement: their local figures stay provisional.

None can be fixed by a flow, so this module is not a `repairs` platform. Issues of a
condition that clears are deleted; those of a running entry are deleted when it
unloads and raised again if the condition persists after it is back.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from market.node import NodeStatus

from .const import CONF_NODE_NAME, DOMAIN

PEER_DOWN_ISSUE_AFTER: Final = timedelta(hours=1)
ISSUE_PEER_UNREACHABLE: Final = "peer_unreachable"
ISSUE_CLOCK_SKEW: Final = "clock_skew"
ISSUE_EQUIVOCATION: Final = "equivocation"
ISSUE_CATCHING_UP: Final = "catching_up"
ISSUE_CHAIN_FORKED: Final = "chain_forked"
ISSUE_NODE_FAULT: Final = "node_fault"
ISSUE_READINGS_MISSING: Final = "readings_missing"
ISSUE_SETTLEMENT_DISPUTED: Final = "settlement_disputed"
# market.node.catchup.ChainState values, each with its issue
_CHAIN_ISSUES: Final = {"catching_up": ISSUE_CATCHING_UP, "forked": ISSUE_CHAIN_FORKED}


def _peer_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def peer_address(url: str) -> str:
    """A peer's "host:port" as the resident typed or met it."""
    return url.removeprefix("http://").rstrip("/")


class MarketIssues:
    """Raises and clears the repair issues of one config entry."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, skew_limit_s: int) -> None:
        """Issues of `entry`, whose node is cut off when its clock is further than
        `skew_limit_s` from its neighbours'."""
        self.hass = hass
        self.entry = entry
        self.skew_limit_ms = skew_limit_s * 1000
        self._down_since: dict[str, datetime] = {}
        self._raised: set[str] = set()

    def _id(self, kind: str, suffix: str = "") -> str:
        return f"{kind}_{self.entry.entry_id}{'_' + suffix if suffix else ''}"

    def _raise(self, issue_id: str, key: str, placeholders: dict[str, str]) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            is_persistent=key == ISSUE_EQUIVOCATION,
            severity=ir.IssueSeverity.WARNING,
            translation_key=key,
            translation_placeholders={"node": self.entry.data[CONF_NODE_NAME], **placeholders},
        )
        self._raised.add(issue_id)

    def _clear(self, issue_id: str) -> None:
        if issue_id in self._raised:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            self._raised.discard(issue_id)

    @callback
    def check_status(self, status: NodeStatus, now: datetime) -> None:
        """Raise or clear the peer, clock, chain and fault issues from a fresh status."""
        known = set()
        for peer in status.peers:
            known.add(peer.url)
            issue_id = self._id(ISSUE_PEER_UNREACHABLE, _peer_key(peer.url))
            if peer.online:
                self._down_since.pop(peer.url, None)
                self._clear(issue_id)
                continue
            since = self._down_since.setdefault(peer.url, now)
            if now - since > PEER_DOWN_ISSUE_AFTER:
                self._raise(
                    issue_id,
                    ISSUE_PEER_UNREACHABLE,
                    {
                        "peer": peer_address(peer.url),
                        "hours": str(int((now - since).total_seconds() // 3600)),
                    },
                )
        for url in set(self._down_since) - known:
            del self._down_since[url]
            self._clear(self._id(ISSUE_PEER_UNREACHABLE, _peer_key(url)))
        skew = status.clock_skew_ms
        if skew is not None and abs(skew) > self.skew_limit_ms:
            self._raise(
                self._id(ISSUE_CLOCK_SKEW),
                ISSUE_CLOCK_SKEW,
                {
                    "skew_s": f"{skew / 1000:+.1f}",
                    "limit_s": str(self.skew_limit_ms // 1000),
                },
            )
        else:
            self._clear(self._id(ISSUE_CLOCK_SKEW))
        for state, key in _CHAIN_ISSUES.items():
            if status.chain == state:
                self._raise(self._id(key), key, {})
            else:
                self._clear(self._id(key))
        if status.fault is not None:
            self._raise(self._id(ISSUE_NODE_FAULT), ISSUE_NODE_FAULT, {"fault": status.fault})
        else:
            self._clear(self._id(ISSUE_NODE_FAULT))

    @callback
    def check_settlement(
        self, *, disputed: int, unmeasured: int, threshold: int, hours: int
    ) -> None:
        """Raise or clear the settlement issues from the problem slots of the last
        `hours`: raised from `threshold` slots on."""
        for key, count in (
            (ISSUE_READINGS_MISSING, unmeasured),
            (ISSUE_SETTLEMENT_DISPUTED, disputed),
        ):
            if count >= threshold:
                self._raise(self._id(key), key, {"slots": str(count), "hours": str(hours)})
            else:
                self._clear(self._id(key))

    @callback
    def equivocation(self, node_id: str, seq: int) -> None:
        """A member equivocated: its orders no longer count."""
        self._raise(
            self._id(ISSUE_EQUIVOCATION, node_id[:16]),
            ISSUE_EQUIVOCATION,
            {"member": node_id[:16], "seq": str(seq)},
        )

    @callback
    def clear_transient(self) -> None:
        """Forget what a stopped node can no longer check (not the ledger's facts)."""
        for issue_id in list(self._raised):
            if not issue_id.startswith(ISSUE_EQUIVOCATION):
                self._clear(issue_id)
        self._down_since.clear()


@callback
def async_delete_entry_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Delete every issue of a removed config entry."""
    registry = ir.async_get(hass)
    for domain, issue_id in list(registry.issues):
        if domain == DOMAIN and entry_id in issue_id:
            ir.async_delete_issue(hass, DOMAIN, issue_id)
