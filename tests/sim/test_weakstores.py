"""The weak stores behind the 5.1 experiments, their history views, and the list model."""

from __future__ import annotations

from archlab.check.history import Event, Recorder, pair
from archlab.check.isolation import check_isolation
from archlab.check.linearizability import check_linearizable
from archlab.sim import weakstores as weak
from archlab.sim.disk import Disk
from archlab.sim.process import NodeEnv
from archlab.sim.workload import ListAppendWorkload
from archlab.sim.world import World


def env(address: str = "n0") -> NodeEnv:
    import random

    return NodeEnv(address, ("n0", "n1", "n2"), Disk(), random.Random(0))


def test_timestamp_ordering_reads_the_past_and_refuses_to_rewrite_it() -> None:
    store = weak.TimestampStore(env())
    first = store.execute((1.0, "n1", 1), (("append", "x", 1),))
    assert first.committed
    # A transaction stamped earlier reads the list as it was before the append ...
    early = store.execute((0.5, "n2", 1), (("r", "x", None),))
    assert early.micro == (("r", "x", ()),)
    # ... and a later one sees it, including its own appends.
    late = store.execute((2.0, "n1", 2), (("append", "x", 2), ("r", "x", None)))
    assert late.micro[-1] == ("r", "x", (1, 2))
    # Appending below a version already written, or below a later read, aborts.
    assert not store.execute((1.5, "n2", 2), (("append", "x", 9),)).committed
    assert not store.execute((1.9, "n2", 3), (("append", "x", 9),)).committed
    assert store.execute((3.0, "n2", 4), (("append", "x", 3),)).committed
    # A read alone forbids appending below it: that reader would have missed the value.
    assert store.execute((5.0, "n1", 9), (("r", "y", None),)).committed
    assert not store.execute((4.0, "n2", 5), (("append", "y", 7),)).committed
    assert store.execute((6.0, "n2", 6), (("append", "y", 7),)).committed


def test_lagging_replica_serves_stale_reads_until_the_log_arrives() -> None:
    world = World(
        seed=1,
        node_factory=weak.lagging_replica_factory(0.2),
        stub_factory=weak.replica_stubs(),
        workload=weak.SingleKeyWorkload(),
        nodes=2,
        clients=2,
        ops=60,
    )
    history = world.run().history
    reads = [e.value[0][2] for e in history if e.type == "ok" and e.value[0][0] == "r"]
    appended = [e.value[0][2] for e in history if e.type == "ok" and e.value[0][0] == "append"]
    assert reads and appended
    # Every read is a prefix of the primary's order, and some reads are behind.
    order = world.hosts["n0"].node.state["x"]  # type: ignore[union-attr]
    assert all(tuple(order[: len(r)]) == tuple(r) for r in reads)
    assert min(len(r) for r in reads) < len(order)


def test_views_of_a_history() -> None:
    r = Recorder()
    r.invoke(0, "txn", [["append", "x", 1]], time=0.0)
    r.ok(0, "txn", [["append", "x", 1]], time=1.0)
    r.invoke(1, "txn", [["r", "x", None]], time=2.0)
    r.ok(1, "txn", [["r", "x", [1]]], time=3.0)
    view = weak.object_view(r.events)
    assert [(e.type, e.f, e.key, e.value, e.line) for e in view] == [
        ("invoke", "append", "x", 1, 1),
        ("ok", "append", "x", 1, 2),
        ("invoke", "read", "x", None, 3),
        ("ok", "read", "x", (1,), 4),
    ]


def test_per_object_operations_group_into_transactions() -> None:
    r = Recorder()
    for p, t0 in ((0, 0.0), (1, 0.5)):
        r.invoke(p, "read", None, "x", time=t0)
        r.ok(p, "read", [], "x", time=t0 + 1)
    for p, t0 in ((0, 2.0), (1, 2.5)):
        r.invoke(p, "read", None, "y", time=t0)
        r.ok(p, "read", [], "y", time=t0 + 1)
    r.invoke(0, "append", 1, "x", time=4.0)
    r.ok(0, "append", 1, "x", time=5.0)
    r.invoke(1, "append", 2, "y", time=4.5)
    r.info(1, "append", 2, "y", time=9.0)
    r.invoke(0, "read", None, "x", time=6.0)  # an incomplete trailing group is left out
    r.ok(0, "read", [1], "x", time=7.0)
    txns = weak.transaction_view(r.events, 3)
    ops = pair(txns)
    assert [(o.process, o.status) for o in ops] == [(0, "ok"), (1, "info")]
    assert ops[0].output == (("r", "x", ()), ("r", "y", ()), ("append", "x", 1))
    assert ops[1].value == (("r", "x", None), ("r", "y", None), ("append", "y", 2))


def test_list_append_model_accepts_legal_and_rejects_stale_histories() -> None:
    def history(stale: bool) -> list[Event]:
        r = Recorder()
        r.invoke(0, "append", 1, "x")
        r.ok(0, "append", 1, "x")
        r.invoke(1, "read", None, "x")
        r.ok(1, "read", [] if stale else [1], "x")
        r.invoke(2, "read", None, "y")
        r.ok(2, "read", [], "y")
        return r.events

    assert check_linearizable(history(False), model=weak.LIST_APPEND).valid is True
    bad = check_linearizable(history(True), model=weak.LIST_APPEND)
    assert bad.valid is False and bad.failures[0].key == "x"


def test_timestamp_store_histories_are_serializable_with_true_clocks() -> None:
    world = World(
        seed=4,
        node_factory=weak.timestamp_store_factory(),
        stub_factory=weak.gateway_stubs(),
        workload=ListAppendWorkload(keys=("x", "y")),
        nodes=3,
        clients=4,
        ops=80,
    )
    history = world.run().history
    for consistency in ("serializable", "strict-serializable"):
        result = check_isolation(history, workload="list-append", consistency=consistency)  # type: ignore[arg-type]
        assert result.valid is True, result.reason
