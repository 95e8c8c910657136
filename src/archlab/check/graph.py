"""The dependency graph of transactions (codex 5.1, as in Elle).

Nodes are transactions that committed or may have (``ok`` and ``info``), numbered by their
operation index; edges carry one or more types (ww, wr, rw, process, realtime), each with the
sentence that justifies it. Real-time and process order are added as a transitive reduction
(:func:`add_order_edges`). The graph algorithms the cycle search uses live here too: Tarjan's
strongly connected components (iteratively: histories are long) and shortest paths by
breadth-first search. The search itself is :mod:`~archlab.check.cycles`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence

from archlab.check.anomalies import EDGE_PREFERENCE, EdgeType, Step, txn_where
from archlab.check.history import Operation

BASE: frozenset[EdgeType] = frozenset({"ww", "wr", "rw"})
ORDER: frozenset[EdgeType] = frozenset({"process", "realtime"})


class DependencyGraph:
    """Typed edges between transactions (by operation index), each with its reason."""

    def __init__(self, ops: Iterable[Operation]) -> None:
        self.ops: dict[int, Operation] = {op.index: op for op in ops}
        self.out: dict[int, dict[int, dict[EdgeType, str]]] = {i: {} for i in self.ops}

    def add(self, source: Operation, target: Operation, type: EdgeType, why: str) -> None:
        """Add ``source → target``; self-loops and transactions not in the graph are skipped."""
        a, b = source.index, target.index
        if a == b or a not in self.out or b not in self.ops:
            return
        self.out[a].setdefault(b, {}).setdefault(type, why)

    def edges(self) -> Iterable[tuple[int, int, dict[EdgeType, str]]]:
        for a, targets in self.out.items():
            for b, types in targets.items():
                yield a, b, types

    def count(self, type: EdgeType) -> int:
        return sum(1 for _, _, types in self.edges() if type in types)

    def successors(
        self, allowed: Collection[EdgeType], within: Collection[int] | None = None
    ) -> Callable[[int], list[int]]:
        """A function giving a node's successors through edges of the allowed types."""
        out = self.out

        def next_of(a: int) -> list[int]:
            return [
                b
                for b, types in out[a].items()
                if (within is None or b in within) and any(t in allowed for t in types)
            ]

        return next_of

    def step(self, a: int, b: int, allowed: Collection[EdgeType]) -> Step:
        types = self.out[a][b]
        kind = next(t for t in EDGE_PREFERENCE if t in types and t in allowed)
        return Step(self.ops[a], self.ops[b], kind, types[kind])


def add_order_edges(graph: DependencyGraph, ops: Sequence[Operation]) -> None:
    """Real-time and process order: T1 → T2 when T1 completed before T2 was invoked.

    Only a transitive reduction is added: each transaction gets edges from the completed
    transactions that no other completed-before transaction follows (the frontier at its
    invocation), so the edge count stays near n times the concurrency, not n squared.
    """
    events: list[tuple[int, int, Operation]] = []
    for op in ops:
        if op.index not in graph.ops:
            continue
        events.append((op.call, 1, op))
        if op.status == "ok":
            events.append((op.ret, 0, op))
    events.sort(key=lambda e: (e[0], e[1]))
    frontier: dict[int, Operation] = {}
    before: dict[int, list[Operation]] = {}
    last_of_process: dict[object, Operation] = {}
    for _, is_call, op in events:
        if is_call:
            before[op.index] = list(frontier.values())
            for earlier in before[op.index]:
                graph.add(
                    earlier,
                    op,
                    "realtime",
                    f"{txn_where(earlier)} completed before {txn_where(op)} was invoked",
                )
            previous = last_of_process.get(op.process)
            if previous is not None and previous.status == "ok" and previous.ret < op.call:
                graph.add(
                    previous,
                    op,
                    "process",
                    f"process {op.process!r} ran {txn_where(previous)} and then {txn_where(op)}",
                )
            last_of_process[op.process] = op
        else:
            for earlier in before.pop(op.index, []):
                frontier.pop(earlier.index, None)
            frontier[op.index] = op


def components(nodes: Iterable[int], successors: Callable[[int], list[int]]) -> list[list[int]]:
    """Tarjan's strongly connected components (iterative: histories are long), singletons
    included, in reverse topological order: a component comes after every one it reaches."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    found: list[list[int]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[int, Iterator[int]]] = [(root, iter(successors(root)))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors(child))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    found.append(component)
    return found


def strongly_connected(
    nodes: Iterable[int], successors: Callable[[int], list[int]]
) -> list[list[int]]:
    """The strongly connected components that hold a cycle (the graph has no self-loops)."""
    return [c for c in components(nodes, successors) if len(c) > 1]


def shortest_path(
    start: int, goal: int, successors: Callable[[int], list[int]]
) -> list[int] | None:
    """Nodes of a shortest path from ``start`` to ``goal`` (both included), or None."""
    parent: dict[int, int] = {start: start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [goal]
            while path[-1] != start:
                path.append(parent[path[-1]])
            return path[::-1]
        for child in successors(node):
            if child not in parent:
                parent[child] = node
                queue.append(child)
    return None
