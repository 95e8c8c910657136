"""Kafka's RecordBatch v2, byte for byte (codex 7.1: the log stores what producers send).

A batch is a 61-byte header followed by its records::

    baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (=2)
    crc uint32 | attributes int16 | lastOffsetDelta int32 | baseTimestamp int64
    maxTimestamp int64 | producerId int64 | producerEpoch int16 | baseSequence int32
    recordCount int32 | records...

``batchLength`` counts the bytes after itself; the CRC-32C (Castagnoli, the ``crc32c``
package) covers attributes to the end, so a broker may rewrite ``baseOffset`` and
``partitionLeaderEpoch`` without recomputing it. Attribute bits: 0-2 codec, 3 timestamp type,
4 transactional, 5 control. Each record is a zigzag varint length, an attributes byte, a
varlong timestamp delta, a varint offset delta, varint-length key and value (-1 is null) and
varint-counted headers. Control records (transaction markers) carry key ``version int16,
type int16`` (0 abort, 1 commit) and value ``version int16, coordinatorEpoch int32``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import crc32c

from archlab.streaming.log.compression import Codec, compress, decompress

HEADER_SIZE = 61
#: Bytes before ``magic``: baseOffset, batchLength, partitionLeaderEpoch.
LOG_OVERHEAD = 12
_HEADER = struct.Struct(">qiibIhiqqqhii")
_CRC_START = 21  # attributes begin here
NO_PRODUCER_ID = -1
NO_SEQUENCE = -1
ATTR_CODEC_MASK = 0x07
ATTR_LOG_APPEND_TIME = 0x08
ATTR_TRANSACTIONAL = 0x10
ATTR_CONTROL = 0x20
CONTROL_ABORT = 0
CONTROL_COMMIT = 1


class CorruptBatchError(ValueError):
    """A batch whose bytes do not decode or whose CRC does not match."""


# -- varints ------------------------------------------------------------------------------------


def write_varint(out: bytearray, value: int) -> None:
    """Append a zigzag-encoded varint (works for 32- and 64-bit values alike)."""
    z = (value << 1) ^ (value >> 63)
    z &= 0xFFFFFFFFFFFFFFFF
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """A zigzag varint at ``pos``: (value, position after it)."""
    shift = 0
    z = 0
    while True:
        if pos >= len(data):
            raise CorruptBatchError("varint runs past the end of the batch")
        b = data[pos]
        pos += 1
        z |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise CorruptBatchError("varint longer than 10 bytes")
    return (z >> 1) ^ -(z & 1), pos


def _write_bytes(out: bytearray, value: bytes | None) -> None:
    if value is None:
        write_varint(out, -1)
    else:
        write_varint(out, len(value))
        out += value


def _read_bytes(data: bytes | memoryview, pos: int) -> tuple[bytes | None, int]:
    length, pos = read_varint(data, pos)
    if length < 0:
        return None, pos
    if pos + length > len(data):
        raise CorruptBatchError("record field runs past the end of the batch")
    return bytes(data[pos : pos + length]), pos + length


# -- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp_delta: int = 0
    offset_delta: int = 0


def encode_record(r: Record) -> bytes:
    body = bytearray(b"\x00")
    write_varint(body, r.timestamp_delta)
    write_varint(body, r.offset_delta)
    _write_bytes(body, r.key)
    _write_bytes(body, r.value)
    write_varint(body, len(r.headers))
    for name, hvalue in r.headers:
        _write_bytes(body, name.encode())
        _write_bytes(body, hvalue)
    out = bytearray()
    write_varint(out, len(body))
    return bytes(out + body)


def decode_records(data: bytes | memoryview, count: int) -> list[Record]:
    pos = 0
    records = []
    for _ in range(count):
        length, pos = read_varint(data, pos)
        end = pos + length
        if length < 0 or end > len(data):
            raise CorruptBatchError("record length runs past the end of the batch")
        pos += 1  # record attributes: unused
        ts_delta, pos = read_varint(data, pos)
        off_delta, pos = read_varint(data, pos)
        key, pos = _read_bytes(data, pos)
        value, pos = _read_bytes(data, pos)
        n_headers, pos = read_varint(data, pos)
        headers = []
        for _ in range(n_headers):
            hkey, pos = _read_bytes(data, pos)
            hval, pos = _read_bytes(data, pos)
            headers.append(((hkey or b"").decode(errors="replace"), hval))
        if pos != end:
            raise CorruptBatchError("record length does not match its fields")
        records.append(Record(value, key, tuple(headers), ts_delta, off_delta))
    if pos != len(data):
        raise CorruptBatchError("bytes left after the last record")
    return records


# -- batches ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordBatch:
    records: Sequence[Record]
    base_offset: int = 0
    base_timestamp: int = 0
    max_timestamp: int = -1
    codec: Codec = Codec.NONE
    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = -1
    base_sequence: int = NO_SEQUENCE
    transactional: bool = False
    control: bool = False
    log_append_time: bool = False
    partition_leader_epoch: int = -1
    last_offset_delta: int = field(default=-1)

    @property
    def attributes(self) -> int:
        return (
            int(self.codec)
            | (ATTR_LOG_APPEND_TIME if self.log_append_time else 0)
            | (ATTR_TRANSACTIONAL if self.transactional else 0)
            | (ATTR_CONTROL if self.control else 0)
        )

    @property
    def last_offset(self) -> int:
        delta = self.last_offset_delta
        if delta < 0:
            delta = max((r.offset_delta for r in self.records), default=0)
        return self.base_offset + delta

    def encode(self) -> bytes:
        body = b"".join(encode_record(r) for r in self.records)
        body = compress(self.codec, body)
        delta = self.last_offset_delta
        if delta < 0:
            delta = max((r.offset_delta for r in self.records), default=0)
        max_ts = self.max_timestamp
        if max_ts < 0:
            max_ts = self.base_timestamp + max((r.timestamp_delta for r in self.records), default=0)
        header = bytearray(
            _HEADER.pack(
                self.base_offset,
                HEADER_SIZE - LOG_OVERHEAD + len(body),
                self.partition_leader_epoch,
                2,
                0,
                self.attributes,
                delta,
                self.base_timestamp,
                max_ts,
                self.producer_id,
                self.producer_epoch,
                self.base_sequence,
                len(self.records),
            )
        )
        crc = crc32c.crc32c(bytes(header[_CRC_START:]) + body)
        struct.pack_into(">I", header, 17, crc)
        return bytes(header) + body


def make_batch(
    values: Sequence[bytes | None],
    *,
    keys: Sequence[bytes | None] | None = None,
    timestamp: int = 0,
    codec: Codec = Codec.NONE,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = -1,
    base_sequence: int = NO_SEQUENCE,
    transactional: bool = False,
) -> RecordBatch:
    """A batch of plain records with consecutive offset deltas."""
    ks = keys if keys is not None else [None] * len(values)
    records = [
        Record(v, k, offset_delta=i) for i, (k, v) in enumerate(zip(ks, values, strict=True))
    ]
    return RecordBatch(
        records,
        base_timestamp=timestamp,
        codec=codec,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        transactional=transactional,
    )


def control_batch(
    commit: bool, producer_id: int, producer_epoch: int, timestamp: int, coordinator_epoch: int = 0
) -> RecordBatch:
    """A transaction marker: one control record saying COMMIT or ABORT."""
    key = struct.pack(">hh", 0, CONTROL_COMMIT if commit else CONTROL_ABORT)
    value = struct.pack(">hi", 0, coordinator_epoch)
    return RecordBatch(
        [Record(value, key)],
        base_timestamp=timestamp,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        transactional=True,
        control=True,
    )


@dataclass(frozen=True)
class BatchHeader:
    """The fixed fields of a stored batch, read without touching its records."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def size(self) -> int:
        return LOG_OVERHEAD + self.batch_length

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def codec(self) -> Codec:
        return Codec(self.attributes & ATTR_CODEC_MASK)

    @property
    def transactional(self) -> bool:
        return bool(self.attributes & ATTR_TRANSACTIONAL)

    @property
    def control(self) -> bool:
        return bool(self.attributes & ATTR_CONTROL)

    @property
    def last_sequence(self) -> int:
        if self.base_sequence < 0:
            return NO_SEQUENCE
        return (self.base_sequence + self.last_offset_delta) & 0x7FFFFFFF


def read_header(data: bytes | memoryview, pos: int = 0) -> BatchHeader:
    if pos + HEADER_SIZE > len(data):
        raise CorruptBatchError("batch header runs past the end")
    h = BatchHeader(*_HEADER.unpack_from(data, pos))
    if h.magic != 2:
        raise CorruptBatchError(f"magic byte {h.magic}; only RecordBatch v2 (magic 2) is stored")
    if h.batch_length < HEADER_SIZE - LOG_OVERHEAD:
        raise CorruptBatchError(f"batch length {h.batch_length} is shorter than its header")
    if h.record_count < 0 or h.last_offset_delta < 0:
        raise CorruptBatchError("negative record count or offset delta")
    return h


def verify(data: bytes | memoryview, pos: int = 0) -> BatchHeader:
    """The header of the batch at ``pos`` after checking its length and CRC-32C."""
    h = read_header(data, pos)
    end = pos + h.size
    if end > len(data):
        raise CorruptBatchError("batch runs past the end of the data (truncated)")
    actual = crc32c.crc32c(bytes(data[pos + _CRC_START : end]))
    if actual != h.crc:
        raise CorruptBatchError(f"CRC-32C mismatch at offset {h.base_offset}: stored {h.crc:#010x}")
    return h


def decode_batch(data: bytes | memoryview, pos: int = 0) -> RecordBatch:
    h = verify(data, pos)
    body = bytes(data[pos + HEADER_SIZE : pos + h.size])
    records = decode_records(decompress(h.codec, body), h.record_count)
    return RecordBatch(
        records,
        base_offset=h.base_offset,
        base_timestamp=h.base_timestamp,
        max_timestamp=h.max_timestamp,
        codec=h.codec,
        producer_id=h.producer_id,
        producer_epoch=h.producer_epoch,
        base_sequence=h.base_sequence,
        transactional=h.transactional,
        control=h.control,
        log_append_time=bool(h.attributes & ATTR_LOG_APPEND_TIME),
        partition_leader_epoch=h.partition_leader_epoch,
        last_offset_delta=h.last_offset_delta,
    )


def iter_batches(data: bytes | memoryview) -> Iterator[tuple[int, BatchHeader]]:
    """(position, header) of each whole, CRC-valid batch; stops at the first bad one."""
    pos = 0
    while pos + HEADER_SIZE <= len(data):
        try:
            h = verify(data, pos)
        except CorruptBatchError:
            return
        yield pos, h
        pos += h.size


def control_type(batch: RecordBatch) -> int:
    """CONTROL_COMMIT or CONTROL_ABORT for a control batch."""
    key = batch.records[0].key or b""
    if len(key) < 4:
        raise CorruptBatchError("control record key shorter than 4 bytes")
    return int(struct.unpack_from(">h", key, 2)[0])


def with_offset(data: bytes, base_offset: int, leader_epoch: int | None = None) -> bytes:
    """The batch with ``baseOffset`` (and the leader epoch) rewritten; the CRC stays valid."""
    out = bytearray(data)
    struct.pack_into(">q", out, 0, base_offset)
    if leader_epoch is not None:
        struct.pack_into(">i", out, 12, leader_epoch)
    return bytes(out)


__all__ = [
    "HEADER_SIZE",
    "BatchHeader",
    "Codec",
    "CorruptBatchError",
    "Record",
    "RecordBatch",
    "control_batch",
    "decode_batch",
    "iter_batches",
    "make_batch",
    "read_header",
    "verify",
    "with_offset",
]
