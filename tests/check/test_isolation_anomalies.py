"""The anomaly classes of issue 13, one hand-written history each (tests/check/data/isolation),
in list-append and rw-register form where the class exists in both: the kind reported, its
evidence, and the verdict at every consistency model."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.check import history as hist
from archlab.check.isolation import check_isolation

DATA = Path(__file__).parent / "data" / "isolation"
LEVELS = ("read-committed", "snapshot-isolation", "serializable", "strict-serializable")

#: name -> (the kind that must be reported, the levels whose verdict must be False)
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "long-fork": ("G-nonadjacent", LEVELS[1:]),
    "lost-update-unordered": ("lost-update", LEVELS[1:]),
    "lost-update-ordered": ("lost-update", LEVELS[1:]),
    "own-append-g1c": ("G1c", LEVELS),
    "internal": ("internal", LEVELS),
}
FILES = sorted(DATA.glob("*.jsonl"))


def test_every_case_has_a_history() -> None:
    names = {f.name.split(".")[0] for f in FILES}
    assert names == set(CASES)


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_the_anomaly_is_reported_and_judged_at_every_level(path: Path) -> None:
    name, workload, _ = path.name.split(".")
    kind, forbidden_at = CASES[name]
    events = hist.load(path)
    for level in LEVELS:
        result = check_isolation(events, workload=workload, consistency=level)  # type: ignore[arg-type]
        assert kind in result.anomaly_kinds, (level, result.anomalies)
        expected = level not in forbidden_at
        assert result.valid is expected, (level, result.reason)
        if not expected:
            assert kind in result.reason


def test_a_long_fork_comes_with_its_cycle() -> None:
    events = hist.load(DATA / "long-fork.list-append.jsonl")
    result = check_isolation(events, workload="list-append", consistency="snapshot-isolation")
    (fork,) = [a for a in result.anomalies if a.kind == "G-nonadjacent"]
    types = [step.type for step in fork.cycle]
    assert sorted(types) == ["rw", "rw", "wr", "wr"]
    assert all(not (t == "rw" and types[i - 1] == "rw") for i, t in enumerate(types))
    assert len({op.index for op in fork.txns}) == 4
    assert "G-nonadjacent cycle" in fork.explanation


def test_a_lost_update_names_both_transactions_and_the_version() -> None:
    events = hist.load(DATA / "lost-update-unordered.rw-register.jsonl")
    result = check_isolation(events, workload="rw-register", consistency="serializable")
    (lost,) = [a for a in result.anomalies if a.kind == "lost-update"]
    assert [op.process for op in lost.txns] == [1, 2]
    assert lost.key == "x" and "= null" in lost.explanation
    assert lost.to_dict()["kind"] == "lost-update"


def test_write_skew_stays_allowed_under_snapshot_isolation() -> None:
    # Two rw edges, adjacent: G2, not G-nonadjacent, and no lost update (different keys).
    events = hist.parse(
        [
            '{"process": 1, "type": "invoke", "f": "txn", "value": '
            '[["r", "x", null], ["r", "y", null], ["w", "x", 1]]}',
            '{"process": 2, "type": "invoke", "f": "txn", "value": '
            '[["r", "x", null], ["r", "y", null], ["w", "y", 1]]}',
            '{"process": 1, "type": "ok", "f": "txn", "value": '
            '[["r", "x", null], ["r", "y", null], ["w", "x", 1]]}',
            '{"process": 2, "type": "ok", "f": "txn", "value": '
            '[["r", "x", null], ["r", "y", null], ["w", "y", 1]]}',
        ]
    )
    si = check_isolation(events, workload="rw-register", consistency="snapshot-isolation")
    assert si.anomaly_kinds == {"G2"} and si.valid is True
    ser = check_isolation(events, workload="rw-register", consistency="serializable")
    assert ser.valid is False
