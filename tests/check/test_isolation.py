"""Hand-made transactional histories, each anomaly both ways, against each consistency model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archlab.check.anomalies import FORBIDDEN
from archlab.check.history import Event
from archlab.check.isolation import check_isolation
from archlab.errors import InputFormatError, UnknownNameError

from .builders import h, numbered, run, txn

LEVELS = ("read-committed", "snapshot-isolation", "serializable", "strict-serializable")


def kinds(
    events: list[Event], workload: str = "list-append", level: str = "serializable"
) -> set[str]:
    return check_isolation(events, workload=workload, consistency=level).anomaly_kinds  # type: ignore[arg-type]


def valid_at(events: list[Event], workload: str = "list-append") -> dict[str, Any]:
    return {
        level: check_isolation(events, workload=workload, consistency=level).valid  # type: ignore[arg-type]
        for level in LEVELS
    }


def concurrent(
    *pairs: tuple[Any, list[tuple[str, Any, Any]], list[tuple[str, Any, Any]]],
) -> list[Event]:
    """Transactions all invoked before any completes (no real-time order between them)."""
    return numbered(
        [txn(p, "invoke", *inv) for p, inv, _ in pairs]
        + [txn(p, "ok", *done) for p, _, done in pairs]
    )


# ---- list-append --------------------------------------------------------------------------


def g0(y_order: list[int]) -> list[Event]:
    writes = concurrent(
        (1, [("append", "x", 1), ("append", "y", 1)], [("append", "x", 1), ("append", "y", 1)]),
        (2, [("append", "x", 2), ("append", "y", 2)], [("append", "x", 2), ("append", "y", 2)]),
    )
    reader = run(
        (3, [("r", "x", None), ("r", "y", None)], [("r", "x", [1, 2]), ("r", "y", y_order)])
    )
    return numbered(writes + reader)


def test_g0_write_cycle() -> None:
    assert kinds(g0([2, 1])) == {"G0"}
    assert kinds(g0([1, 2])) == set()
    assert valid_at(g0([2, 1]))["read-committed"] is False


def g1c(t2_saw: list[int]) -> list[Event]:
    return concurrent(
        (1, [("append", "x", 1), ("r", "y", None)], [("append", "x", 1), ("r", "y", [1])]),
        (2, [("append", "y", 1), ("r", "x", None)], [("append", "y", 1), ("r", "x", t2_saw)]),
    )


def test_g1c_circular_information_flow() -> None:
    assert kinds(g1c([1])) == {"G1c"}
    assert kinds(g1c([])) == set()
    result = check_isolation(g1c([1]), workload="list-append", consistency="read-committed")
    assert result.valid is False
    (anomaly,) = result.anomalies
    assert [step.type for step in anomaly.cycle] == ["wr", "wr"]
    assert "T1 read key 'x' = [1], whose last element T0 appended" in anomaly.explanation


def test_g1a_aborted_read() -> None:
    def history(saw: list[int]) -> list[Event]:
        return run(
            (1, [("append", "x", 1)], "fail"),
            (2, [("r", "x", None)], [("r", "x", saw)]),
        )

    assert kinds(history([1])) == {"G1a"}
    assert kinds(history([])) == set()
    (anomaly,) = check_isolation(
        history([1]), workload="list-append", consistency="read-committed"
    ).anomalies
    assert "appended by T0 (process 1, line 1), which aborted" in anomaly.explanation


def test_g1b_intermediate_read() -> None:
    def history(saw: list[int]) -> list[Event]:
        both = [("append", "x", 1), ("append", "x", 2)]
        return run((1, both, both), (2, [("r", "x", None)], [("r", "x", saw)]))

    # Seeing 1 without 2 also puts the reader between T0's two appends: a G-single cycle.
    assert kinds(history([1])) == {"G1b", "G-single"}
    assert kinds(history([1, 2])) == set()


def read_skew(saw_y: list[int]) -> list[Event]:
    both = [("append", "x", 1), ("append", "y", 1)]
    return concurrent(
        (1, both, both),
        (2, [("r", "x", None), ("r", "y", None)], [("r", "x", [1]), ("r", "y", saw_y)]),
    )


def test_g_single_read_skew() -> None:
    assert kinds(read_skew([])) == {"G-single"}
    assert kinds(read_skew([1])) == set()
    assert valid_at(read_skew([])) == {
        "read-committed": True,  # allowed: read committed permits read skew
        "snapshot-isolation": False,
        "serializable": False,
        "strict-serializable": False,
    }


def write_skew(t2_saw: list[int]) -> list[Event]:
    return concurrent(
        (1, [("r", "x", None), ("append", "y", 1)], [("r", "x", []), ("append", "y", 1)]),
        (2, [("r", "y", None), ("append", "x", 1)], [("r", "y", t2_saw), ("append", "x", 1)]),
    )


def test_g2_write_skew() -> None:
    assert kinds(write_skew([])) == {"G2"}
    assert kinds(write_skew([1])) == set()
    assert valid_at(write_skew([])) == {
        "read-committed": True,
        "snapshot-isolation": True,  # allowed: snapshot isolation permits write skew
        "serializable": False,
        "strict-serializable": False,
    }
    result = check_isolation(write_skew([]), workload="list-append", consistency="serializable")
    assert result.ruled_out == ["serializable", "strict-serializable"]
    (anomaly,) = result.anomalies
    assert [step.type for step in anomaly.cycle] == ["rw", "rw"]


def stale_after_commit(saw: list[int]) -> list[Event]:
    """T2 begins after T1 committed its append; it does (or does not) see it."""
    return run(
        (1, [("append", "x", 1)], [("append", "x", 1)]),
        (2, [("r", "x", None)], [("r", "x", saw)]),
    )


def test_real_time_order_only_matters_for_strict_serializability() -> None:
    assert valid_at(stale_after_commit([])) == {
        "read-committed": True,
        "snapshot-isolation": True,
        "serializable": True,  # T2 may be serialized before T1
        "strict-serializable": False,
    }
    assert kinds(stale_after_commit([]), level="strict-serializable") == {"G-single-realtime"}
    assert valid_at(stale_after_commit([1]))["strict-serializable"] is True


def test_a_transaction_must_see_its_own_appends() -> None:
    def history(saw: list[int]) -> list[Event]:
        return run(
            (1, [("append", "x", 1), ("r", "x", None)], [("append", "x", 1), ("r", "x", saw)])
        )

    assert kinds(history([])) == {"internal"}
    assert kinds(history([1])) == set()


def test_reads_that_disagree_on_the_order() -> None:
    appends = concurrent(
        (1, [("append", "x", 1)], [("append", "x", 1)]),
        (2, [("append", "x", 2)], [("append", "x", 2)]),
    )

    def history(second: list[int]) -> list[Event]:
        return appends + run(
            (3, [("r", "x", None)], [("r", "x", [1, 2])]),
            (4, [("r", "x", None)], [("r", "x", second)]),
        )

    assert "incompatible-order" in kinds(history([2, 1]))
    assert kinds(history([1])) == set()


def test_duplicates_and_garbage() -> None:
    base = run((1, [("append", "x", 1)], [("append", "x", 1)]))
    dup = base + run((2, [("r", "x", None)], [("r", "x", [1, 1])]))
    garbage = base + run((2, [("r", "x", None)], [("r", "x", [1, 9])]))
    assert "duplicate-elements" in kinds(dup)
    assert "garbage-read" in kinds(garbage)
    assert valid_at(garbage)["read-committed"] is False


def test_an_unknown_transaction_may_have_committed() -> None:
    unseen = run((1, [("append", "x", 1)], "info"), (3, [("r", "x", None)], [("r", "x", [])]))
    assert all(valid_at(unseen).values())  # it may commit later, or never
    history = run(
        (1, [("append", "x", 1)], "info"),
        (2, [("r", "x", None)], [("r", "x", [1])]),
        (3, [("r", "x", None)], [("r", "x", [])]),
    )
    # Seen by T1, so T0 committed; T2 may still be serialized first, but not in real time.
    assert valid_at(history) == {
        "read-committed": True,
        "snapshot-isolation": True,
        "serializable": True,
        "strict-serializable": False,
    }
    assert kinds(history, level="strict-serializable") == {"G-single-realtime"}
    seen_and_lost = run(
        (1, [("append", "x", 1), ("append", "y", 1)], "info"),
        (2, [("r", "x", None), ("r", "y", None)], [("r", "x", [1]), ("r", "y", [])]),
    )
    assert kinds(seen_and_lost) == {"G-single"}


# ---- rw-register --------------------------------------------------------------------------


def test_rw_register_write_skew() -> None:
    def history(t2_saw: int | None) -> list[Event]:
        return concurrent(
            (1, [("r", "x", None), ("w", "y", 1)], [("r", "x", None), ("w", "y", 1)]),
            (2, [("r", "y", None), ("w", "x", 1)], [("r", "y", t2_saw), ("w", "x", 1)]),
        )

    assert kinds(history(None), "rw-register") == {"G2"}
    assert kinds(history(1), "rw-register") == set()
    assert valid_at(history(None), "rw-register")["snapshot-isolation"] is True


def test_rw_register_read_skew() -> None:
    def history(saw_y: int | None) -> list[Event]:
        both = [("w", "x", 1), ("w", "y", 1)]
        return concurrent(
            (1, both, both),
            (2, [("r", "x", None), ("r", "y", None)], [("r", "x", 1), ("r", "y", saw_y)]),
        )

    assert kinds(history(None), "rw-register") == {"G-single"}
    assert kinds(history(1), "rw-register") == set()


def test_rw_register_write_cycle_from_writes_that_follow_reads() -> None:
    def history(t1_read: int) -> list[Event]:
        return concurrent(
            (
                1,
                [("r", "x", None), ("w", "x", 1), ("w", "y", 3)],
                [("r", "x", t1_read), ("w", "x", 1), ("w", "y", 3)],
            ),
            (
                2,
                [("r", "y", None), ("w", "y", 4), ("w", "x", 2)],
                [("r", "y", 3), ("w", "y", 4), ("w", "x", 2)],
            ),
        )

    # T0 read T1's x=2 then wrote x=1 (2 < 1); T1 read T0's y=3 then wrote y=4 (3 < 4).
    assert "G0" in kinds(history(2), "rw-register")
    assert "G0" not in kinds(history(None), "rw-register")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rows", "kind"),
    [
        ([(1, [("w", "x", 1)], "fail"), (2, [("r", "x", None)], [("r", "x", 1)])], "G1a"),
        (
            [
                (1, [("w", "x", 1), ("w", "x", 2)], [("w", "x", 1), ("w", "x", 2)]),
                (2, [("r", "x", None)], [("r", "x", 1)]),
            ],
            "G1b",
        ),
        ([(2, [("r", "x", None)], [("r", "x", 7)])], "garbage-read"),
        ([(1, [("w", "x", 1), ("r", "x", None)], [("w", "x", 1), ("r", "x", None)])], "internal"),
    ],
)
def test_rw_register_single_read_anomalies(rows: list[Any], kind: str) -> None:
    assert kinds(run(*rows), "rw-register", "read-committed") == {kind}


# ---- the verdict and its evidence -----------------------------------------------------------


def test_each_model_forbids_what_it_should() -> None:
    assert FORBIDDEN["read-committed"] >= {"G0", "G1a", "G1b", "G1c"}
    assert "G-single" not in FORBIDDEN["read-committed"]
    assert (
        "G-single" in FORBIDDEN["snapshot-isolation"]
        and "G2" not in FORBIDDEN["snapshot-isolation"]
    )
    assert "G2" in FORBIDDEN["serializable"] and "G2-realtime" not in FORBIDDEN["serializable"]
    assert FORBIDDEN["strict-serializable"] > FORBIDDEN["serializable"]


def test_nothing_committed_is_unknown() -> None:
    history = run((1, [("append", "x", 1)], "fail"))
    result = check_isolation(history, workload="list-append", consistency="serializable")
    assert result.valid == "unknown"
    assert (
        check_isolation([], workload="list-append", consistency="serializable").valid == "unknown"
    )


def test_the_result_is_json_with_the_cycle() -> None:
    data = json.loads(
        json.dumps(
            check_isolation(
                write_skew([]), workload="list-append", consistency="serializable"
            ).to_dict()
        )
    )
    assert data["valid"] is False
    assert data["anomaly_kinds"] == ["G2"]
    (anomaly,) = data["anomalies"]
    assert anomaly["forbidden"] is True
    assert [step["type"] for step in anomaly["cycle"]] == ["rw", "rw"]
    assert {t["name"] for t in anomaly["txns"]} == {"T0", "T1"}
    assert data["edges"]["rw"] == 2


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (h((0, "invoke", "read", None), (0, "ok", "read", 1)), "expected 'f': 'txn'"),
        ([txn(0, "invoke", ("append", "x"))], r"a micro-operation is \[f, key, value\]"),
        ([txn(0, "invoke", ("w", "x", 1))], "micro-operation f must be 'append' or 'r'"),
        ([txn(0, "invoke", ("append", "x", None))], "'append' needs a single value"),
        (run((0, [("r", "x", None)], [("r", "x", 3)])), "a list-append read returns a list"),
        (run((0, [("append", "x", 1)], [("append", "x", 2)])), "differ from the invocation's"),
        (
            run(
                (0, [("append", "x", 1)], [("append", "x", 1)]),
                (1, [("append", "x", 1)], [("append", "x", 1)]),
            ),
            "unique values per key",
        ),
        ([Event(0, "invoke", "txn", 5)], "must be a list of micro-operations"),
    ],
)
def test_malformed_transactions_are_named_with_their_line(
    events: list[Event], message: str
) -> None:
    numbered = [
        Event(e.process, e.type, e.f, e.value, e.key, e.time, i + 1) for i, e in enumerate(events)
    ]
    with pytest.raises(InputFormatError, match=message) as info:
        check_isolation(
            numbered, workload="list-append", consistency="serializable", source="t.jsonl"
        )
    assert str(info.value).startswith("t.jsonl:")


def test_unknown_names_are_user_errors() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'serializable'"):
        check_isolation([], workload="list-append", consistency="serialisable")  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="workload"):
        check_isolation([], workload="lists", consistency="serializable")  # type: ignore[arg-type]
