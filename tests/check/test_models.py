"""The sequential models: their step semantics, which operations take part, the registry,
and the public interface another chapter uses to add a model."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from archlab.check import history
from archlab.check.history import Event, Operation
from archlab.check.linearizability import check_linearizable
from archlab.check.models import Model, get_model, model_names, register_model
from archlab.errors import ConfigError, InputFormatError, UnknownNameError

from .builders import brute_force, h


def op(f: str, value: Any = None, output: Any = None, status: str = "ok") -> Operation:
    (result,) = history.pair(h((0, "invoke", f, value), (0, status, f, output)))
    return result


def test_the_builtin_models_are_registered() -> None:
    assert {"register", "cas-register", "kv"} <= set(model_names())
    assert get_model("kv").name == "kv"


def test_an_unknown_model_is_a_user_error_with_a_suggestion() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'register'"):
        get_model("regster")


@pytest.mark.parametrize(
    ("state", "operation", "legal", "after"),
    [
        (None, op("read", output=None), True, None),
        (3, op("read", output=3), True, 3),
        (3, op("read", output=4), False, 3),
        (1, op("read", output=True), False, 1),  # JSON true is not 1
        (None, op("write", 5, 5), True, 5),
        (5, op("write", 6, status="info"), True, 6),
    ],
)
def test_register_steps(
    state: Hashable, operation: Operation, legal: bool, after: Hashable
) -> None:
    assert get_model("register").step(state, operation) == (legal, after)


@pytest.mark.parametrize(
    ("state", "operation", "legal", "after"),
    [
        (1, op("cas", [1, 2], [1, 2]), True, 2),
        (3, op("cas", [1, 2], [1, 2]), False, 3),
        # A failed cas completed with its compare failing: legal only where value != expected.
        (3, op("cas", [1, 2], [1, 2], "fail"), True, 3),
        (1, op("cas", [1, 2], [1, 2], "fail"), False, 1),
        # An unknown cas, if it took effect, succeeded.
        (1, op("cas", [1, 2], None, "info"), True, 2),
        (0, op("cas", [1, 2], None, "info"), False, 0),
    ],
)
def test_cas_register_steps(
    state: Hashable, operation: Operation, legal: bool, after: Hashable
) -> None:
    assert get_model("cas-register").step(state, operation) == (legal, after)


def test_which_operations_take_part() -> None:
    reg, cas = get_model("register"), get_model("cas-register")
    assert reg.included(op("read", output=1))
    assert not reg.included(op("read", status="info"))  # constrains nothing
    assert not reg.included(op("read", status="fail"))
    assert not reg.included(op("write", 1, status="fail"))  # certainly did not take effect
    assert reg.included(op("write", 1, status="info"))  # may have taken effect
    assert cas.included(op("cas", [1, 2], status="fail"))  # a completed, failed compare


def test_malformed_operations_are_reported_with_their_line() -> None:
    from archlab.errors import InputFormatError

    bad_cas = h((0, "invoke", "cas", 3), (0, "ok", "cas", 3))
    with pytest.raises(InputFormatError, match=r"h.jsonl:1: a cas takes \[expected, new\]"):
        check_linearizable(bad_cas, "cas-register", source="h.jsonl")
    unknown_f = h((0, "invoke", "incr", 1), (0, "ok", "incr", 1))
    with pytest.raises(InputFormatError, match="has no operation 'incr'"):
        check_linearizable(unknown_f, "register")


def test_a_single_register_refuses_a_history_with_several_keys() -> None:
    events = h((0, "invoke", "write", 1, "x"), (0, "ok", "write", 1, "x"))
    events += h((0, "invoke", "write", 1, "y"), (0, "ok", "write", 1, "y"))
    with pytest.raises(ConfigError, match="use the kv model"):
        check_linearizable(events, "register")
    assert check_linearizable(events, "kv").valid is True


class Queue(Model):
    """A FIFO queue, the kind of model another chapter adds through the public interface."""

    name = "test-queue"

    def init(self, initial: Any) -> Hashable:
        return tuple(initial or ())

    def step(self, state: Hashable, op: Operation) -> tuple[bool, Hashable]:
        assert isinstance(state, tuple)
        if op.f == "enqueue":
            return True, (*state, op.value)
        if op.status == "info":
            return bool(state), state[1:]
        if op.output is None:
            return not state, state
        return bool(state) and state[0] == op.output, state[1:]


def test_another_chapter_can_add_a_model() -> None:
    register_model(Queue())
    assert get_model("test-queue").name == "test-queue"
    fifo = h(
        (0, "invoke", "enqueue", 1),
        (0, "ok", "enqueue", 1),
        (0, "invoke", "enqueue", 2),
        (1, "invoke", "dequeue", None),
        (0, "ok", "enqueue", 2),
        (1, "ok", "dequeue", 1),
    )
    assert check_linearizable(fifo, "test-queue").valid is True
    lifo = [*fifo[:-1], fifo[-1].__class__(1, "ok", "dequeue", 2)]
    result = check_linearizable(lifo, "test-queue")
    assert result.valid is False
    assert result.failures[0].blocked is not None
    assert result.failures[0].blocked.f == "dequeue"


# ---- kv: get / put / append (6.824 and Porcupine key-value histories) ----------------------

KV_DATA = Path(__file__).parent / "data" / "kv" / "appends.edn"


@pytest.mark.parametrize(
    ("state", "operation", "legal", "after"),
    [
        (None, op("get", output=""), True, None),
        (None, op("append", "ab"), True, "ab"),
        ("ab", op("append", "c"), True, "abc"),
        ("abc", op("get", output="abc"), True, "abc"),
        ("abc", op("get", output="ab"), False, "abc"),
        ("ab", op("put", "z"), True, "z"),
        (3, op("append", "c"), False, 3),
    ],
)
def test_kv_get_put_append_semantics(
    state: Hashable, operation: Operation, legal: bool, after: Hashable
) -> None:
    assert get_model("kv").step(state, operation) == (legal, after)


def test_a_porcupine_shaped_kv_history_with_appends_is_checked_key_by_key() -> None:
    events = history.load(KV_DATA)
    assert events[0].f == "put" and events[0].key == "1" and events[1].value is None
    result = check_linearizable(events, "kv")
    assert result.valid is True
    assert sorted(k.key for k in result.keys) == ["1", "2"]  # type: ignore[type-var]
    # The concurrent appends may land in either order, but a read must show one of them.
    text = KV_DATA.read_text().replace('"x 0 0 yx 2 0 yx 0 1 y"', '"x 0 0 yx 0 1 y"')
    bad = check_linearizable(history.parse(text.splitlines()), "kv")
    assert bad.valid is False and bad.failures[0].key == "1"
    assert "get -> 'x 0 0 yx 0 1 y'" in bad.anomalies[0]["explanation"]


def test_an_append_of_something_else_than_a_string_is_refused() -> None:
    events = h((0, "invoke", "append", 3, "k"), (0, "ok", "append", 3, "k"))
    with pytest.raises(InputFormatError, match="append takes the string"):
        check_linearizable(events, "kv")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_kv_appends_agree_with_brute_force(data: st.DataObject) -> None:
    """Small get/put/append histories on two keys, many of them illegal."""
    events: list[Event] = []
    pending: dict[int, tuple[str, str, Any]] = {}
    strings = st.sampled_from(["a", "b", "ab"])
    for _ in range(data.draw(st.integers(2, 12))):
        process = data.draw(st.integers(0, 2))
        if process not in pending:
            f = data.draw(st.sampled_from(["get", "put", "append"]))
            key = data.draw(st.sampled_from(["k", "j"]))
            value = None if f == "get" else data.draw(strings)
            pending[process] = (f, key, value)
            events.append(Event(process, "invoke", f, value, key))
            continue
        f, key, value = pending.pop(process)
        kind = data.draw(st.sampled_from(["ok", "ok", "ok", "info"]))
        output = (
            data.draw(st.sampled_from(["", "a", "b", "ab", "ba", "aab"])) if f == "get" else value
        )
        events.append(Event(process, kind, f, output if kind == "ok" else value, key))  # type: ignore[arg-type]
    ops = history.pair(events)
    assert check_linearizable(ops, "kv").valid is brute_force(ops, get_model("kv"))
