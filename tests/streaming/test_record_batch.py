"""RecordBatch v2 (7.1): byte layout, round trips under every codec, corruption detected."""

from __future__ import annotations

import struct

import crc32c
import pytest
from hypothesis import given, settings, strategies as st

from archlab.streaming.log.compression import XERIAL_MAGIC, Codec, compress, decompress
from archlab.streaming.log.records import (
    HEADER_SIZE,
    CorruptBatchError,
    Record,
    RecordBatch,
    control_batch,
    control_type,
    decode_batch,
    make_batch,
    read_varint,
    verify,
    with_offset,
    write_varint,
)

_bytes = st.one_of(st.none(), st.binary(max_size=64))
_record = st.builds(
    Record,
    value=_bytes,
    key=_bytes,
    headers=st.lists(st.tuples(st.text(max_size=8), _bytes), max_size=3).map(tuple),
    timestamp_delta=st.integers(0, 2**40),
)


def test_the_header_is_61_bytes_with_the_crc_over_attributes_to_the_end() -> None:
    data = make_batch([b"a", b"bc"], keys=[None, b"k"], timestamp=1000).encode()
    _base, length, _epoch, magic, crc = struct.unpack_from(">qiibI", data)
    assert HEADER_SIZE == 61 and magic == 2 and length == len(data) - 12
    assert crc == crc32c.crc32c(data[21:])
    # record 0: length, attrs, ts delta 0, offset delta 0, key null (-1 -> 0x01), value "a"
    assert data[61:].startswith(bytes([0x0E, 0, 0, 0, 1, 2]) + b"a")


@pytest.mark.parametrize("value", [0, 1, -1, 63, -64, 64, 2**31 - 1, -(2**31), 2**62, -(2**63)])
def test_zigzag_varints_round_trip(value: int) -> None:
    out = bytearray()
    write_varint(out, value)
    assert read_varint(bytes(out), 0) == (value, len(out))


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(_record, min_size=1, max_size=6),
    codec=st.sampled_from(list(Codec)),
    base=st.integers(0, 2**40),
    ts=st.integers(0, 2**41),
)
def test_every_batch_round_trips(records: list[Record], codec: Codec, base: int, ts: int) -> None:
    records = [
        Record(r.value, r.key, r.headers, r.timestamp_delta, i) for i, r in enumerate(records)
    ]
    batch = RecordBatch(
        records,
        base_offset=base,
        base_timestamp=ts,
        codec=codec,
        producer_id=7,
        producer_epoch=1,
        base_sequence=3,
    )
    back = decode_batch(batch.encode())
    assert list(back.records) == records
    assert (back.base_offset, back.codec, back.producer_id, back.base_sequence) == (
        base,
        codec,
        7,
        3,
    )


@settings(max_examples=60, deadline=None)
@given(records=st.lists(_record, min_size=1, max_size=4), flip=st.data())
def test_any_flipped_bit_after_the_crc_field_is_detected(
    records: list[Record], flip: st.DataObject
) -> None:
    records = [Record(r.value, r.key, r.headers, 0, i) for i, r in enumerate(records)]
    data = bytearray(RecordBatch(records).encode())
    at = flip.draw(st.integers(21, len(data) - 1))
    data[at] ^= 1 << flip.draw(st.integers(0, 7))
    with pytest.raises(CorruptBatchError):
        verify(bytes(data))


def test_a_truncated_batch_is_detected() -> None:
    data = make_batch([b"x" * 100]).encode()
    with pytest.raises(CorruptBatchError, match="truncated"):
        verify(data[:-1])


def test_rewriting_the_offset_keeps_the_crc_valid() -> None:
    data = with_offset(make_batch([b"a", b"b"]).encode(), 12345, leader_epoch=4)
    h = verify(data)
    assert (h.base_offset, h.last_offset, h.partition_leader_epoch) == (12345, 12346, 4)


def test_control_batches_carry_the_marker() -> None:
    for commit in (True, False):
        batch = decode_batch(control_batch(commit, 9, 2, 0).encode())
        assert batch.control and batch.transactional and batch.producer_id == 9
        assert control_type(batch) == int(commit)


@pytest.mark.parametrize("codec", list(Codec))
def test_codecs_round_trip(codec: Codec) -> None:
    data = bytes(range(256)) * 600
    assert decompress(codec, compress(codec, data)) == data


def test_snappy_reads_both_framings() -> None:
    import cramjam

    data = b"kafka " * 20000
    framed = compress(Codec.SNAPPY, data)
    assert framed.startswith(XERIAL_MAGIC)
    assert decompress(Codec.SNAPPY, framed) == data
    assert decompress(Codec.SNAPPY, bytes(cramjam.snappy.compress_raw(data))) == data
