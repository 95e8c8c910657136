"""The B+-tree (codex 4.1): pages in one file, a buffer pool, a WAL, checkpoints.

Structure. Leaves hold the entries, sorted, and link to their right sibling (scans follow the
links); internal nodes hold separator keys and child page numbers. A lookup reads one page per
level (``height`` page accesses, a page read from the file only on a buffer-pool miss).

Splits. A page that overflows splits by bytes, half and half, except when the page is the
rightmost of its level and the new key went to its end (ascending inserts): then the left page
keeps ``rightmost_fill`` (90%, PostgreSQL's leaf fillfactor) and only the overflow moves right,
so sequential keys pack pages ~90% full while random keys settle near ln 2 ≈ 69% (Yao).

Deletes shrink the tree (:mod:`archlab.storage.btree.rebalance`): a page left under
``merge_threshold`` of its space (InnoDB's 50%) merges with a sibling or takes entries from it,
parents follow, the root collapses when it has one child, and freed pages go on a free list
that splits reuse. ``merge_threshold=0`` keeps deletes lazy, as PostgreSQL's nbtree does
between vacuums: pages are never merged and an emptied page waits for inserts into its range.

Crash safety: a write-ahead log with redo-only recovery and no-steal checkpoints. Every
``put``/``delete`` appends a logical record (kind, key, value; CRC-framed) to ``wal.log``
before it changes pages in memory, and is acknowledged per the sync policy (``always``: after
the log is synced). Dirty pages never reach ``data.db`` between checkpoints. A checkpoint
(when the dirty pages reach ``dirty_limit`` of the pool or the log reaches ``wal_limit``
bytes, and at close) (1) appends the image of every dirty page and of the meta page to the log
between BEGIN and END records and syncs it, (2) writes the pages in place and syncs the data
file, (3) truncates the log. So the data file always holds either the last checkpoint's tree,
or a partial in-place write that the images in the log repair. Recovery applies the images of
the last complete BEGIN..END batch (if any; a torn batch is ignored, the data file was not
touched yet), then replays the logical records after it, then checkpoints. The proof is the
test suite's crash sweep: every crash point of a workload, torn last write included, reopens
to a tree holding every acknowledged write and passing :meth:`BTreeStore.check`.
"""

from __future__ import annotations

import itertools
import struct
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from archlab.errors import ConfigError, CorruptionError
from archlab.storage.api import (
    StoreClosedError,
    StoreLimitError,
    SyncPolicy,
    check_key,
    check_sync,
    check_value,
)
from archlab.storage.btree.bufferpool import BufferPool, Replacement
from archlab.storage.btree.page import (
    HEADER_SIZE,
    INTERNAL_ENTRY_OVERHEAD,
    LEAF_ENTRY_OVERHEAD,
    Meta,
    Node,
    decode,
    max_entry,
)
from archlab.storage.btree.rebalance import DeleteRebalancing
from archlab.storage.faultfs import FileSystem, OsFileSystem, join
from archlab.storage.records import read_records
from archlab.storage.wal import WriteAheadLog

_PUT, _DELETE, _BEGIN, _PAGE, _END = 1, 2, 3, 4, 5
_REC = struct.Struct("<BI")
_CKPT = struct.Struct("<BQI")


@dataclass
class BTreeOptions:
    page_size: int = 4096
    frames: int = 4096
    replacement: Replacement = "clock"
    dirty_limit: float = 0.5
    wal_limit: int = 64 << 20
    rightmost_fill: float = 0.9
    group_bytes: int = 1 << 20
    group_ms: float = 10.0
    merge_threshold: float = 0.5  # InnoDB's MERGE_THRESHOLD default; 0: lazy deletes

    def __post_init__(self) -> None:
        if self.page_size < 512 or self.page_size > 65536 or self.page_size % 512:
            raise ConfigError(f"page_size={self.page_size}: a multiple of 512 up to 65536")
        if not 0.05 <= self.dirty_limit <= 0.9:
            raise ConfigError(f"dirty_limit={self.dirty_limit}: expected 0.05 to 0.9")
        if not 0.5 <= self.rightmost_fill <= 0.98:
            raise ConfigError(f"rightmost_fill={self.rightmost_fill}: expected 0.5 to 0.98")
        if not 0 <= self.merge_threshold <= 0.5:
            raise ConfigError(
                f"merge_threshold={self.merge_threshold}: expected 0 (lazy deletes) to 0.5"
            )


class BTreeStore(DeleteRebalancing):
    """A crash-safe B+-tree on real files (see the module docstring)."""

    engine = "btree"

    def __init__(
        self,
        path: str,
        sync: SyncPolicy = "batch",
        fs: FileSystem | None = None,
        **options: Any,
    ) -> None:
        try:
            self.options = BTreeOptions(**options)
        except TypeError as exc:
            raise ConfigError(f"B+-tree store: {exc}") from None
        self.path = str(path)
        self.policy_name = check_sync(sync)
        self.fs: FileSystem = fs if fs is not None else OsFileSystem()
        o = self.options
        self.page_size = o.page_size
        self.max_entry = max_entry(o.page_size)
        self._lock = threading.RLock()
        self._closed = False
        self._scans: list[dict[int, tuple[list[bytes], list[bytes], int]]] = []
        self.splits = {"leaf": 0, "internal": 0}
        self.merges = {"leaf": 0, "internal": 0, "redistribution": 0, "root": 0}
        self.page_writes = 0
        self.checkpoints = 0
        self.user_bytes = 0
        self.data_bytes_written = 0
        self.wal_bytes = 0
        self.fs.makedirs(self.path)
        self.data_path = join(self.path, "data.db")
        self.wal_path = join(self.path, "wal.log")
        self.pool = BufferPool(o.frames, o.replacement, self._load)
        self.dirty_max = max(4, int(o.frames * o.dirty_limit))
        self._open()

    # ------------------------------------------------------------------ files and recovery

    def _open(self) -> None:
        fresh = not self.fs.exists(self.data_path)
        self.data = self.fs.open(self.data_path)
        wal_handle = self.fs.open(self.wal_path)
        if fresh:
            self.fs.sync_dir(self.path)
        log = read_records(wal_handle.read_at(0, wal_handle.size()), self.wal_path)
        if log.torn_bytes:
            wal_handle.truncate(log.valid_end)
            wal_handle.sync()
        o = self.options
        self.wal = WriteAheadLog(wal_handle, self.policy_name, o.group_bytes, o.group_ms)
        logical_from = self._apply_last_checkpoint(log.payloads, log.offsets)
        logical = [
            (p, off)
            for p, off in zip(log.payloads[logical_from:], log.offsets[logical_from:], strict=True)
            if p[0] in (_PUT, _DELETE)
        ]
        if self.data.size() == 0:
            if logical:
                raise CorruptionError(self.data_path, 0, "empty data file but a non-empty log")
            self._initialise()
        self.meta = self._read_meta()
        self.root = self.pool.get(self.meta.root)
        for payload, offset in logical:
            self._replay(payload, offset)
        if logical or log.torn_bytes:
            self.checkpoint()

    def _initialise(self) -> None:
        """A new tree: meta page and one empty leaf, written by a checkpoint."""
        self.meta = Meta(self.page_size, 1, 2, 1, 1, HEADER_SIZE, 0, 0, 0)
        self.pool.drop_all()
        self.root = Node(1, True, [], [], [])
        self.pool.add(self.root)
        self.checkpoint()

    def _read_meta(self) -> Meta:
        data = self.data.read_at(0, self.page_size)
        try:
            meta = Meta.decode(data)
        except (ValueError, struct.error) as exc:
            raise CorruptionError(self.data_path, 0, f"meta page: {exc}") from None
        if meta.page_size != self.page_size:
            raise ConfigError(
                f"{self.data_path}: pages are {meta.page_size} bytes, opened with "
                f"page_size={self.page_size}"
            )
        return meta

    def _load(self, page_no: int) -> Node:
        offset = page_no * self.page_size
        if page_no <= 0 or page_no >= self.meta.page_count:
            raise CorruptionError(
                self.data_path, offset, f"reference to page {page_no} of {self.meta.page_count}"
            )
        data = self.data.read_at(offset, self.page_size)
        if len(data) != self.page_size:
            raise CorruptionError(self.data_path, offset, "page truncated")
        try:
            return decode(page_no, data)
        except (ValueError, struct.error) as exc:
            raise CorruptionError(self.data_path, offset, f"page {page_no}: {exc}") from None

    def _apply_last_checkpoint(self, payloads: list[bytes], offsets: list[int]) -> int:
        """Write the images of the last complete checkpoint batch; return where redo starts."""
        end = None
        for i in range(len(payloads) - 1, -1, -1):
            if payloads[i][0] == _END:
                end = i
                break
        if end is None:
            return 0
        _, _number, count = _CKPT.unpack_from(payloads[end], 0)
        begin = end - count - 1
        if begin < 0 or payloads[begin][0] != _BEGIN:
            raise CorruptionError(self.wal_path, offsets[end], "checkpoint END without BEGIN")
        for payload in payloads[begin + 1 : end]:
            if payload[0] != _PAGE:
                raise CorruptionError(self.wal_path, offsets[end], "checkpoint batch malformed")
            page_no = struct.unpack_from("<I", payload, 1)[0]
            self.data.write_at(page_no * self.page_size, payload[5:])
        self.data.sync()
        return end + 1

    def _replay(self, payload: bytes, offset: int) -> None:
        try:
            kind, klen = _REC.unpack_from(payload, 0)
        except struct.error:
            raise CorruptionError(self.wal_path, offset, "log record too short") from None
        key = payload[_REC.size : _REC.size + klen]
        if len(key) != klen:
            raise CorruptionError(self.wal_path, offset, "log record truncated")
        if kind == _PUT:
            self._insert(key, payload[_REC.size + klen :])
        else:
            self._remove(key)

    def checkpoint(self) -> None:
        """Make the data file hold the current tree (see the module docstring)."""
        with self._lock:
            m = self.meta
            m.checkpoint += 1
            nodes = self.pool.clean_all()
            images = [(n.page_no, n.encode(self.page_size)) for n in nodes]
            images.append((0, m.encode()))
            wal = self.wal
            wal.append(_CKPT.pack(_BEGIN, m.checkpoint, len(images)))
            for page_no, image in images:
                wal.append(struct.pack("<BI", _PAGE, page_no) + image)
            wal.append(_CKPT.pack(_END, m.checkpoint, len(images)))
            wal.sync()
            for page_no, image in sorted(images):
                self.data.write_at(page_no * self.page_size, image)
            self.data.sync()
            self.page_writes += len(images)
            self.data_bytes_written += len(images) * self.page_size
            self.checkpoints += 1
            self.wal_bytes += wal.bytes_written
            wal.bytes_written = 0
            wal.reset()

    # ------------------------------------------------------------------ writes

    def put(self, key: bytes, value: bytes) -> None:
        key = check_key(key)
        value = check_value(value)
        if len(key) + len(value) > self.max_entry:
            raise StoreLimitError(
                f"entry of {len(key) + len(value)} bytes; with {self.page_size}-byte pages "
                f"key + value may take at most {self.max_entry} bytes"
            )
        self._write(_PUT, key, value)

    def delete(self, key: bytes) -> None:
        self._write(_DELETE, check_key(key), b"")

    def _write(self, kind: int, key: bytes, value: bytes) -> None:
        with self._lock:
            if self._closed:
                raise StoreClosedError(f"B+-tree {self.path} is closed")
            if (
                len(self.pool.dirty) >= self.dirty_max - 2 * self.meta.height - 4
                or self.wal.end >= self.options.wal_limit
            ):
                self.checkpoint()
            wal = self.wal
            position = wal.append(_REC.pack(kind, len(key)) + key + value)
            if kind == _PUT:
                self._insert(key, value)
                self.user_bytes += len(key) + len(value)
            else:
                self._remove(key)
                self.user_bytes += len(key)
        wal.commit(position)

    def sync(self) -> None:
        self.wal.sync()

    def _descend(self, key: bytes) -> tuple[list[tuple[Node, int]], Node]:
        path: list[tuple[Node, int]] = []
        node = self.root
        get = self.pool.get
        while not node.leaf:
            i = bisect_right(node.keys, key)
            path.append((node, i))
            node = get(node.children[i])
        return path, node

    def _insert(self, key: bytes, value: bytes) -> None:
        path, leaf = self._descend(key)
        if self._scans:
            self._save_for_scans(leaf)
        keys = leaf.keys
        i = bisect_left(keys, key)
        m = self.meta
        if i < len(keys) and keys[i] == key:
            old = leaf.values[i]
            leaf.values[i] = value
            delta = len(value) - len(old)
        else:
            keys.insert(i, key)
            leaf.values.insert(i, value)
            delta = len(key) + len(value) + LEAF_ENTRY_OVERHEAD
            m.entries += 1
        leaf.used += delta
        m.leaf_bytes += delta
        self.pool.mark_dirty(leaf)
        if leaf.used > self.page_size:
            at_end = i == len(keys) - 1
            self._split(path, leaf, at_end and self._rightmost(path))

    @staticmethod
    def _rightmost(path: list[tuple[Node, int]]) -> bool:
        return all(i == len(node.children) - 1 for node, i in path)

    def _split_point(self, sizes: list[int], rightmost: bool) -> int:
        """How many entries stay left: half the bytes, or ``rightmost_fill`` of a page."""
        target = (
            self.options.rightmost_fill * (self.page_size - HEADER_SIZE)
            if rightmost
            else sum(sizes) / 2
        )
        total = 0
        for i, size in enumerate(sizes):
            if total + size > target and i > 0:
                return min(i, len(sizes) - 1)
            total += size
        return len(sizes) - 1

    def _split(self, path: list[tuple[Node, int]], node: Node, rightmost: bool) -> None:
        m = self.meta
        if node.leaf:
            sizes = [
                len(k) + len(v) + LEAF_ENTRY_OVERHEAD
                for k, v in zip(node.keys, node.values, strict=True)
            ]
            cut = self._split_point(sizes, rightmost)
            right = self._allocate(True, node.keys[cut:], node.values[cut:], [], node.link)
            new_no = right.page_no
            del node.keys[cut:]
            del node.values[cut:]
            node.link = new_no
            node.used -= right.used - HEADER_SIZE
            separator = right.keys[0]
            m.leaves += 1
            m.leaf_bytes += HEADER_SIZE
            self.splits["leaf"] += 1
        else:
            sizes = [len(k) + INTERNAL_ENTRY_OVERHEAD for k in node.keys]
            cut = self._split_point(sizes, rightmost)
            separator = node.keys[cut]
            right = self._allocate(False, node.keys[cut + 1 :], [], node.children[cut + 1 :])
            new_no = right.page_no
            del node.keys[cut:]
            del node.children[cut + 1 :]
            node.used = node.measure()
            m.internals += 1
            self.splits["internal"] += 1
        self.pool.mark_dirty(node)
        if not path:
            root = self._allocate(False, [separator], [], [node.page_no, new_no])
            self.root = root
            m.root = root.page_no
            m.height += 1
            m.internals += 1
            return
        parent, i = path.pop()
        parent.keys.insert(i, separator)
        parent.children.insert(i + 1, new_no)
        parent.used += len(separator) + INTERNAL_ENTRY_OVERHEAD
        self.pool.mark_dirty(parent)
        if parent.used > self.page_size:
            self._split(path, parent, rightmost and i == len(parent.children) - 2)

    def _merge_threshold_bytes(self) -> float:
        return self.options.merge_threshold * (self.page_size - HEADER_SIZE)

    def _remove(self, key: bytes) -> None:
        path, leaf = self._descend(key)
        keys = leaf.keys
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            if self._scans:
                self._save_for_scans(leaf)
            size = len(key) + len(leaf.values[i]) + LEAF_ENTRY_OVERHEAD
            del keys[i]
            del leaf.values[i]
            leaf.used -= size
            self.meta.leaf_bytes -= size
            self.meta.entries -= 1
            self.pool.mark_dirty(leaf)
            if path and self.options.merge_threshold and self._underfull(leaf):
                self._rebalance(path, leaf)

    def _save_for_scans(self, leaf: Node) -> None:
        for saved in self._scans:
            if leaf.page_no not in saved:
                saved[leaf.page_no] = (list(leaf.keys), list(leaf.values), leaf.link)

    # ------------------------------------------------------------------ reads

    def get(self, key: bytes) -> bytes | None:
        if type(key) is not bytes:
            key = check_key(key)
        with self._lock:
            node = self.root
            get = self.pool.get
            while not node.leaf:
                node = get(node.children[bisect_right(node.keys, key)])
            keys = node.keys
            i = bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                return node.values[i]
            return None

    def scan(
        self, start: bytes | None = None, end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs in key order along the leaf links, as of the call (copy-on-write leaves)."""
        with self._lock:
            if self._closed:
                raise StoreClosedError(f"B+-tree {self.path} is closed")
            saved: dict[int, tuple[list[bytes], list[bytes], int]] = {}
            self._scans.append(saved)
            if start is None:
                node = self.root
                while not node.leaf:
                    node = self.pool.get(node.children[0])
            else:
                _, node = self._descend(start)
            first = node.page_no
        return self._scan(saved, first, start, end)

    def _scan(
        self,
        saved: dict[int, tuple[list[bytes], list[bytes], int]],
        page_no: int,
        start: bytes | None,
        end: bytes | None,
    ) -> Iterator[tuple[bytes, bytes]]:
        try:
            while page_no:
                with self._lock:
                    if page_no in saved:
                        keys, values, link = saved[page_no]
                    else:
                        node = self.pool.get(page_no)
                        keys, values, link = node.keys[:], node.values[:], node.link
                i = 0 if start is None else bisect_left(keys, start)
                j = len(keys) if end is None else bisect_left(keys, end)
                yield from zip(keys[i:j], values[i:j], strict=True)
                if j < len(keys):
                    return
                page_no = link
        finally:
            with self._lock:
                if saved in self._scans:
                    self._scans.remove(saved)

    # ------------------------------------------------------------------ checks and statistics

    def check(self) -> int:
        """Verify the tree's invariants by walking it; return the number of entries."""
        with self._lock:
            leaves: list[Node] = []
            self._check_node(self.root, None, None, 1, leaves)
            for a, b in itertools.pairwise(leaves):
                if a.link != b.page_no:
                    raise AssertionError(f"leaf {a.page_no} links to {a.link}, not {b.page_no}")
            if leaves and leaves[-1].link != 0:
                raise AssertionError("rightmost leaf has a sibling link")
            count = sum(len(leaf.keys) for leaf in leaves)
            if count != self.meta.entries:
                raise AssertionError(f"{count} entries, meta says {self.meta.entries}")
            self._check_free_list()
            return count

    def _check_free_list(self) -> None:
        m = self.meta
        seen: set[int] = set()
        page_no = m.free_head
        while page_no:
            if page_no in seen or len(seen) > m.free_pages:
                raise AssertionError(f"the free list loops or runs past {m.free_pages} pages")
            node = self.pool.get(page_no)
            if not node.free:
                raise AssertionError(f"page {page_no} on the free list is in use")
            seen.add(page_no)
            page_no = node.link
        if len(seen) != m.free_pages:
            raise AssertionError(f"{len(seen)} pages on the free list, meta says {m.free_pages}")
        in_tree = m.leaves + m.internals
        if in_tree + len(seen) + 1 != m.page_count:
            raise AssertionError(
                f"{in_tree} pages in the tree + {len(seen)} free + the meta page != "
                f"{m.page_count} pages in the file"
            )

    def _check_node(
        self, node: Node, lo: bytes | None, hi: bytes | None, depth: int, leaves: list[Node]
    ) -> None:
        if node.keys != sorted(node.keys) or len(set(node.keys)) != len(node.keys):
            raise AssertionError(f"page {node.page_no}: keys out of order")
        if node.keys and lo is not None and node.keys[0] < lo:
            raise AssertionError(f"page {node.page_no}: key below its separator")
        if node.keys and hi is not None and node.keys[-1] >= hi:
            raise AssertionError(f"page {node.page_no}: key at or above its separator")
        if node.used != node.measure() or node.used > self.page_size:
            raise AssertionError(f"page {node.page_no}: size {node.used} vs {node.measure()}")
        if node.leaf:
            if depth != self.meta.height:
                raise AssertionError(f"leaf {node.page_no} at depth {depth} of {self.meta.height}")
            leaves.append(node)
            return
        bounds = [lo, *node.keys, hi]
        for i, child in enumerate(node.children):
            self._check_node(self.pool.get(child), bounds[i], bounds[i + 1], depth + 1, leaves)

    def stats(self) -> dict[str, Any]:
        m = self.meta
        leaf_capacity = m.leaves * (self.page_size - HEADER_SIZE)
        return {
            "engine": "btree",
            "sync": self.policy_name,
            "page_size": self.page_size,
            "height": m.height,
            "entries": m.entries,
            "pages": m.page_count,
            "leaves": m.leaves,
            "internal_pages": m.internals,
            "file_bytes": self.data.size(),
            "page_reads": self.pool.reads,
            "page_hits": self.pool.hits,
            "page_writes": self.page_writes,
            "leaf_splits": self.splits["leaf"],
            "internal_splits": self.splits["internal"],
            "leaf_merges": self.merges["leaf"],
            "internal_merges": self.merges["internal"],
            "redistributions": self.merges["redistribution"],
            "free_pages": m.free_pages,
            "avg_leaf_fill": (m.leaf_bytes - m.leaves * HEADER_SIZE) / leaf_capacity
            if leaf_capacity
            else 0.0,
            "checkpoints": self.checkpoints,
            "user_bytes": self.user_bytes,
            "wal_bytes": self.wal_bytes + self.wal.bytes_written,
            "data_bytes_written": self.data_bytes_written,
            "disk_bytes_written": self.wal_bytes + self.wal.bytes_written + self.data_bytes_written,
            "write_amplification": (
                self.wal_bytes + self.wal.bytes_written + self.data_bytes_written
            )
            / self.user_bytes
            if self.user_bytes
            else 0.0,
            "buffer_frames": self.pool.frames,
            "buffer_policy": self.pool.policy,
        }

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                self.checkpoint()
            finally:
                self._closed = True
                self.wal.close()
                self.data.close()

    def __enter__(self) -> BTreeStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
