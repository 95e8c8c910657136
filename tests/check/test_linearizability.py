"""Hand-made histories with a known verdict, both ways, for each rule of the semantics."""

from __future__ import annotations

import json
import random

import pytest

from archlab.check import history
from archlab.check.generate import register_history
from archlab.check.history import Event
from archlab.check.linearizability import check_linearizable
from archlab.check.models import get_model
from archlab.errors import ConfigError

from .builders import h, replay

# A write, then (strictly after it completed) a read.
WRITE_THEN_READ = [(0, "invoke", "write", 1), (0, "ok", "write", 1), (1, "invoke", "read", None)]


def verdict(events: list[Event], model: str = "cas-register", **kw: object) -> object:
    return check_linearizable(events, model, **kw).valid  # type: ignore[arg-type]


def test_an_empty_history_is_linearizable() -> None:
    result = check_linearizable([], "kv")
    assert result.valid is True and result.keys == []


def test_a_read_after_a_write_must_see_it() -> None:
    assert verdict(h(*WRITE_THEN_READ, (1, "ok", "read", 1))) is True
    assert verdict(h(*WRITE_THEN_READ, (1, "ok", "read", None))) is False  # stale read


def test_concurrent_operations_may_take_effect_in_either_order() -> None:
    overlapping = [(0, "invoke", "write", 1), (1, "invoke", "read", None), (0, "ok", "write", 1)]
    assert verdict(h(*overlapping, (1, "ok", "read", None))) is True
    assert verdict(h(*overlapping, (1, "ok", "read", 1))) is True
    assert verdict(h(*overlapping, (1, "ok", "read", 2))) is False  # never written


def test_real_time_order_between_reads_is_enforced() -> None:
    # Two reads of the same concurrent write: once one saw the new value, a later read must too.
    rows = [
        (0, "invoke", "write", 1),
        (1, "invoke", "read", None),
        (1, "ok", "read", 1),
        (2, "invoke", "read", None),
    ]
    assert verdict(h(*rows, (2, "ok", "read", 1), (0, "ok", "write", 1))) is True
    assert verdict(h(*rows, (2, "ok", "read", None), (0, "ok", "write", 1))) is False


def test_an_acknowledged_write_cannot_be_lost() -> None:
    rows = [
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (0, "invoke", "write", 2),
        (0, "ok", "write", 2),
        (1, "invoke", "read", None),
    ]
    assert verdict(h(*rows, (1, "ok", "read", 2))) is True
    assert verdict(h(*rows, (1, "ok", "read", 1))) is False


def test_a_failed_write_did_not_take_effect() -> None:
    failed = [(0, "invoke", "write", 1), (0, "fail", "write", 1), (1, "invoke", "read", None)]
    assert verdict(h(*failed, (1, "ok", "read", None))) is True
    assert verdict(h(*failed, (1, "ok", "read", 1))) is False


def test_an_unknown_write_may_take_effect_later_or_never() -> None:
    unknown = [(0, "invoke", "write", 1), (0, "info", "write", 1)]
    reads = [(1, "invoke", "read", None), (1, "ok", "read", None)]
    later = [(1, "invoke", "read", None), (1, "ok", "read", 1)]
    assert verdict(h(*unknown, *reads, *later)) is True  # took effect between the reads
    assert verdict(h(*unknown, *reads)) is True  # never took effect
    # ... but once seen it cannot be unseen,
    assert verdict(h(*unknown, *later, *reads)) is False
    # and it cannot take effect before it was invoked.
    assert verdict(h(*later, *unknown)) is False


def test_an_invoke_left_pending_is_unknown() -> None:
    rows = [(0, "invoke", "write", 1), (1, "invoke", "read", None), (1, "ok", "read", 1)]
    assert verdict(h(*rows)) is True


def test_a_failed_cas_is_a_compare_that_failed() -> None:
    cas_fail = [(0, "invoke", "cas", [1, 2]), (0, "fail", "cas", [1, 2])]
    read = [(1, "invoke", "read", None), (1, "ok", "read", None)]
    write_1 = [(2, "invoke", "write", 1), (2, "ok", "write", 1)]
    assert verdict(h(*cas_fail, *read)) is True  # held null, not 1: the compare failed
    assert verdict(h(*write_1, *cas_fail)) is False  # held 1: the compare could not fail
    # A concurrent write lets it fail before the write lands.
    concurrent = [(2, "invoke", "write", 1), *cas_fail, (2, "ok", "write", 1)]
    assert verdict(h(*concurrent)) is True


def test_an_unknown_cas_took_effect_or_not() -> None:
    rows = [
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (1, "invoke", "cas", [1, 2]),
        (1, "info", "cas", None),
        (2, "invoke", "read", None),
    ]
    assert verdict(h(*rows, (2, "ok", "read", 2))) is True
    assert verdict(h(*rows, (2, "ok", "read", 1))) is True
    assert verdict(h(*rows, (2, "ok", "read", 3))) is False


def test_the_initial_value_is_null_unless_given() -> None:
    read_zero = h((0, "invoke", "read", None), (0, "ok", "read", 0))
    assert verdict(read_zero) is False
    assert verdict(read_zero, initial=0) is True


def test_a_valid_verdict_comes_with_a_witness_order() -> None:
    events = register_history(random.Random(3), kind="cas-register", ops=200, info_rate=0.2)
    result = check_linearizable(events, "cas-register")
    assert result.valid is True
    (key,) = result.keys
    required = {op.index for op in result.ops if op.status != "info"}
    required &= {op.index for op in result.ops if get_model("cas-register").included(op)}
    assert required <= {op.index for op in key.linearization}
    assert replay(key.linearization, get_model("cas-register"))


def test_an_invalid_verdict_names_the_op_the_prefix_and_the_state() -> None:
    rows = [
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (0, "invoke", "write", 2),
        (0, "ok", "write", 2),
        (1, "invoke", "read", None),
        (1, "ok", "read", 1),
    ]
    result = check_linearizable(h(*rows), "register")
    (failure,) = result.failures
    assert failure.blocked is not None and failure.blocked.output == 1
    assert [op.value for op in failure.linearization] == [1, 2]
    assert failure.state == 2
    (anomaly,) = result.to_dict()["anomalies"]
    assert anomaly["op"]["line"] == 5
    assert "read -> 1 by process 1 (line 5) cannot take effect" in anomaly["explanation"]
    assert "holding 2" in anomaly["explanation"]
    assert result.highlight == {failure.blocked.index}


def test_the_result_is_json() -> None:
    events = h((0, "invoke", "write", [1, "a"], ["k", 1]), (0, "ok", "write", [1, "a"], ["k", 1]))
    events += h((1, "invoke", "read", None, ["k", 1]), (1, "ok", "read", None, ["k", 1]))
    data = json.loads(json.dumps(check_linearizable(events, "kv").to_dict()))
    assert data["valid"] is False
    assert data["keys"] == [
        {
            "key": ["k", 1],
            "valid": False,
            "ops": 2,
            "steps": data["keys"][0]["steps"],
            "configurations": data["keys"][0]["configurations"],
        }
    ]
    assert data["anomalies"][0]["prefix"][0]["value"] == [1, "a"]


def test_kv_checks_keys_independently_and_reports_each() -> None:
    good = [(0, "invoke", "write", 1, "x"), (0, "ok", "write", 1, "x")]
    good += [(1, "invoke", "read", None, "x"), (1, "ok", "read", 1, "x")]
    bad = [(2, "invoke", "write", 1, "y"), (2, "ok", "write", 1, "y")]
    bad += [(3, "invoke", "read", None, "y"), (3, "ok", "read", None, "y")]
    result = check_linearizable(h(*good, *bad), "kv")
    assert result.valid is False
    by_key = {k.key: k.valid for k in result.keys}
    assert by_key["y"] is False and by_key["x"] in (True, None)
    # The same values on one register would be fine: the keys are what make it illegal.
    merged = [(p, t, f, v) for p, t, f, v, _ in good + bad]
    assert verdict(h(*merged), "register") is False
    assert verdict(h(*good), "kv") is True


def test_kv_fails_fast_on_an_easy_illegal_key_beside_a_hard_one() -> None:
    hard = register_history(
        random.Random(1), kind="register", ops=3000, processes=20, distinct=True, info_rate=0.0
    )
    hard_events = [Event(e.process, e.type, e.f, e.value, "hard", e.time) for e in hard]
    stale = h(
        *[(f"s{p}", t, f, v, "easy") for p, t, f, v in [*WRITE_THEN_READ, (1, "ok", "read", None)]]
    )
    result = check_linearizable(hard_events + stale, "kv", time_limit=20)
    assert result.valid is False
    by_key = {k.key: k for k in result.keys}
    assert by_key["easy"].valid is False
    assert by_key["hard"].valid is None  # abandoned: another key already failed
    assert result.elapsed_s < 5


def test_a_step_budget_ends_in_unknown() -> None:
    events = register_history(
        random.Random(0), kind="register", ops=3000, processes=20, distinct=True, info_rate=0.0
    )
    result = check_linearizable(events, "register", max_steps=5_000)
    assert result.valid == "unknown"
    assert result.steps == 5_000
    assert "step budget" in result.reason
    assert result.to_dict()["valid"] == "unknown"


def test_a_time_limit_ends_in_unknown() -> None:
    events = register_history(
        random.Random(0), kind="register", ops=3000, processes=20, distinct=True, info_rate=0.0
    )
    result = check_linearizable(events, "register", time_limit=0.2)
    assert result.valid == "unknown"
    assert result.elapsed_s < 1.0
    assert "time limit" in result.reason


@pytest.mark.parametrize("limits", [{"time_limit": 0}, {"max_steps": -1}])
def test_nonsense_limits_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        check_linearizable([], "kv", **limits)  # type: ignore[arg-type]


def test_operations_are_accepted_as_well_as_events() -> None:
    events = h(*WRITE_THEN_READ, (1, "ok", "read", 1))
    assert check_linearizable(history.pair(events), "register").valid is True
