"""The search for the cycles of a dependency graph, each an isolation anomaly (codex 5.1).

:func:`find_cycles` finds every strongly connected component of the graph
(:mod:`~archlab.check.graph`) and, inside each, the shortest witness of each anomaly that
can be decided exactly:

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
from collections.abc import Callable, Collection, Sequence

from archlab.check.anomalies import Anomaly, EdgeType, Step, txn_where
from archlab.check.graph import (
    BASE,
    ORDER,
    DependencyGraph,
    components,
    shortest_path,
    strongly_connected,
)

#: How many rw edges of a component to try when looking for a G2 beside other cycles.
G2_ATTEMPTS = 20
#: Witnesses reported per anomaly kind (the count of all is in the explanation).
MAX_PER_KIND = 10

_BASE_ORDER: tuple[EdgeType, ...] = ("ww", "wr", "rw")


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

    if not rw_edges:  # every cycle here is a G0 or a G1c, reported above
        return
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
