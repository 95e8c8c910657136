"""The dependency graph of transactions and the search for its cycles (codex 5.1, as in Elle).

Nodes are transactions that committed or may have (``ok`` and ``info``), numbered by their
operation index; edges carry one or more types (ww, wr, rw, process, realtime), each with the
sentence that justifies it. :func:`find_cycles` finds every strongly connected component with
Tarjan's algorithm (iteratively: histories are long) and, inside each, the shortest witness
of each anomaly that can be decided exactly:

- G0 exists iff the ww-only subgraph has a cycle (a ww edge inside one of its SCCs);
- G1c iff some wr edge lies inside an SCC of the ww+wr subgraph;
- G-single iff some rw edge a → b has b reaching a through ww+wr edges, which is answered
  with reachability bitsets over the condensation of that subgraph;
- G-nonadjacent (two or more rw edges, never two in a row): a search over the graph with
  the kind of the edge just taken as part of the state, as Elle does. In the doubled graph
  whose nodes are (transaction, arrived by rw?), an rw edge may leave only a node reached by
  ww or wr; a closed walk with non-adjacent rw edges exists iff some rw edge lies inside a
  strongly connected component of that graph (one Tarjan pass), and a breadth-first search
  over (node, last edge rw?, second rw seen?) from a few such edges gives the witness;
- G2 (two or more rw edges): where a component has no cycle of the kinds above, every
  cycle in it is one, and the shortest through any rw edge is the witness; otherwise a few
  rw edges are tried with a breadth-first search that counts rw edges.

With real-time edges (strict serializability), cycles through a real-time edge in an SCC of
the full graph are reported as ``<kind>-realtime``, classified by the rw edges they hold.
Witnesses are shortest paths found by breadth-first search, so the cycles shown are short.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence

from archlab.check.anomalies import EDGE_PREFERENCE, Anomaly, EdgeType, Step, txn_where
from archlab.check.history import Operation

#: How many rw edges of a component to try when looking for a G2 beside other cycles.
G2_ATTEMPTS = 20
#: Witnesses reported per anomaly kind (the count of all is in the explanation).
MAX_PER_KIND = 10

BASE: frozenset[EdgeType] = frozenset({"ww", "wr", "rw"})
ORDER: frozenset[EdgeType] = frozenset({"process", "realtime"})
_BASE_ORDER: tuple[EdgeType, ...] = ("ww", "wr", "rw")


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


def find_cycles(graph: DependencyGraph, *, realtime: bool) -> list[Anomaly]:
    """Every cycle anomaly of ``graph``: one shortest witness per component and kind."""
    witnesses: dict[str, list[list[Step]]] = {}

    def report(kind: str, cycle: list[Step]) -> None:
        witnesses.setdefault(kind, []).append(cycle)

    nodes = list(graph.ops)
    for component in strongly_connected(nodes, graph.successors(BASE)):
        _classify(graph, set(component), report)
    if realtime:
        allowed = BASE | ORDER
        for component in strongly_connected(nodes, graph.successors(allowed)):
            members = set(component)
            through = graph.successors(allowed, members)
            for a in component:
                hit = next(
                    (
                        b
                        for b, types in graph.out[a].items()
                        if b in members and not BASE & types.keys()
                    ),
                    None,
                )
                if hit is None:
                    continue
                path = shortest_path(hit, a, through)
                assert path is not None
                cycle = [graph.step(a, hit, ORDER), *_steps(graph, path, allowed)]
                report(_kind_of(cycle) + "-realtime", cycle)
                break
    anomalies = []
    for kind, cycles in witnesses.items():
        for cycle in sorted(cycles, key=len)[:MAX_PER_KIND]:
            anomalies.append(
                Anomaly(
                    kind,
                    _explain(kind, cycle, len(cycles)),
                    tuple(s.source for s in cycle),
                    tuple(cycle),
                )
            )
    return anomalies


def _steps(
    graph: DependencyGraph, path: Sequence[int], allowed: Collection[EdgeType]
) -> list[Step]:
    return [graph.step(a, b, allowed) for a, b in itertools.pairwise(path)]


def _kind_of(cycle: Sequence[Step]) -> str:
    rw = sum(1 for s in cycle if s.type == "rw")
    if rw == 0:
        return "G1c" if any(s.type == "wr" for s in cycle) else "G0"
    if rw == 1:
        return "G-single"
    kinds = [s.type for s in cycle]
    adjacent = any(k == "rw" and kinds[i - 1] == "rw" for i, k in enumerate(kinds))
    return "G2" if adjacent else "G-nonadjacent"


def _classify(
    graph: DependencyGraph, members: set[int], report: Callable[[str, list[Step]], None]
) -> None:
    ww = graph.successors({"ww"}, members)
    wwr = graph.successors({"ww", "wr"}, members)
    everything = graph.successors(BASE, members)
    found_cheaper = False

    for sub in strongly_connected(members, ww):  # G0
        sub_set = set(sub)
        a = sub[0]
        b = next(b for b in ww(a) if b in sub_set)
        path = shortest_path(b, a, ww)
        assert path is not None
        report("G0", [graph.step(a, b, {"ww"}), *_steps(graph, path, {"ww"})])
        found_cheaper = True

    component_of: dict[int, int] = {}
    for number, sub in enumerate(strongly_connected(members, wwr)):  # G1c
        for node in sub:
            component_of[node] = number
        for a in sub:
            hit = next(
                (b for b, t in graph.out[a].items() if "wr" in t and component_of.get(b) == number),
                None,
            )
            if hit is not None:
                path = shortest_path(hit, a, wwr)
                assert path is not None
                report("G1c", [graph.step(a, hit, {"wr"}), *_steps(graph, path, {"ww", "wr"})])
                found_cheaper = True
                break

    rw_edges = [
        (a, b) for a in members for b, t in graph.out[a].items() if "rw" in t and b in members
    ]
    reaches = _reachability(members, wwr)
    for a, b in rw_edges:  # G-single
        if reaches(b, a):
            path = shortest_path(b, a, wwr)
            assert path is not None
            report("G-single", [graph.step(a, b, {"rw"}), *_steps(graph, path, {"ww", "wr"})])
            found_cheaper = True
            break

    nonadjacent = _nonadjacent_cycle(graph, members)
    if nonadjacent is not None:  # a G2 as well, reported by the kind SI also forbids
        report("G-nonadjacent", nonadjacent)
        return
    if not found_cheaper:  # every cycle here has two or more rw edges
        a, b = rw_edges[0]
        path = shortest_path(b, a, everything)
        assert path is not None
        shortest = [graph.step(a, b, {"rw"}), *_steps(graph, path, BASE)]
        report(_kind_of(shortest), shortest)
        return
    for a, b in rw_edges[:G2_ATTEMPTS]:
        cycle = _cycle_with_two_rw(graph, a, b, members)
        if cycle is not None:
            report(_kind_of(cycle), cycle)
            return


def _nonadjacent_cycle(graph: DependencyGraph, members: set[int]) -> list[Step] | None:
    """A simple cycle with two or more rw edges, no two consecutive, or None.

    States of the doubled graph are ``2 * node + 1`` when the node was reached by a ww or wr
    edge (an rw edge may leave it) and ``2 * node`` when reached by an rw edge (one may not).
    A closed walk with non-adjacent rw edges is a cycle of that graph through an rw
    transition, so only rw edges inside its strongly connected components are tried.
    """
    out = graph.out

    def states_after(state: int) -> list[int]:
        node, free = state >> 1, state & 1
        found = []
        for child, types in out[node].items():
            if child not in members:
                continue
            if "ww" in types or "wr" in types:
                found.append(2 * child + 1)
            if free and "rw" in types:
                found.append(2 * child)
        return found

    starts = [2 * node + bit for node in members for bit in (0, 1)]
    tried = 0
    for component in strongly_connected(starts, states_after):
        inside = set(component)
        for state in component:
            if not state & 1:
                continue
            a = state >> 1
            for b, types in out[a].items():
                if "rw" not in types or 2 * b not in inside:
                    continue
                cycle = _cycle_with_two_rw(graph, a, b, members, nonadjacent=True)
                if cycle is not None:
                    return cycle
                tried += 1
                if tried >= G2_ATTEMPTS:
                    return None
    return None


def _reachability(
    members: set[int], successors: Callable[[int], list[int]]
) -> Callable[[int, int], bool]:
    """``reaches(x, y)``: is there a path from x to y? Bitsets over the condensation."""
    comp: dict[int, int] = {}
    reach: list[int] = []
    for number, sub in enumerate(components(members, successors)):
        for node in sub:
            comp[node] = number
        bits = 1 << number
        for node in sub:
            for child in successors(node):
                if comp[child] != number:  # an earlier component: already computed
                    bits |= reach[comp[child]]
        reach.append(bits)

    def reaches(x: int, y: int) -> bool:
        return bool(reach[comp[x]] >> comp[y] & 1)

    return reaches


def _cycle_with_two_rw(
    graph: DependencyGraph, a: int, b: int, members: set[int], *, nonadjacent: bool = False
) -> list[Step] | None:
    """A simple cycle through rw edge a → b holding another rw edge, by a breadth-first
    search over (node, last edge rw, holds a second rw edge yet). With ``nonadjacent``, no
    rw edge may follow another (nor, closing the cycle, precede a → b)."""
    start = (b, nonadjacent, False)
    parent: dict[tuple[int, bool, bool], tuple[tuple[int, bool, bool], EdgeType]] = {}
    seen = {start}
    queue = deque([start])
    while queue:
        node, last_rw, second = queue.popleft()
        if node == a and second and not (nonadjacent and last_rw):
            states: list[tuple[int, bool, bool]] = [(node, last_rw, second)]
            kinds: list[EdgeType] = []
            while states[-1] != start:
                previous, kind = parent[states[-1]]
                kinds.append(kind)
                states.append(previous)
            path = [s[0] for s in reversed(states)]
            if len(set(path)) != len(path):
                return None  # a closed walk, not a simple cycle
            kinds.reverse()
            steps = [graph.step(a, b, {"rw"})]
            for (x, y), kind in zip(itertools.pairwise(path), kinds, strict=True):
                steps.append(graph.step(x, y, {kind}))
            return steps
        for child, types in graph.out[node].items():
            if child not in members:
                continue
            for kind in _BASE_ORDER:
                if kind not in types:
                    continue
                rw = kind == "rw"
                if rw and nonadjacent and last_rw:
                    continue
                state = (child, rw and nonadjacent, second or rw)
                if state not in seen:
                    seen.add(state)
                    parent[state] = ((node, last_rw, second), kind)
                    queue.append(state)
    return None


def _explain(kind: str, cycle: Sequence[Step], found: int) -> str:
    names = " → ".join(txn_where(s.source).split(" (")[0] for s in cycle)
    first = txn_where(cycle[0].source).split(" (")[0]
    steps = "; ".join(f"{s.type}: {s.why}" for s in cycle)
    more = f" (one of {found} such cycles found)" if found > 1 else ""
    return f"{kind} cycle {names} → {first}: {steps}{more}"
