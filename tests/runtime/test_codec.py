"""The wire codec: every frame round-trips; invalid bytes are refused, never misread."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from archlab.consensus.client import ClientRequest, OpenSession
from archlab.consensus.raft.messages import Heartbeat, VoteResponse
from archlab.runtime.codec import (
    WIRE_VERSION,
    Frame,
    decode_entry,
    decode_frame,
    decode_snapshot,
    encode_entry,
    encode_frame,
    encode_snapshot,
)
from archlab.runtime.framing import FrameDecoder, FrameTooLarge, frame
from archlab.runtime.wire import DecodeError, Reader, Writer
from tests.runtime.strategies import entries, frames, scalars, snapshots


def _same(a: object, b: object) -> bool:
    """Equality where -0.0 and 0.0 differ (the codec keeps the sign) and NaN is excluded."""
    return a == b and repr(a) == repr(b)


@given(frames)
@settings(max_examples=400)
def test_every_frame_round_trips(message: Frame) -> None:
    body = encode_frame(message)
    assert body[0] == WIRE_VERSION
    assert _same(decode_frame(body), message)


@given(entries)
def test_entries_round_trip(entry: object) -> None:
    assert decode_entry(encode_entry(entry)) == entry  # type: ignore[arg-type]


@given(snapshots)
def test_snapshots_round_trip(snapshot: object) -> None:
    assert decode_snapshot(encode_snapshot(snapshot)) == snapshot  # type: ignore[arg-type]


@given(scalars)
def test_scalars_keep_their_type(value: object) -> None:
    w = Writer()
    w.value(value)  # type: ignore[arg-type]
    got = Reader(w.getvalue()).value()
    assert type(got) is type(value)
    assert got == value or (isinstance(got, float) and math.isnan(got))


def test_big_integers_survive() -> None:
    for value in (2**63, -(2**63) - 1, 10**40):
        w = Writer()
        w.value(value)
        assert Reader(w.getvalue()).value() == value


@given(frames, st.data())
@settings(max_examples=300)
def test_a_truncated_frame_is_refused(message: Frame, data: st.DataObject) -> None:
    body = encode_frame(message)
    cut = data.draw(st.integers(0, len(body) - 1))
    with pytest.raises(DecodeError):
        decode_frame(body[:cut])


@given(frames)
def test_trailing_bytes_are_refused(message: Frame) -> None:
    with pytest.raises(DecodeError, match="trailing"):
        decode_frame(encode_frame(message) + b"\x00")


def test_unknown_version_and_kind_are_refused() -> None:
    body = encode_frame(Heartbeat(1, 2, 3, 4, 5))
    with pytest.raises(DecodeError, match="version"):
        decode_frame(bytes([WIRE_VERSION + 1]) + body[1:])
    with pytest.raises(DecodeError, match="kind"):
        decode_frame(bytes([WIRE_VERSION, 99]) + body[2:])


def test_a_malformed_client_payload_is_refused() -> None:
    body = encode_frame(ClientRequest(7, 1, OpenSession()))
    bad = body.replace(b'["open"]', b'["nope"]')
    with pytest.raises(DecodeError, match="payload"):
        decode_frame(bad)


def test_a_boolean_byte_other_than_0_or_1_is_refused() -> None:
    body = bytearray(encode_frame(VoteResponse(1, 2, 3, True, False)))
    body[-2] = 7
    with pytest.raises(DecodeError, match="boolean"):
        decode_frame(bytes(body))


@given(st.lists(frames, min_size=1, max_size=8), st.data())
@settings(max_examples=200)
def test_framing_reassembles_any_chunking(messages: list[Frame], data: st.DataObject) -> None:
    stream = b"".join(frame(encode_frame(m)) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = FrameDecoder()
    bodies: list[bytes] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        bodies += decoder.feed(stream[previous:cut])
        previous = cut
    assert len(bodies) == len(messages)
    assert all(_same(decode_frame(b), m) for b, m in zip(bodies, messages, strict=True))
    assert decoder.buffered == 0


def test_framing_refuses_an_oversized_frame() -> None:
    decoder = FrameDecoder(max_frame=100)
    with pytest.raises(FrameTooLarge):
        decoder.feed((101).to_bytes(4, "little") + b"x")


@given(frames)
@settings(max_examples=300)
def test_fast_paths_write_the_generic_bytes(message: Frame) -> None:
    from archlab.runtime.codec import _encode_generic

    assert encode_frame(message) == _encode_generic(message)
