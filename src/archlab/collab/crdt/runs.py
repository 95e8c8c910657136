"""Runs of a text CRDT in document order, indexed by a counted B-tree (codex 5.4).

A *run* is a stretch of characters one replica typed one after the other: ids
``(replica, counter) .. (replica, counter + length - 1)``, each character's left origin the one
before it, all sharing the run's right origin. Typing a paragraph is one run, not a thousand
items, which is the run-length compression Yjs and diamond-types rely on.

The runs sit in the leaves of a B-tree whose every node counts the characters below it twice:
``visible`` (not deleted) and ``total`` (tombstones included). Finding the run that holds the
n-th visible character walks down one path, so a local position maps to an item in
O(log n) steps, and the full-sequence position of a run is the sum of its left siblings' counts
on the way up, also O(log n) (fanout bounded by :data:`MAX_FANOUT`). Leaves are linked so the
integration scan walks runs in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

Id = tuple[int, int]  # (replica, counter)

#: Most runs in a leaf / children of an inner node before it splits in two.
MAX_FANOUT = 64


class Run:
    """Consecutive characters from one replica; ``text`` is None once a tombstone is collected."""

    __slots__ = (
        "counter",
        "deleted",
        "leaf",
        "length",
        "origin_left",
        "origin_right",
        "replica",
        "text",
    )

    def __init__(
        self,
        replica: int,
        counter: int,
        text: str | None,
        length: int,
        origin_left: Id | None,
        origin_right: Id | None,
        deleted: bool = False,
    ) -> None:
        self.replica = replica
        self.counter = counter
        self.text = text
        self.length = length
        self.origin_left = origin_left
        self.origin_right = origin_right
        self.deleted = deleted
        self.leaf: Leaf | None = None

    @property
    def visible(self) -> int:
        return 0 if self.deleted else self.length

    @property
    def last_id(self) -> Id:
        return (self.replica, self.counter + self.length - 1)

    def __repr__(self) -> str:
        mark = "×" if self.deleted else ""
        return f"Run({self.replica}:{self.counter}+{self.length}{mark} {self.text!r})"


class Node:
    """An inner node: children (nodes or leaves) and their summed counts."""

    __slots__ = ("children", "parent", "total", "visible")

    def __init__(self, children: list[Node | Leaf]) -> None:
        self.children = children
        self.parent: Node | None = None
        self.visible = 0
        self.total = 0
        for child in children:
            child.parent = self
            self.visible += child.visible
            self.total += child.total


class Leaf:
    """A leaf: runs in document order, their summed counts, and the next leaf."""

    __slots__ = ("next", "parent", "runs", "total", "visible")

    def __init__(self, runs: list[Run]) -> None:
        self.runs = runs
        self.parent: Node | None = None
        self.next: Leaf | None = None
        self.visible = 0
        self.total = 0
        for run in runs:
            run.leaf = self
            self.visible += run.visible
            self.total += run.length


class RunTree:
    """The document's runs in order, with O(log n) position lookups and updates."""

    def __init__(self) -> None:
        self.first = Leaf([])
        self.root: Node | Leaf = self.first

    @property
    def visible(self) -> int:
        return self.root.visible

    @property
    def total(self) -> int:
        return self.root.total

    def __iter__(self) -> Iterator[Run]:
        leaf: Leaf | None = self.first
        while leaf is not None:
            yield from leaf.runs
            leaf = leaf.next

    def runs_from(self, run: Run) -> Iterator[Run]:
        """``run`` and every run after it, in document order."""
        leaf = run.leaf
        assert leaf is not None
        index = leaf.runs.index(run)
        current: Leaf | None = leaf
        while current is not None:
            yield from current.runs[index:]
            index = 0
            current = current.next

    # -- lookups ---------------------------------------------------------------------------

    def find_visible(self, position: int) -> tuple[Run, int]:
        """The run holding visible character ``position`` (0-based) and the offset in it."""
        if not 0 <= position < self.root.visible:
            raise IndexError(f"visible position {position} outside 0..{self.root.visible - 1}")
        node: Node | Leaf = self.root
        while isinstance(node, Node):
            for child in node.children:
                if position < child.visible:
                    node = child
                    break
                position -= child.visible
        for run in node.runs:
            if not run.deleted:
                if position < run.length:
                    return run, position
                position -= run.length
        raise AssertionError("visible counts out of step with the runs")

    def position_of(self, run: Run) -> int:
        """The full-sequence position (tombstones counted) of ``run``'s first character."""
        return self._before(run, lambda r: r.length, lambda n: n.total)

    def visible_before(self, run: Run) -> int:
        """How many visible characters precede ``run``."""
        return self._before(run, lambda r: r.visible, lambda n: n.visible)

    @staticmethod
    def _before(
        run: Run, in_run: Callable[[Run], int], in_subtree: Callable[[Node | Leaf], int]
    ) -> int:
        """The sum over everything left of ``run``: the runs before it in its leaf, then every
        left sibling's subtree on the way up (O(log n) with the counts each node keeps)."""
        leaf = run.leaf
        assert leaf is not None
        total = 0
        for other in leaf.runs:
            if other is run:
                break
            total += in_run(other)
        child: Node | Leaf = leaf
        parent = leaf.parent
        while parent is not None:
            for sibling in parent.children:
                if sibling is child:
                    break
                total += in_subtree(sibling)
            child, parent = parent, parent.parent
        return total

    def next_run(self, run: Run) -> Run | None:
        leaf = run.leaf
        assert leaf is not None
        index = leaf.runs.index(run) + 1
        current: Leaf | None = leaf
        while current is not None:
            if index < len(current.runs):
                return current.runs[index]
            current, index = current.next, 0
        return None

    # -- updates ---------------------------------------------------------------------------

    def adjust(self, run: Run, visible: int, total: int) -> None:
        """Add ``visible`` / ``total`` to the counts above ``run`` (after it changed)."""
        node: Node | Leaf | None = run.leaf
        while node is not None:
            node.visible += visible
            node.total += total
            node = node.parent

    def append(self, run: Run) -> None:
        """Put ``run`` at the end of the document."""
        leaf = self._last_leaf()
        self._insert_into(leaf, len(leaf.runs), run)

    def insert_after(self, anchor: Run | None, run: Run) -> None:
        """Put ``run`` right after ``anchor`` (at the very start when ``anchor`` is None)."""
        if anchor is None:
            self._insert_into(self.first, 0, run)
            return
        leaf = anchor.leaf
        assert leaf is not None
        self._insert_into(leaf, leaf.runs.index(anchor) + 1, run)

    def split(self, run: Run, offset: int) -> Run:
        """Cut ``run`` at ``offset`` (0 < offset < length); returns the right part, placed after."""
        assert 0 < offset < run.length
        right = Run(
            run.replica,
            run.counter + offset,
            None if run.text is None else run.text[offset:],
            run.length - offset,
            (run.replica, run.counter + offset - 1),
            run.origin_right,
            run.deleted,
        )
        if run.text is not None:
            run.text = run.text[:offset]
        visible_before = run.visible
        run.length = offset
        self.adjust(run, run.visible - visible_before, -right.length)
        self.insert_after(run, right)
        return right

    def remove(self, run: Run) -> None:
        """Take ``run`` out of the tree (used when collected tombstones are merged)."""
        leaf = run.leaf
        assert leaf is not None
        self.adjust(run, -run.visible, -run.length)
        leaf.runs.remove(run)
        run.leaf = None

    def _last_leaf(self) -> Leaf:
        node = self.root
        while isinstance(node, Node):
            node = node.children[-1]
        return node

    def _insert_into(self, leaf: Leaf, index: int, run: Run) -> None:
        leaf.runs.insert(index, run)
        run.leaf = leaf
        self.adjust(run, run.visible, run.length)
        if len(leaf.runs) > MAX_FANOUT:
            self._split_leaf(leaf)

    def _split_leaf(self, leaf: Leaf) -> None:
        half = len(leaf.runs) // 2
        moved = leaf.runs[half:]
        del leaf.runs[half:]
        sibling = Leaf(moved)
        leaf.visible -= sibling.visible
        leaf.total -= sibling.total
        sibling.next, leaf.next = leaf.next, sibling
        self._add_sibling(leaf, sibling)

    def _add_sibling(self, node: Node | Leaf, sibling: Node | Leaf) -> None:
        parent = node.parent
        if parent is None:
            self.root = Node([node, sibling])
            return
        parent.children.insert(parent.children.index(node) + 1, sibling)
        sibling.parent = parent
        if len(parent.children) > MAX_FANOUT:
            half = len(parent.children) // 2
            moved = parent.children[half:]
            del parent.children[half:]
            new = Node(moved)
            parent.visible -= new.visible
            parent.total -= new.total
            self._add_sibling(parent, new)
