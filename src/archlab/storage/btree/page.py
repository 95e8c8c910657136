"""B+-tree pages: fixed-size, checksummed, one node each (codex 4.1).

Byte format of a page of ``page_size`` bytes (little-endian, zero-padded to the page size)::

    header   := crc32 u32 | kind u8 | n u16 | link u32            (11 bytes)
    leaf     := header | key_len u16 × n | value_len u32 × n | keys | values
                link = the next leaf's page number (0: rightmost leaf)
    internal := header | child u32 × (n+1) | key_len u16 × n | keys
                child i holds keys < key i ≤ keys of child i+1; link unused
    free     := header (n = 0) | link = the next free page (0: the last)
    meta     := page 0: crc32 u32 | magic u64 | page_size u32 | root u32 | page_count u32
                | height u32 | leaves u64 | leaf_bytes u64 | internals u64 | entries u64
                | checkpoint u64 | free_head u32 | free_pages u32

Pages that deletes emptied by merging are kept on a free list threaded through their ``link``
fields, its head in the meta page, and are reused before the file grows.

The CRC covers the whole page after it, padding included, and is checked on every read from
the file: a flipped bit raises :class:`~archlab.errors.CorruptionError` with the file and the
page's offset. In memory a page is a :class:`Node` with decoded key and value lists (binary
search with ``bisect``) and the number of bytes its encoding takes (``used``), kept up to date
by every change so that splits know when a page overflows.

Size limit: an entry (key + value + 6 bytes) may take at most a quarter of a page
(:func:`max_entry`), so that any overflowing page splits into two that fit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from itertools import accumulate, pairwise
from zlib import crc32

HEADER = struct.Struct("<IBHI")
HEADER_SIZE = HEADER.size
LEAF, INTERNAL, FREE = 1, 2, 3
LEAF_ENTRY_OVERHEAD = 6
INTERNAL_ENTRY_OVERHEAD = 6  # key length u16 + child u32
META = struct.Struct("<IQIIIIQQQQQII")
META_MAGIC = 0x4152_4348_4254_5245


def max_entry(page_size: int) -> int:
    """The largest ``len(key) + len(value)`` one leaf entry may have."""
    return (page_size - HEADER_SIZE - 8) // 4 - LEAF_ENTRY_OVERHEAD


class Node:
    """A decoded page (see the module docstring)."""

    __slots__ = (
        "children",
        "dirty",
        "free",
        "keys",
        "leaf",
        "link",
        "page_no",
        "ref",
        "used",
        "values",
    )

    def __init__(
        self,
        page_no: int,
        leaf: bool,
        keys: list[bytes],
        values: list[bytes],
        children: list[int],
        link: int = 0,
    ) -> None:
        self.page_no = page_no
        self.leaf = leaf
        self.keys = keys
        self.values = values
        self.children = children
        self.link = link
        self.free = False  # on the free list: no entries, link = the next free page
        self.dirty = False
        self.ref = True
        self.used = self.measure()

    def reset(self, leaf: bool, keys: list[bytes], values: list[bytes], children: list[int],
              link: int = 0) -> None:  # fmt: skip
        """Make this page (a free one being reused, or a freed one) hold new contents."""
        self.leaf = leaf
        self.keys = keys
        self.values = values
        self.children = children
        self.link = link
        self.free = False
        self.used = self.measure()

    def measure(self) -> int:
        if self.leaf:
            return (
                HEADER_SIZE
                + LEAF_ENTRY_OVERHEAD * len(self.keys)
                + sum(map(len, self.keys))
                + sum(map(len, self.values))
            )
        return HEADER_SIZE + 4 + INTERNAL_ENTRY_OVERHEAD * len(self.keys) + sum(map(len, self.keys))

    def encode(self, page_size: int) -> bytes:
        n = len(self.keys)
        if self.free:
            rest = struct.pack("<BHI", FREE, 0, self.link)
            rest += bytes(page_size - 4 - len(rest))
            return struct.pack("<I", crc32(rest)) + rest
        if self.leaf:
            body = b"".join(
                (
                    struct.pack(f"<{n}H", *map(len, self.keys)),
                    struct.pack(f"<{n}I", *map(len, self.values)),
                    b"".join(self.keys),
                    b"".join(self.values),
                )
            )
            kind = LEAF
        else:
            body = b"".join(
                (
                    struct.pack(f"<{n + 1}I", *self.children),
                    struct.pack(f"<{n}H", *map(len, self.keys)),
                    b"".join(self.keys),
                )
            )
            kind = INTERNAL
        rest = struct.pack("<BHI", kind, n, self.link) + body
        if len(rest) + 4 > page_size:
            raise ValueError(f"page {self.page_no}: {len(rest) + 4} bytes exceed {page_size}")
        rest += bytes(page_size - 4 - len(rest))
        return struct.pack("<I", crc32(rest)) + rest


def decode(page_no: int, data: bytes) -> Node:
    """A page's node; raises ``ValueError`` when the page is malformed or fails its CRC."""
    crc, kind, n, link = HEADER.unpack_from(data, 0)
    if crc32(memoryview(data)[4:]) != crc:
        raise ValueError("page fails its checksum")
    pos = HEADER_SIZE
    if kind == LEAF:
        klens = struct.unpack_from(f"<{n}H", data, pos)
        vlens = struct.unpack_from(f"<{n}I", data, pos + 2 * n)
        ko = list(accumulate(klens, initial=pos + 6 * n))
        vo = list(accumulate(vlens, initial=ko[-1]))
        if vo[-1] > len(data):
            raise ValueError("leaf entries run past the page")
        keys = [data[a:b] for a, b in pairwise(ko)]
        values = [data[a:b] for a, b in pairwise(vo)]
        return Node(page_no, True, keys, values, [], link)
    if kind == INTERNAL:
        children = list(struct.unpack_from(f"<{n + 1}I", data, pos))
        pos += 4 * (n + 1)
        klens = struct.unpack_from(f"<{n}H", data, pos)
        ko = list(accumulate(klens, initial=pos + 2 * n))
        if ko[-1] > len(data):
            raise ValueError("internal keys run past the page")
        keys = [data[a:b] for a, b in pairwise(ko)]
        return Node(page_no, False, keys, [], children, link)
    if kind == FREE:
        node = Node(page_no, True, [], [], [], link)
        node.free = True
        return node
    raise ValueError(f"unknown page kind {kind}")


@dataclass
class Meta:
    """Page 0: where the root is and the counters the statistics need after a reopen."""

    page_size: int
    root: int
    page_count: int
    height: int
    leaves: int
    leaf_bytes: int
    internals: int
    entries: int
    checkpoint: int
    free_head: int = 0
    free_pages: int = 0

    def encode(self) -> bytes:
        body = META.pack(
            0,
            META_MAGIC,
            self.page_size,
            self.root,
            self.page_count,
            self.height,
            self.leaves,
            self.leaf_bytes,
            self.internals,
            self.entries,
            self.checkpoint,
            self.free_head,
            self.free_pages,
        )[4:]
        rest = body + bytes(self.page_size - 4 - len(body))
        return struct.pack("<I", crc32(rest)) + rest

    @classmethod
    def decode(cls, data: bytes) -> Meta:
        if len(data) < META.size:
            raise ValueError("meta page truncated")
        crc, magic, page_size, *rest = META.unpack_from(data, 0)
        if magic != META_MAGIC:
            raise ValueError(f"bad magic {magic:#x}")
        if len(data) != page_size or crc32(memoryview(data)[4:]) != crc:
            raise ValueError("meta page fails its checksum")
        return cls(page_size, *rest)
