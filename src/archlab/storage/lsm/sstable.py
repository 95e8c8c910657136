"""Sorted String Tables: the immutable files of the LSM tree (codex 4.1–4.2).

Byte format (all integers little-endian)::

    file         := data_block* filter_block meta_block index_block footer
    block        := payload | crc32(payload) u32
    data block   := n u32 | key_end u32 × n | value_end u32 × n | keys | values
                    (key_end[i] / value_end[i]: where entry i's key / value ends inside
                    the keys / values area; bit 31 of value_end marks a tombstone, the key
                    was deleted, its value is empty)
    filter block := Bloom filter (see :mod:`archlab.storage.bloom`), or empty
    meta block   := entries u64 | tombstones u64 | min_seq u64 | max_seq u64
                    | min_key_len u16 | min_key | max_key_len u16 | max_key
    index block  := n u32 | last_key_len u16 × n | (offset u64, size u32) × n | last_keys
                    (one entry per data block: its largest key and where its payload lies)
    footer       := filter (offset u64, size u32) | meta (offset u64, size u32)
                    | index (offset u64, size u32) | crc32(the 36 bytes before) u32
                    | magic u64 (0x5354_4C41_4843_5241)   — 48 bytes

Keys inside a table are unique and sorted; a table holds at most one version of each key and
covers the sequence numbers ``[min_seq, max_seq]``, which orders tables that overlap. Every block
is checksummed and checked when it is read, so a flipped bit raises
:class:`~archlab.errors.CorruptionError` with the file and offset instead of returning wrong
data. A point read binary-searches the index (``bisect`` over the decoded last keys), then the
block's keys; the end-offset arrays let it decode only the keys (one list comprehension) and
slice the one value it needs, never building the block's ~40 value objects (the cost that
dominated a profile of readrandom). Checked blocks with their decoded keys are kept in a shared
LRU :class:`BlockCache`; scans and compactions decode whole blocks.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from operator import add
from zlib import crc32

from archlab.errors import CorruptionError
from archlab.storage.bloom import BloomFilter
from archlab.storage.faultfs import FileHandle

MAGIC = 0x5354_4C41_4843_5241
TOMBSTONE_BIT = 0x80000000
_LEN_MASK = 0x7FFFFFFF
_FOOTER = struct.Struct("<QIQIQIIQ")
FOOTER_SIZE = _FOOTER.size
_U32 = struct.Struct("<I")
_META_FIXED = struct.Struct("<QQQQ")

Block = tuple[list[bytes], list[bytes | None]]


class Missing:
    """The marker for "this table has no entry for the key" (``None`` is a tombstone)."""

    __slots__ = ()


MISSING = Missing()


def encode_data_block(keys: Sequence[bytes], values: Sequence[bytes | None]) -> bytes:
    n = len(keys)
    key_ends = accumulate(map(len, keys))
    if None in values:
        value_ends = [
            end | TOMBSTONE_BIT if v is None else end
            for v, end in zip(
                values, accumulate(0 if v is None else len(v) for v in values), strict=True
            )
        ]
    else:
        value_ends = list(accumulate(map(len, values)))  # type: ignore[arg-type]
    return b"".join(
        (
            _U32.pack(n),
            struct.pack(f"<{n}I", *key_ends),
            struct.pack(f"<{n}I", *value_ends),
            b"".join(keys),
            b"".join(v for v in values if v is not None) if None in values else b"".join(values),  # type: ignore[arg-type]
        )
    )


def decode_data_block(buf: bytes) -> Block:
    n = _U32.unpack_from(buf, 0)[0]
    key_ends = struct.unpack_from(f"<{n}I", buf, 4)
    value_ends = struct.unpack_from(f"<{n}I", buf, 4 + 4 * n)
    base = 4 + 8 * n
    ko = [base, *(base + e for e in key_ends)]
    keys = [buf[a:b] for a, b in itertools.pairwise(ko)]
    vbase = ko[-1]
    if any(e & TOMBSTONE_BIT for e in value_ends):
        vo = [vbase, *(vbase + (e & _LEN_MASK) for e in value_ends)]
        values: list[bytes | None] = [
            None if e & TOMBSTONE_BIT else buf[a:b]
            for e, a, b in zip(value_ends, vo, vo[1:], strict=False)
        ]
    else:
        vo = [vbase, *(vbase + e for e in value_ends)]
        values = [buf[a:b] for a, b in itertools.pairwise(vo)]
    if vo[-1] != len(buf) or any(b < a for a, b in itertools.pairwise(vo)):
        raise ValueError(f"data block of {len(buf)} bytes describes {vo[-1]}")
    return keys, values


SearchBlock = tuple[bytes, list[bytes], int]


def search_block(buf: bytes) -> SearchBlock:
    """A block ready for point reads: its bytes, its decoded keys, where its values start."""
    n = _U32.unpack_from(buf, 0)[0]
    base = 4 + 8 * n
    offsets = [base + e for e in (0, *struct.unpack_from(f"<{n}I", buf, 4))]
    if offsets[-1] > len(buf):
        raise ValueError("keys run past the block")
    return buf, [buf[a:b] for a, b in itertools.pairwise(offsets)], offsets[-1]


def value_in_block(block: SearchBlock, j: int) -> bytes | None:
    buf, keys, vbase = block
    at = 4 + 4 * len(keys) + 4 * j
    end = _U32.unpack_from(buf, at)[0]
    if end & TOMBSTONE_BIT:
        return None
    begin = _U32.unpack_from(buf, at - 4)[0] & _LEN_MASK if j else 0
    if vbase + end > len(buf) or begin > end:
        raise ValueError("value runs past the block")
    return buf[vbase + begin : vbase + end]


class BlockCache:
    """Checked data blocks with their decoded keys, least recently used evicted first.

    Bounded by an estimate of the memory an entry holds: the block's bytes plus ~56 bytes per
    decoded key object.
    """

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity = capacity_bytes
        self.size = 0
        self._blocks: OrderedDict[tuple[int, int], SearchBlock] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[int, int]) -> SearchBlock | None:
        entry = self._blocks.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        with contextlib.suppress(KeyError):  # evicted meanwhile by another thread: still valid
            self._blocks.move_to_end(key)
        return entry

    @staticmethod
    def _cost(entry: SearchBlock) -> int:
        return len(entry[0]) + 56 * len(entry[1])

    def put(self, key: tuple[int, int], entry: SearchBlock) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            if key in self._blocks:
                return
            self._blocks[key] = entry
            self.size += self._cost(entry)
            while self.size > self.capacity and self._blocks:
                _, evicted = self._blocks.popitem(last=False)
                self.size -= self._cost(evicted)

    def drop_file(self, file_no: int) -> None:
        with self._lock:
            for key in [k for k in self._blocks if k[0] == file_no]:
                self.size -= self._cost(self._blocks.pop(key))


@dataclass
class TableMeta:
    entries: int
    tombstones: int
    min_seq: int
    max_seq: int
    min_key: bytes
    max_key: bytes


class TableWriter:
    """Writes one SSTable from keys in ascending order (see the module docstring)."""

    def __init__(
        self,
        handle: FileHandle,
        block_size: int = 4096,
        bloom_bits_per_key: float = 10.0,
    ) -> None:
        self.handle = handle
        self.block_size = block_size
        self.bloom_bits = bloom_bits_per_key
        self._keys: list[bytes] = []
        self._values: list[bytes | None] = []
        self._block_bytes = 0
        self._index_keys: list[bytes] = []
        self._index_handles: list[tuple[int, int]] = []
        self._all_keys: list[bytes] = []
        self.entries = 0
        self.tombstones = 0
        self.bytes_written = 0

    def add_many(self, keys: Sequence[bytes], values: Sequence[bytes | None]) -> None:
        """Add sorted, unique keys (all greater than any added before).

        A block closes at the first entry that brings it to ``block_size`` bytes; the entry is
        found by ``bisect`` over a running sum of entry sizes, so the work per entry stays in C.
        """
        if len(keys) != len(values):
            raise ValueError("as many values as keys are needed")
        if None in values:
            pairs = zip(keys, values, strict=True)
            sizes = [len(k) + (6 if v is None else len(v) + 6) for k, v in pairs]
        else:
            lengths = map(add, map(len, keys), map(len, values))  # type: ignore[arg-type]
            sizes = list(map(add, lengths, itertools.repeat(6)))
        ends = list(accumulate(sizes))
        n = len(keys)
        start = 0
        base = 0  # bytes of this call's entries before ``start``
        while start < n:
            need = self.block_size - self._block_bytes + base
            stop = bisect_left(ends, need, start)
            if stop >= n:
                self._keys.extend(keys[start:])
                self._values.extend(values[start:])
                self._block_bytes += ends[-1] - base
                return
            self._keys.extend(keys[start : stop + 1])
            self._values.extend(values[start : stop + 1])
            self._finish_block()
            base = ends[stop]
            start = stop + 1

    def _finish_block(self) -> None:
        if not self._keys:
            return
        payload = encode_data_block(self._keys, self._values)
        offset = self._write_block(payload)
        self._index_keys.append(self._keys[-1])
        self._index_handles.append((offset, len(payload)))
        self._all_keys.extend(self._keys)
        self.entries += len(self._keys)
        self.tombstones += self._values.count(None)
        self._keys = []
        self._values = []
        self._block_bytes = 0

    def _write_block(self, payload: bytes) -> int:
        data = payload + _U32.pack(crc32(payload))
        self.bytes_written += len(data)
        return self.handle.append(data)

    @property
    def estimated_size(self) -> int:
        return self.bytes_written + self._block_bytes

    def finish(self, min_seq: int, max_seq: int) -> TableMeta:
        self._finish_block()
        if not self.entries:
            raise ValueError("an SSTable needs at least one entry")
        keys = self._all_keys
        if self.bloom_bits > 0:
            bloom = BloomFilter.build(keys, len(keys), self.bloom_bits).encode()
        else:
            bloom = b""
        meta = TableMeta(self.entries, self.tombstones, min_seq, max_seq, keys[0], keys[-1])
        meta_payload = (
            _META_FIXED.pack(meta.entries, meta.tombstones, min_seq, max_seq)
            + struct.pack("<H", len(meta.min_key))
            + meta.min_key
            + struct.pack("<H", len(meta.max_key))
            + meta.max_key
        )
        n = len(self._index_keys)
        index_payload = b"".join(
            (
                _U32.pack(n),
                struct.pack(f"<{n}H", *map(len, self._index_keys)),
                b"".join(struct.pack("<QI", o, s) for o, s in self._index_handles),
                b"".join(self._index_keys),
            )
        )
        handles = []
        for payload in (bloom, meta_payload, index_payload):
            handles.append((self._write_block(payload), len(payload)))
        fields = (*handles[0], *handles[1], *handles[2])
        body = struct.pack("<QIQIQI", *fields)
        footer = _FOOTER.pack(*fields, crc32(body), MAGIC)
        self.handle.append(footer)
        self.bytes_written += len(footer)
        self._all_keys = []
        return meta


class TableReader:
    """An open SSTable: index and filter in memory, data blocks read and checked on demand."""

    def __init__(self, handle: FileHandle, file_no: int, cache: BlockCache) -> None:
        self.handle = handle
        self.path = handle.path
        self.file_no = file_no
        self.cache = cache
        self.bytes_read = 0
        size = handle.size()
        if size < FOOTER_SIZE:
            raise CorruptionError(self.path, 0, f"file of {size} bytes is shorter than a footer")
        footer_at = size - FOOTER_SIZE
        footer = handle.read_at(footer_at, FOOTER_SIZE)
        self.bytes_read += FOOTER_SIZE
        *fields, crc, magic = _FOOTER.unpack(footer)
        if magic != MAGIC:
            raise CorruptionError(self.path, footer_at + 40, f"bad magic {magic:#x}")
        if crc32(footer[:36]) != crc:
            raise CorruptionError(self.path, footer_at, "footer fails its checksum")
        filter_h, meta_h, index_h = (fields[0], fields[1]), (fields[2], fields[3]), fields[4:6]
        for offset, length in (filter_h, meta_h, index_h):
            if offset + length + 4 > footer_at:
                raise CorruptionError(self.path, footer_at, "footer points past the data")
        bloom = self._read_block(*filter_h)
        self.bloom = BloomFilter.decode(bloom) if bloom else None
        self.meta = self._decode_meta(self._read_block(*meta_h), meta_h[0])
        self._decode_index(self._read_block(index_h[0], index_h[1]), index_h[0])
        self.size = size
        self.min_key = self.meta.min_key
        self.max_key = self.meta.max_key

    def _read_block(self, offset: int, length: int) -> bytes:
        data = self.handle.read_at(offset, length + 4)
        self.bytes_read += len(data)
        if len(data) != length + 4:
            raise CorruptionError(self.path, offset, "block truncated")
        payload = data[:length]
        if crc32(payload) != _U32.unpack_from(data, length)[0]:
            raise CorruptionError(self.path, offset, "block fails its checksum")
        return payload

    def _decode_meta(self, buf: bytes, offset: int) -> TableMeta:
        try:
            entries, tombs, min_seq, max_seq = _META_FIXED.unpack_from(buf, 0)
            pos = _META_FIXED.size
            (n,) = struct.unpack_from("<H", buf, pos)
            min_key = buf[pos + 2 : pos + 2 + n]
            pos += 2 + n
            (n,) = struct.unpack_from("<H", buf, pos)
            max_key = buf[pos + 2 : pos + 2 + n]
        except struct.error as exc:
            raise CorruptionError(self.path, offset, f"meta block malformed: {exc}") from None
        return TableMeta(entries, tombs, min_seq, max_seq, min_key, max_key)

    def _decode_index(self, buf: bytes, offset: int) -> None:
        try:
            n = _U32.unpack_from(buf, 0)[0]
            klens = struct.unpack_from(f"<{n}H", buf, 4)
            pos = 4 + 2 * n
            flat = struct.unpack_from("<" + "QI" * n, buf, pos)
            pos += 12 * n
            ko = list(accumulate(klens, initial=pos))
            if ko[-1] != len(buf):
                raise ValueError("index block size mismatch")
        except (struct.error, ValueError) as exc:
            raise CorruptionError(self.path, offset, f"index block malformed: {exc}") from None
        self.index_keys = [buf[a:b] for a, b in pairwise(ko)]
        self.block_offsets = list(flat[0::2])
        self.block_sizes = list(flat[1::2])

    def search_block(self, i: int) -> SearchBlock:
        """Data block ``i`` checked and ready for point reads, from the cache or the file."""
        offset = self.block_offsets[i]
        cache_key = (self.file_no, offset)
        cached = self.cache.get(cache_key)
        if cached is not None:
            return cached
        payload = self._read_block(offset, self.block_sizes[i])
        try:
            entry = search_block(payload)
        except (struct.error, ValueError) as exc:
            raise CorruptionError(self.path, offset, f"data block malformed: {exc}") from None
        self.cache.put(cache_key, entry)
        return entry

    def block(self, i: int) -> Block:
        payload = self.search_block(i)[0]
        try:
            return decode_data_block(payload)
        except (struct.error, ValueError) as exc:
            offset = self.block_offsets[i]
            raise CorruptionError(self.path, offset, f"data block malformed: {exc}") from None

    def get(self, key: bytes) -> bytes | Missing | None:
        """The value (``None`` for a tombstone) or :data:`MISSING`."""
        i = bisect_left(self.index_keys, key)
        if i == len(self.index_keys):
            return MISSING
        block = self.search_block(i)
        keys = block[1]
        j = bisect_left(keys, key)
        if j == len(keys) or keys[j] != key:
            return MISSING
        try:
            return value_in_block(block, j)
        except (struct.error, ValueError) as exc:
            offset = self.block_offsets[i]
            raise CorruptionError(self.path, offset, f"data block malformed: {exc}") from None

    def iterate(self, start: bytes | None = None) -> Iterator[tuple[bytes, bytes | None]]:
        """Entries with key ≥ ``start``, in order, tombstones included."""
        i = 0 if start is None else bisect_left(self.index_keys, start)
        first = True
        for b in range(i, len(self.index_keys)):
            keys, values = self.block(b)
            j = bisect_left(keys, start) if first and start is not None else 0
            first = False
            yield from zip(keys[j:], values[j:], strict=True)

    def blocks(self) -> Iterator[Block]:
        """The data blocks in order, each read, checked and decoded when the caller asks for
        it, without filling the cache (compaction streams its inputs through this)."""
        for b, offset in enumerate(self.block_offsets):
            payload = self._read_block(offset, self.block_sizes[b])
            try:
                yield decode_data_block(payload)
            except (struct.error, ValueError) as exc:
                raise CorruptionError(self.path, offset, f"data block malformed: {exc}") from None

    def read_all(self) -> Block:
        """Every entry (for tests and tools; compaction streams through :meth:`blocks`)."""
        keys: list[bytes] = []
        values: list[bytes | None] = []
        for bk, bv in self.blocks():
            keys += bk
            values += bv
        return keys, values

    def close(self) -> None:
        self.handle.close()
