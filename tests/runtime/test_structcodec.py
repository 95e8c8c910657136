"""The structural codec carries every Multi-Paxos and Zab message, and refuses bad bytes."""

from __future__ import annotations

import pytest

from archlab.consensus.paxos import messages as px
from archlab.consensus.paxos.types import Ballot, Chosen, Slot, Snapshot as PaxosSnapshot
from archlab.consensus.zab import messages as zb
from archlab.consensus.zab.types import ServerState, Snapshot as ZabSnapshot, Txn, Vote, Zxid
from archlab.runtime import structcodec
from archlab.runtime.codec import decode_frame, encode_frame
from archlab.runtime.wire import DecodeError

B = Ballot(3, 2)
Z = Zxid(2, 7)
MESSAGES = [
    px.Probe(1, 2, B, 5),
    px.ProbeReply(2, 1, B, True, Ballot(1, 1)),
    px.Prepare(1, 2, B, 4),
    px.Promise(2, 1, B, (Slot(4, B, b"v", True), Slot(5, B, b"")), 3, PaxosSnapshot(3, b"s")),
    px.Reject(2, 1, B, Ballot(9, 3)),
    px.Accept(1, 2, B, ((6, b"x"), (7, b"")), 5),
    px.Accepted(2, 1, B, (6, 7), 5, 5),
    px.Learned(2, 1, B, 7, False),
    px.Learn(1, 2, B, (Chosen(6, b"x"),)),
    px.InstallSnapshot(1, 2, B, PaxosSnapshot(9, b"\x00\xff")),
    zb.Notification(1, 2, 4, Vote(2, Z, 1), ServerState.LOOKING, False),
    zb.FollowerInfo(2, 1, 99, 2, 2, ((1, 4), (2, 7)), True),
    zb.NewEpoch(1, 2, 99, 3, 2, ((2, 7),)),
    zb.AckEpoch(2, 1, 99, 3, 2, (), True, (Txn(Z, b"t"),), ZabSnapshot(Z, 7, ((2, 7),), b"d")),
    zb.NewLeader(1, 2, 99, 3, "DIFF", 0, None, (Txn(Z, b"t"),), Z),
    zb.Proposal(1, 2, 3, Z, (Txn(Zxid(3, 1), b"u"),), Z),
    zb.Ack(2, 1, 3, Z, True),
    zb.Commit(1, 2, 3, Z),
    zb.Ping(1, 2, 3, Z),
]


@pytest.mark.parametrize(
    "message", MESSAGES, ids=lambda m: type(m).__module__[-8:] + type(m).__name__
)
def test_every_message_round_trips_as_a_frame(message: object) -> None:
    assert decode_frame(encode_frame(message)) == message  # type: ignore[arg-type]


def test_every_message_class_is_exercised() -> None:
    assert {type(m) for m in MESSAGES} == structcodec.MESSAGES


@pytest.mark.parametrize(
    "body",
    [
        b"\x07",  # unknown tag
        b"\x07\xff\xff",  # record of an unknown class
        structcodec.encode(Ballot(1, 2))[:-3],  # truncated
        structcodec.encode(Ballot(1, 2)) + b"\x00",  # trailing bytes
        b"\x08\x12\x00\x03\x00\x00\x00\x00\x00\x00\x00",  # an enum value that does not exist
    ],
)
def test_bad_bytes_are_refused(body: bytes) -> None:
    with pytest.raises(DecodeError):
        structcodec.decode(body)


def test_a_value_that_is_not_a_message_is_not_a_frame() -> None:
    body = bytes([1, 30]) + structcodec.encode(Ballot(1, 2))
    with pytest.raises(DecodeError, match="not a message"):
        decode_frame(body)
