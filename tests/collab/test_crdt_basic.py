"""State-based CRDTs: merge is a join (commutative, associative, idempotent); delta sync."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings, strategies as st

from archlab.collab.crdt.basic import GCounter, LWWRegister, MVRegister, ORSet, PNCounter
from archlab.collab.crdt.delta import DeltaReplica

# A state is built by replaying random mutations at random replicas, then merging copies.
Step = tuple[int, int, int]
steps = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(-3, 3)), max_size=12)


def build_gcounter(ops: list[Step]) -> GCounter:
    s = GCounter()
    for replica, _, amount in ops:
        s, _ = s.increment(replica, abs(amount))
    return s


def build_pncounter(ops: list[Step]) -> PNCounter:
    s = PNCounter()
    for replica, _, amount in ops:
        s, _ = s.increment(replica, amount)
    return s


def build_lww(ops: list[Step]) -> LWWRegister[int]:
    s: LWWRegister[int] = LWWRegister()
    for replica, value, t in ops:
        s, _ = s.assign(value, float(t), replica)
    return s


def build_mv(ops: list[Step]) -> MVRegister[int]:
    s: MVRegister[int] = MVRegister()
    for replica, value, _ in ops:
        s, _ = s.assign(value, replica)
    return s


def build_orset(ops: list[Step]) -> ORSet[int]:
    s: ORSet[int] = ORSet()
    for replica, element, kind in ops:
        s, _ = s.add(element, replica) if kind >= 0 else s.remove(element)
    return s


BUILDERS: list[Callable[[list[Step]], Any]] = [
    build_gcounter,
    build_pncounter,
    build_lww,
    build_mv,
    build_orset,
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(BUILDERS), steps, steps, steps)
def test_merge_is_a_join(
    build: Callable[[list[Step]], Any], a: list[Step], b: list[Step], c: list[Step]
) -> None:
    x, y, z = build(a), build(b), build(c)
    assert x.merge(y) == y.merge(x)
    assert x.merge(y).merge(z) == x.merge(y.merge(z))
    assert x.merge(x) == x


def test_counters_count_across_replicas() -> None:
    a, _ = GCounter().increment(0, 2)
    b, _ = GCounter().increment(1, 3)
    assert a.merge(b).value == 5
    p, _ = PNCounter().increment(0, 5)
    q, _ = PNCounter().increment(1, -2)
    assert p.merge(q).value == 3


def test_lww_breaks_ties_by_replica() -> None:
    a, _ = LWWRegister[str]().assign("a", 1.0, 0)
    b, _ = LWWRegister[str]().assign("b", 1.0, 1)
    assert a.merge(b).value == b.merge(a).value == "b"


def test_mv_register_keeps_concurrent_writes_until_overwritten() -> None:
    a, _ = MVRegister[str]().assign("a", 0)
    b, _ = MVRegister[str]().assign("b", 1)
    both = a.merge(b)
    assert both.values == {"a", "b"}
    later, _ = both.assign("c", 0)
    assert later.merge(a).merge(b).values == {"c"}


def test_orset_add_wins_over_concurrent_remove() -> None:
    base, _ = ORSet[str]().add("x", 0)
    removed, _ = base.remove("x")
    readded, _ = base.add("x", 1)
    assert "x" in removed.merge(readded)
    assert "x" not in removed.merge(base)


def test_delta_sync_sends_only_what_the_peer_lacks_and_forwards() -> None:
    a = DeltaReplica(0, ORSet[str]())
    b = DeltaReplica(1, ORSet[str]())
    c = DeltaReplica(2, ORSet[str]())
    for word in ("x", "y", "z"):
        a.mutate(a.state.add(word, 0)[1])
    b.receive(a.deltas_for(b.version))
    assert len(a.deltas_for(b.version).deltas) == 0, "b is up to date: nothing to send"
    a.mutate(a.state.remove("y")[1])
    assert len(a.deltas_for(b.version).deltas) == 1
    c.receive(b.deltas_for(c.version))  # c learns a's adds from b, without a
    c.receive(a.deltas_for(c.version))
    b.receive(a.deltas_for(b.version))
    assert a.state == b.state == c.state and c.state.elements == {"x", "z"}
    assert a.forget({1: b.version, 2: c.version}) == 4 and a.logged == 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 4), st.booleans(), st.integers(0, 2)),
        max_size=30,
    ),
    st.randoms(),
)
def test_delta_replicas_converge_under_duplication_and_reordering(
    ops: list[tuple[int, int, bool, int]], rnd: Any
) -> None:
    replicas = [DeltaReplica(i, ORSet[int]()) for i in range(3)]
    sent: list[tuple[int, Any]] = []
    for who, element, add, to in ops:
        r = replicas[who]
        r.mutate((r.state.add(element, who) if add else r.state.remove(element))[1])
        sent.append((to, r.deltas_for({})))
    rnd.shuffle(sent)
    for to, batch in sent + sent:  # every batch twice, in a random order
        replicas[to].receive(batch)
    for r in replicas:
        for other in replicas:
            r.receive(other.deltas_for(r.version))
    assert replicas[0].state == replicas[1].state == replicas[2].state
