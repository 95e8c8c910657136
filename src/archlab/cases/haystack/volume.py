"""A Haystack volume (codex 10.4): one big append-only file of needles, and its index file.

Writing a photo appends one needle to the volume file and records (key, alternate key,
offset, size) in the in-memory :class:`~archlab.cases.haystack.index.NeedleIndex`. Reading is
one ``pread`` of the whole needle at the offset the index gives: no directory lookup, no inode
read, no second request. The needle's own header is checked on the way out (key, cookie,
checksum, deleted flag), so a stale index entry or a guessed URL never returns a photo.

The *index file* is a checkpoint of the in-memory index, written in batches after the volume
(as in the paper, it may lag behind): at start the index is rebuilt from it, and the needles
written after its last record are read from the volume itself. A needle cut short or failing
its checksum at the tail (a crash mid-append) is cut off. Deleting sets the needle's deleted
flag in place and drops it from memory; the index file is not rewritten, so a deleted needle
it still lists is found out on its first read. :meth:`Volume.compact` copies the live needles
to a new file and swaps it in, giving back the space of deleted and overwritten ones.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from archlab.cases.haystack import needle as nd
from archlab.cases.haystack.index import NeedleIndex
from archlab.errors import CorruptionError

SUPERBLOCK = b"HAYSTAK1"
#: key u64, alternate key u32, flags u8, offset u64, size u32.
INDEX_RECORD = struct.Struct("<QIBQI")


@dataclass(frozen=True)
class Recovery:
    """What opening a volume found."""

    from_index_file: int
    from_volume_scan: int
    torn_bytes_cut: int


class Volume:
    """One volume file ``<dir>/volume.dat`` with ``volume.idx`` beside it."""

    def __init__(self, directory: str | Path, sync: bool = False, index_batch: int = 256) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "volume.dat"
        self.index_path = self.directory / "volume.idx"
        self.sync = sync
        self.index_batch = index_batch
        self.index = NeedleIndex()
        self._pending: list[bytes] = []
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._end = os.fstat(self._fd).st_size
        if self._end == 0:
            os.write(self._fd, SUPERBLOCK)
            self._end = len(SUPERBLOCK)
        elif os.pread(self._fd, len(SUPERBLOCK), 0) != SUPERBLOCK:
            os.close(self._fd)
            raise CorruptionError(self.path, 0, "not a Haystack volume (bad superblock)")
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_RANDOM)
        self.recovery = self._recover()

    # -- the API ---------------------------------------------------------------------------

    def put(self, key: int, alt_key: int, cookie: int, data: bytes) -> int:
        """Append a photo; a later put of the same keys replaces it. Returns its offset."""
        blob = nd.encode(nd.Needle(cookie, key, alt_key, 0, data))
        offset = self._end
        os.pwrite(self._fd, blob, offset)
        if self.sync:
            os.fdatasync(self._fd)
        self._end += len(blob)
        self.index.put(key, alt_key, offset, len(data))
        self._pending.append(INDEX_RECORD.pack(key, alt_key, 0, offset, len(data)))
        if len(self._pending) >= self.index_batch:
            self.flush_index()
        return offset

    def get(self, key: int, alt_key: int, cookie: int) -> bytes | None:
        """The photo, or None when absent, deleted, or the cookie is wrong."""
        found = self.index.get(key, alt_key)
        if found is None:
            return None
        offset, size = found
        item = nd.parse(os.pread(self._fd, nd.padded_length(size), offset))
        if item.key != key or item.alt_key != alt_key:
            raise CorruptionError(self.path, offset, f"the index points {key}/{alt_key} elsewhere")
        if item.deleted:
            self.index.remove(key, alt_key)
            return None
        return item.data if item.cookie == cookie else None

    def delete(self, key: int, alt_key: int, cookie: int) -> bool:
        """Flag the photo deleted (the cookie must match); False if there was none."""
        found = self.index.get(key, alt_key)
        if found is None:
            return False
        offset, size = found
        item = nd.parse(os.pread(self._fd, nd.padded_length(size), offset))
        if item.cookie != cookie:
            return False
        os.pwrite(self._fd, bytes([item.flags | nd.FLAG_DELETED]), offset + nd.FLAGS_OFFSET)
        if self.sync:
            os.fdatasync(self._fd)
        self.index.remove(key, alt_key)
        return True

    def flush_index(self) -> None:
        """Append the index records not yet in the index file (after the volume is synced)."""
        if not self._pending:
            return
        if self.sync:
            os.fdatasync(self._fd)
        with open(self.index_path, "ab") as out:
            out.write(b"".join(self._pending))
        self._pending.clear()

    def compact(self) -> int:
        """Rewrite the volume with only its live needles; returns the bytes given back."""
        before = self._end
        fresh = self.directory / "volume.compact"
        fresh_index = self.directory / "volume.idx.compact"
        entries = sorted(self.index.items(), key=lambda e: e[2])
        index = NeedleIndex(len(entries) * 2)
        records = []
        with open(fresh, "wb") as out:
            out.write(SUPERBLOCK)
            position = len(SUPERBLOCK)
            for key, alt, offset, size in entries:
                blob = os.pread(self._fd, nd.padded_length(size), offset)
                if nd.parse(blob).deleted:
                    continue
                out.write(blob)
                index.put(key, alt, position, size)
                records.append(INDEX_RECORD.pack(key, alt, 0, position, size))
                position += len(blob)
            out.flush()
            os.fsync(out.fileno())
        fresh_index.write_bytes(b"".join(records))
        os.replace(fresh_index, self.index_path)
        os.replace(fresh, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR)
        self._end, self.index, self._pending = position, index, []
        return before - position

    @property
    def size_bytes(self) -> int:
        return self._end

    def close(self) -> None:
        if self._fd >= 0:
            self.flush_index()
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Volume:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fileno(self) -> int:
        return self._fd

    # -- recovery --------------------------------------------------------------------------

    def _recover(self) -> Recovery:
        indexed, scan_from = self._load_index_file()
        scanned = 0
        position = scan_from
        while position < self._end:
            head = os.pread(self._fd, nd.HEADER.size, position)
            try:
                size = nd.read_size(head)
                item = nd.parse(os.pread(self._fd, nd.padded_length(size), position))
            except nd.NeedleError:
                break
            if item.deleted:
                self.index.remove(item.key, item.alt_key)
            else:
                self.index.put(item.key, item.alt_key, position, size)
            self._pending.append(
                INDEX_RECORD.pack(item.key, item.alt_key, item.flags, position, size)
            )
            scanned += 1
            position += nd.padded_length(size)
        torn = self._end - position
        if torn:
            os.ftruncate(self._fd, position)
            self._end = position
        self.flush_index()
        return Recovery(indexed, scanned, torn)

    def _load_index_file(self) -> tuple[int, int]:
        """Index records into memory; returns (records used, where the volume scan starts)."""
        try:
            raw = self.index_path.read_bytes()
        except FileNotFoundError:
            return 0, len(SUPERBLOCK)
        whole = len(raw) - len(raw) % INDEX_RECORD.size
        scan_from, used = len(SUPERBLOCK), 0
        for key, alt, flags, offset, size in INDEX_RECORD.iter_unpack(raw[:whole]):
            end = offset + nd.padded_length(size)
            if end > self._end:
                break  # the index is ahead of a volume cut short: scan the rest
            if flags & nd.FLAG_DELETED:
                self.index.remove(key, alt)
            else:
                self.index.put(key, alt, offset, size)
            used += 1
            scan_from = max(scan_from, end)
        if whole != len(raw) or used * INDEX_RECORD.size != whole:
            with open(self.index_path, "r+b") as out:
                out.truncate(used * INDEX_RECORD.size)
        return used, scan_from
