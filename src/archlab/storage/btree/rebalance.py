"""B+-tree deletes that shrink the tree: merge and redistribution, and a page free list
(codex 4.1).

After a delete, a page whose entries take less than ``merge_threshold`` of its space (InnoDB's
``MERGE_THRESHOLD``, 50% by default) is rebalanced with a sibling under the same parent, the
left one when there is one:

* **merge** when both fit in one page: the right page's entries move into the left page
  (leaves: the sibling link skips the emptied page; internal pages: the separator comes down
  between the two key lists), the parent loses the separator and the child pointer, and the
  emptied page goes on the free list;
* **redistribution** otherwise: the two pages' entries are split half and half by bytes and
  the parent's separator is replaced (a longer separator may overflow the parent, which then
  splits as on insert).

A parent left under the threshold is rebalanced in turn; a root with a single child is
replaced by that child and the tree loses a level. Freed pages are threaded into a list
through their ``link`` field (head and count in the meta page) and reused by splits before the
file grows. Everything happens to pages in the buffer pool, logged as the delete that caused
it: recovery replays the delete, which repeats the same merges, so crash safety is unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archlab.storage.btree.bufferpool import BufferPool
from archlab.storage.btree.page import HEADER_SIZE, INTERNAL_ENTRY_OVERHEAD, Meta, Node

Path = list[tuple[Node, int]]


class DeleteRebalancing:
    """Merge, redistribution and the free list (a mixin of ``BTreeStore``)."""

    # The store's state this half reads and changes (set by BTreeStore).
    page_size: int
    pool: BufferPool
    meta: Meta
    root: Node
    merges: dict[str, int]
    _scans: list[dict[int, tuple[list[bytes], list[bytes], int]]]

    if TYPE_CHECKING:  # provided by BTreeStore

        def _split(self, path: Path, node: Node, rightmost: bool) -> None: ...
        def _split_point(self, sizes: list[int], rightmost: bool) -> int: ...
        def _save_for_scans(self, leaf: Node) -> None: ...
        def _merge_threshold_bytes(self) -> float: ...

    # ------------------------------------------------------------------ the free list

    def _allocate(self, leaf: bool, keys: list[bytes], values: list[bytes],
                  children: list[int], link: int = 0) -> Node:  # fmt: skip
        """A page for new contents: the head of the free list, or a new page at the end."""
        m = self.meta
        if m.free_head:
            node = self.pool.get(m.free_head)
            if not node.free:
                raise AssertionError(f"free list head {m.free_head} is not a free page")
            m.free_head = node.link
            m.free_pages -= 1
            node.reset(leaf, keys, values, children, link)
            self.pool.mark_dirty(node)
            return node
        node = Node(m.page_count, leaf, keys, values, children, link)
        m.page_count += 1
        self.pool.add(node)
        return node

    def _free(self, node: Node) -> None:
        if node.leaf and self._scans:
            self._save_for_scans(node)
        node.reset(True, [], [], [], self.meta.free_head)
        node.free = True
        self.meta.free_head = node.page_no
        self.meta.free_pages += 1
        self.pool.mark_dirty(node)

    # ------------------------------------------------------------------ rebalancing

    def _underfull(self, node: Node) -> bool:
        return node.used - HEADER_SIZE < self._merge_threshold_bytes()

    def _rebalance(self, path: Path, node: Node) -> None:
        """``node`` (not the root) fell under the threshold: merge or redistribute it."""
        parent, i = path[-1]
        left_i = i - 1 if i > 0 else i
        left = self.pool.get(parent.children[left_i])
        right = self.pool.get(parent.children[left_i + 1])
        if self._scans and node.leaf:
            self._save_for_scans(left)
            self._save_for_scans(right)
        if node.leaf:
            merged = self._leaves(parent, left_i, left, right)
        else:
            merged = self._internals(parent, left_i, left, right)
        self.pool.mark_dirty(parent)
        if parent.used > self.page_size:  # a longer separator after redistribution
            self._split(path[:-1], parent, False)
            return
        if not merged:
            return
        if parent is self.root:
            if not parent.keys:
                self._collapse_root(parent)
        elif self._underfull(parent):
            self._rebalance(path[:-1], parent)

    def _leaves(self, parent: Node, at: int, left: Node, right: Node) -> bool:
        m = self.meta
        if left.used + right.used - HEADER_SIZE <= self.page_size:
            left.keys += right.keys
            left.values += right.values
            left.link = right.link
            left.used = left.measure()
            self._drop_separator(parent, at)
            self._free(right)
            m.leaves -= 1
            m.leaf_bytes -= HEADER_SIZE
            self.merges["leaf"] += 1
            self.pool.mark_dirty(left)
            return True
        keys, values = left.keys + right.keys, left.values + right.values
        sizes = [len(k) + len(v) + 6 for k, v in zip(keys, values, strict=True)]
        cut = self._split_point(sizes, False)
        left.keys, left.values = keys[:cut], values[:cut]
        right.keys, right.values = keys[cut:], values[cut:]
        left.used, right.used = left.measure(), right.measure()
        self._replace_separator(parent, at, right.keys[0])
        self.merges["redistribution"] += 1
        self.pool.mark_dirty(left)
        self.pool.mark_dirty(right)
        return False

    def _internals(self, parent: Node, at: int, left: Node, right: Node) -> bool:
        separator = parent.keys[at]
        keys = [*left.keys, separator, *right.keys]
        children = left.children + right.children
        whole = HEADER_SIZE + 4 + sum(len(k) + INTERNAL_ENTRY_OVERHEAD for k in keys)
        if whole <= self.page_size:
            left.keys, left.children = keys, children
            left.used = left.measure()
            self._drop_separator(parent, at)
            self._free(right)
            self.meta.internals -= 1
            self.merges["internal"] += 1
            self.pool.mark_dirty(left)
            return True
        cut = self._split_point([len(k) + INTERNAL_ENTRY_OVERHEAD for k in keys], False)
        left.keys, left.children = keys[:cut], children[: cut + 1]
        right.keys, right.children = keys[cut + 1 :], children[cut + 1 :]
        left.used, right.used = left.measure(), right.measure()
        self._replace_separator(parent, at, keys[cut])
        self.merges["redistribution"] += 1
        self.pool.mark_dirty(left)
        self.pool.mark_dirty(right)
        return False

    @staticmethod
    def _drop_separator(parent: Node, at: int) -> None:
        separator = parent.keys.pop(at)
        del parent.children[at + 1]
        parent.used -= len(separator) + INTERNAL_ENTRY_OVERHEAD

    @staticmethod
    def _replace_separator(parent: Node, at: int, separator: bytes) -> None:
        parent.used += len(separator) - len(parent.keys[at])
        parent.keys[at] = separator

    def _collapse_root(self, root: Node) -> None:
        """An internal root left with one child: the child becomes the root."""
        child = self.pool.get(root.children[0])
        self._free(root)
        self.root = child
        self.meta.root = child.page_no
        self.meta.height -= 1
        self.meta.internals -= 1
        self.merges["root"] += 1
