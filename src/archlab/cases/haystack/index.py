"""The in-memory needle index of a Haystack store (codex 10.4), kept to a few bytes a photo.

Haystack's point is that the metadata of every photo fits in memory, so a read needs no disk
I/O to find its photo. A Python ``dict`` of tuples would spend well over 100 bytes a photo;
this index is an open-addressing hash table over four flat arrays (key u64, alternate key u32,
offset in 8-byte units u32, size u32: 20 bytes a slot), grown at 3/4 load, with linear
probing and tombstones for removals. :attr:`NeedleIndex.bytes_per_entry` is what the
experiment compares with a kernel inode.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

_EMPTY = 0xFFFFFFFF
_GONE = 0xFFFFFFFE
_MIX = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


class NeedleIndex:
    """(key, alternate key) -> (offset, size) for the live needles of one volume."""

    def __init__(self, capacity: int = 1024) -> None:
        size = 16
        while size < capacity:
            size *= 2
        self._alloc(size)
        self._count = 0
        self._used = 0  # live entries + tombstones

    def _alloc(self, size: int) -> None:
        self._keys = array("Q", bytes(8 * size))
        self._alts = array("I", bytes(4 * size))
        self._offsets = array("I", bytes(4 * size))
        self._sizes = array("I", [_EMPTY]) * size
        self._mask = size - 1

    def __len__(self) -> int:
        return self._count

    @property
    def bytes_per_entry(self) -> float:
        """Memory of the four arrays divided by the live entries."""
        total = sum(
            a.itemsize * len(a) for a in (self._keys, self._alts, self._offsets, self._sizes)
        )
        return total / max(1, self._count)

    def _slot(self, key: int, alt: int) -> int:
        """The slot holding (key, alt), or the first free slot on its probe sequence."""
        i = ((key * _MIX) & _MASK64 ^ alt) & self._mask
        free = -1
        while True:
            size = self._sizes[i]
            if size == _EMPTY:
                return i if free < 0 else free
            if size == _GONE:
                if free < 0:
                    free = i
            elif self._keys[i] == key and self._alts[i] == alt:
                return i
            i = (i + 1) & self._mask

    def get(self, key: int, alt: int) -> tuple[int, int] | None:
        i = self._slot(key, alt)
        size = self._sizes[i]
        if size >= _GONE or self._keys[i] != key or self._alts[i] != alt:
            return None
        return self._offsets[i] * 8, size

    def put(self, key: int, alt: int, offset: int, size: int) -> None:
        if offset % 8 or offset // 8 > 0xFFFFFFFF or size >= _GONE:
            raise ValueError(f"needle at {offset} of {size} bytes does not fit the index")
        if (self._used + 1) * 4 > len(self._sizes) * 3:
            self._grow()
        i = self._slot(key, alt)
        fresh = self._sizes[i] >= _GONE
        if self._sizes[i] == _EMPTY:
            self._used += 1
        self._keys[i], self._alts[i] = key, alt
        self._offsets[i], self._sizes[i] = offset // 8, size
        self._count += fresh

    def remove(self, key: int, alt: int) -> bool:
        i = self._slot(key, alt)
        if self._sizes[i] >= _GONE or self._keys[i] != key or self._alts[i] != alt:
            return False
        self._sizes[i] = _GONE
        self._count -= 1
        return True

    def items(self) -> Iterator[tuple[int, int, int, int]]:
        """(key, alt, offset, size) of every live entry, in slot order."""
        for i, size in enumerate(self._sizes):
            if size < _GONE:
                yield self._keys[i], self._alts[i], self._offsets[i] * 8, size

    def _grow(self) -> None:
        entries = list(self.items())
        live = max(16, len(entries))
        size = len(self._sizes)
        while live * 2 > size:
            size *= 2
        self._alloc(size)
        self._count = self._used = 0
        for key, alt, offset, data_size in entries:
            self.put(key, alt, offset, data_size)
