"""The buffer pool: a fixed number of page frames in memory (codex 4.1).

Pages are read from the file on a miss (counted as a page read, its CRC checked) and kept
decoded as :class:`~archlab.storage.btree.page.Node` objects. When every frame is taken, a
clean page is evicted by the replacement policy:

``lru``
    least recently used first (an ordered dict moved to the end on each access);
``clock``
    second chance: a hand sweeps the frames, clearing reference bits, and evicts the first
    page whose bit is already clear; an access only sets the bit (cheaper than LRU's reorder).

Dirty pages are never evicted (no-steal): they reach the data file only at a checkpoint,
after their images are in the write-ahead log (see :mod:`archlab.storage.btree.tree`), so the
data file always holds the last checkpoint's tree. The tree checkpoints before the dirty
pages could fill the pool.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

from archlab.errors import ConfigError
from archlab.storage.btree.page import Node

Replacement = Literal["lru", "clock"]


class PoolFullError(RuntimeError):
    """Every frame holds a dirty page (the tree checkpoints before this can happen)."""


class BufferPool:
    def __init__(self, frames: int, policy: Replacement, load: Callable[[int], Node]) -> None:
        if frames < 16:
            raise ConfigError(f"buffer pool of {frames} frames; at least 16 are needed")
        if policy not in ("lru", "clock"):
            raise ConfigError(f"buffer pool policy {policy!r}: expected lru or clock")
        self.frames = frames
        self.policy = policy
        self._load = load
        self.pages: dict[int, Node] = {}
        self._lru: OrderedDict[int, None] = OrderedDict()
        self._ring: list[int] = []
        self._hand = 0
        self.dirty: dict[int, Node] = {}
        self.reads = 0
        self.hits = 0
        self.evictions = 0

    def get(self, page_no: int) -> Node:
        node = self.pages.get(page_no)
        if node is not None:
            self.hits += 1
            if self.policy == "clock":
                node.ref = True
            else:
                self._lru.move_to_end(page_no)
            return node
        self._make_room()
        node = self._load(page_no)
        self.reads += 1
        self._admit(node)
        return node

    def add(self, node: Node) -> None:
        """A page created in memory (a split's new node): admitted dirty."""
        self._make_room()
        self._admit(node)
        self.mark_dirty(node)

    def _admit(self, node: Node) -> None:
        self.pages[node.page_no] = node
        if self.policy == "clock":
            node.ref = True
            self._ring.append(node.page_no)
        else:
            self._lru[node.page_no] = None

    def mark_dirty(self, node: Node) -> None:
        if not node.dirty:
            node.dirty = True
            self.dirty[node.page_no] = node

    def clean_all(self) -> list[Node]:
        """The dirty pages, now marked clean (their images are being written)."""
        nodes = list(self.dirty.values())
        for node in nodes:
            node.dirty = False
        self.dirty.clear()
        return nodes

    def _make_room(self) -> None:
        if len(self.pages) < self.frames:
            return
        if len(self.dirty) >= len(self.pages):
            raise PoolFullError("every buffer-pool frame holds a dirty page")
        if self.policy == "clock":
            ring = self._ring
            while True:
                if self._hand >= len(ring):
                    self._hand = 0
                page_no = ring[self._hand]
                node = self.pages[page_no]
                if node.dirty:
                    self._hand += 1
                elif node.ref:
                    node.ref = False
                    self._hand += 1
                else:
                    ring[self._hand] = ring[-1]
                    ring.pop()
                    break
        else:
            for page_no in self._lru:
                if not self.pages[page_no].dirty:
                    break
            del self._lru[page_no]
        del self.pages[page_no]
        self.evictions += 1

    def drop_all(self) -> None:
        self.pages.clear()
        self._lru.clear()
        self._ring.clear()
        self.dirty.clear()
        self._hand = 0
