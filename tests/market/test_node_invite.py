"""Invite codes: the documented vectors, the text form people copy, and every refusal."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.ledger.admission import admit_body, binding_message, check_admit, invite_key
from market.ledger.community import Community
from market.ledger.identity import Identity
from market.node.errors import (
    INVITE_ERRORS,
    InviteChecksumError,
    InviteError,
    InviteExpiredError,
    InviteForgedError,
    InviteMalformedError,
    InviteUsedError,
    InviteWrongCommunityError,
)
from market.node.invite import Invite, create_invite, verify_invite
from market.node.redeem import redeem_message
from market.terms import CommunityTerms
from tests.market.ledger_helpers import T0_MS, community_of, identities

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
NOW_S = T0_MS // 1000
ADDRESS = "192.0.2.1:8123"


class FixedSecret:
    """A token source that always returns the same bytes (for reproducible codes)."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def token_bytes(self, nbytes: int) -> bytes:
        assert nbytes == len(self.secret)
        return self.secret


INVITER, OTHER = identities(2)
COMMUNITY = community_of([INVITER, OTHER])


def _invite() -> Invite:
    return create_invite(INVITER, COMMUNITY, ADDRESS, now_s=NOW_S, ttl_s=3600)


def _verify(invite: Invite, *, now_s: int = NOW_S, used: frozenset[bytes] = frozenset()) -> None:
    members = set(COMMUNITY.genesis_members)
    verify_invite(
        invite, community=COMMUNITY, is_member=members.__contains__, used_tags=used, now_s=now_s
    )


def test_documented_invite_vectors_match_the_implementation() -> None:
    text = PROTOCOL.read_text()
    block = text.split("<!-- vectors:begin -->")[1].split("<!-- vectors:end -->")[0]
    v = {k: bytes.fromhex(x) for k, x in re.findall(r"^(\w+): ([0-9a-f]+)$", block, re.M)}
    identity = Identity(v["seed"])
    community = Community.from_bytes(v["community_descriptor"])
    invite = create_invite(
        identity,
        community,
        ADDRESS,
        now_s=1764000000,
        ttl_s=86400,
        rng=FixedSecret(v["invite_secret"]),
    )
    assert invite.expires_s == 1764086400
    assert invite.tag == v["invite_tag"] == invite_key(v["invite_secret"]).public_key
    assert invite.message == v["invite_message"]
    assert invite.signature == v["invite_signature"]
    assert invite.to_bytes() == v["invite_bytes"]
    (code,) = re.findall(r"^p2pe1-[A-Z2-7]+$", text, re.M)
    assert invite.encode() == code
    assert Invite.decode(code) == invite
    newcomer = Identity(v["newcomer_seed"])
    assert newcomer.public_key == v["newcomer_key"]
    message = redeem_message(community.community_id, invite.tag, newcomer.public_key, 1764000123456)
    assert message == v["redeem_message"]
    assert newcomer.sign(message) == v["redeem_signature"]
    assert binding_message(community.community_id, newcomer.public_key) == v["binding_message"]
    body = admit_body(
        community.community_id,
        newcomer.public_key,
        secret=invite.secret,
        inviter=invite.inviter,
        expires_s=invite.expires_s,
        address=invite.address,
        inviter_signature=invite.signature,
    )
    assert body.binding == v["binding"]
    assert body.encode() == v["admit_body"]
    assert (
        check_admit(
            body.encode(), 1764000123456, community.community_id, {identity.public_key}.__contains__
        )
        is None
    )


def test_a_fresh_invite_round_trips_and_verifies() -> None:
    invite = _invite()
    code = invite.encode()
    assert code.startswith("p2pe1-") and code[6:].isupper() and "=" not in code
    decoded = Invite.decode(code)
    assert decoded == invite
    assert decoded.community.community_id == COMMUNITY.community_id
    assert decoded.expires_s == NOW_S + 3600 and len(decoded.secret) == 16
    _verify(decoded)


def test_two_invites_never_share_a_secret() -> None:
    assert _invite().tag != _invite().tag


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: f"  \n{c}\t \n",
        lambda c: c.lower(),
        lambda c: c.upper(),
        lambda c: "-".join(c[i : i + 4] for i in range(0, len(c), 4)),
        lambda c: " ".join(c[i : i + 5] for i in range(0, len(c), 5)),
        lambda c: "\n".join(c[i : i + 60] for i in range(0, len(c), 60)),
    ],
    ids=["whitespace", "lower", "upper", "hyphen-groups", "space-groups", "wrapped"],
)
def test_codes_survive_how_people_copy_them(mangle: Callable[[str], str]) -> None:
    invite = _invite()
    assert Invite.decode(mangle(invite.encode())) == invite


def _swap_char(code: str, position: int) -> str:
    old = code[position]
    new = "A" if old != "A" else "B"
    return code[:position] + new + code[position + 1 :]


@pytest.mark.parametrize(
    "typo",
    [
        lambda c: _swap_char(c, 40),
        lambda c: _swap_char(c, len(c) // 2),
        lambda c: c[:50] + c[51:],  # a dropped character
        lambda c: c[:50] + "Q" + c[50:],  # an extra one
        lambda c: c[:30] + "0" + c[31:],  # a zero for an O
        lambda c: c[:-8],  # the end cut off
    ],
    ids=["swap", "swap-middle", "dropped", "extra", "zero", "truncated"],
)
def test_a_mistyped_code_is_reported_as_mistyped(typo: Callable[[str], str]) -> None:
    with pytest.raises(InviteChecksumError) as caught:
        Invite.decode(typo(_invite().encode()))
    assert caught.value.reason == "mistyped"


@pytest.mark.parametrize(
    "text", ["", "hello", "p2pe1-", "p2pe2-AEAGQAQQ", "https://example.com/p2pe1-AAAA"]
)
def test_text_that_is_no_invite_is_malformed(text: str) -> None:
    with pytest.raises(InviteMalformedError) as caught:
        Invite.decode(text)
    assert caught.value.reason == "malformed"


def _with_checksum(body: bytes) -> str:
    raw = body + hashlib.sha256(body).digest()[:4]
    return "p2pe1-" + base64.b32encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "spoil",
    [
        lambda b: b"\x01" + b[1:],  # version 1: its tag was the secret's hash, refused
        lambda b: b[:-1],  # intact checksum, field cut short
        lambda b: b + b"\x00",  # trailing byte
        lambda b: b[:3] + b"\x01" + b[4:],  # descriptor of version 1
        lambda b: b[:1],
    ],
    ids=["version", "short", "trailing", "descriptor", "tiny"],
)
def test_intact_but_invalid_bytes_are_malformed_not_mistyped(
    spoil: Callable[[bytes], bytes],
) -> None:
    body = _invite().to_bytes()[:-4]
    with pytest.raises(InviteMalformedError):
        Invite.decode(_with_checksum(spoil(body)))


def test_a_tampered_signature_is_forged() -> None:
    invite = _invite()
    bad = replace(invite, signature=bytes([invite.signature[0] ^ 1]) + invite.signature[1:])
    with pytest.raises(InviteForgedError) as caught:
        _verify(Invite.decode(bad.encode()))
    assert caught.value.reason == "forged"


def test_a_changed_expiry_or_address_breaks_the_signature() -> None:
    invite = _invite()
    for changed in (
        replace(invite, expires_s=invite.expires_s + 10**6),
        replace(invite, address="203.0.113.9:8123"),
        replace(invite, secret=bytes(16)),
    ):
        with pytest.raises(InviteForgedError):
            _verify(changed)


def test_an_invite_from_a_non_member_is_forged() -> None:
    outsider = identities(1, base=50)[0]
    invite = create_invite(outsider, COMMUNITY, ADDRESS, now_s=NOW_S)
    with pytest.raises(InviteForgedError, match="not a member"):
        _verify(invite)


def test_an_invite_expires_at_its_expiry_second() -> None:
    invite = _invite()
    _verify(invite, now_s=invite.expires_s - 1)
    with pytest.raises(InviteExpiredError) as caught:
        _verify(invite, now_s=invite.expires_s)
    assert caught.value.reason == "expired"


def test_a_used_invite_is_refused() -> None:
    invite = _invite()
    with pytest.raises(InviteUsedError) as caught:
        _verify(invite, used=frozenset({invite.tag}))
    assert caught.value.reason == "used"


def test_an_invite_to_another_community_is_refused() -> None:
    other = community_of([INVITER, OTHER], name="rue-des-roses")
    invite = create_invite(INVITER, other, ADDRESS, now_s=NOW_S)
    with pytest.raises(InviteWrongCommunityError) as caught:
        _verify(invite)
    assert caught.value.reason == "wrong_community"


def test_an_invite_to_the_same_members_under_other_terms_is_another_community() -> None:
    hourly = Community.create(
        COMMUNITY.name,
        COMMUNITY.created_ms,
        list(COMMUNITY.genesis_members),
        CommunityTerms(slot_s=3600, gate_lead_s=600),
    )
    with pytest.raises(InviteWrongCommunityError):
        _verify(create_invite(INVITER, hourly, ADDRESS, now_s=NOW_S))


@pytest.mark.parametrize("address", ["", "host", "host:", ":80", "host:0", "host:65536", "h st:1"])
def test_an_invite_needs_a_host_and_port(address: str) -> None:
    with pytest.raises(InviteMalformedError):
        create_invite(INVITER, COMMUNITY, address, now_s=NOW_S)


def test_ipv6_and_named_hosts_are_addresses() -> None:
    for address in ("[2001:db8::1]:8123", "homeassistant.local:8123"):
        invite = create_invite(INVITER, COMMUNITY, address, now_s=NOW_S)
        assert Invite.decode(invite.encode()).address == address


def test_an_invite_needs_a_positive_lifetime() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        create_invite(INVITER, COMMUNITY, ADDRESS, now_s=NOW_S, ttl_s=0)


def test_reasons_are_distinct_and_name_their_class() -> None:
    assert len(INVITE_ERRORS) == len({cls.reason for cls in INVITE_ERRORS.values()})
    for reason, cls in INVITE_ERRORS.items():
        assert cls.reason == reason and issubclass(cls, InviteError)
        assert re.fullmatch(r"[a-z_]+", reason)
        error = cls("why")
        assert error.detail == "why" and str(error) == "why"


@given(
    secret=st.binary(min_size=16, max_size=16),
    expires_s=st.integers(0, 2**64 - 1),
    host=st.from_regex(r"[a-z0-9.-]{1,40}", fullmatch=True),
    port=st.integers(1, 65535),
    name=st.text(min_size=1, max_size=20).filter(lambda n: len(n.encode()) <= 64),
    extra_members=st.integers(0, 5),
    slot_s=st.sampled_from([300, 900, 3600]),
)
def test_any_invite_round_trips_through_its_text(
    secret: bytes,
    expires_s: int,
    host: str,
    port: int,
    name: str,
    extra_members: int,
    slot_s: int,
) -> None:
    members = [INVITER.public_key] + [bytes([i + 1]) * 32 for i in range(extra_members)]
    community = Community.create(name, T0_MS, members, CommunityTerms(slot_s=slot_s))
    invite = Invite(
        community=community,
        address=f"{host}:{port}",
        secret=secret,
        expires_s=expires_s,
        inviter=INVITER.public_key,
        signature=bytes(64),
    )
    code = invite.encode()
    assert Invite.decode(code) == invite
    assert Invite.decode(code.lower()) == invite
    assert Invite.decode(" ".join(code[i : i + 4] for i in range(0, len(code), 4))) == invite
