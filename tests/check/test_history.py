"""The history format: parsing with line-numbered errors, pairing, and recording."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from archlab.check import history
from archlab.check.history import NEVER, Event, Recorder
from archlab.errors import InputFormatError

EXAMPLE = """\
{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1}
{"process": 1, "type": "invoke", "f": "read",  "key": "x", "value": null}
{"process": 0, "type": "ok",     "f": "write", "key": "x", "value": 1}

{"process": 1, "type": "ok",     "f": "read",  "key": "x", "value": 1}
{"process": 2, "type": "invoke", "f": "cas",   "key": "x", "value": [1, 2]}
{"process": 2, "type": "info",   "f": "cas",   "key": "x", "value": [1, 2]}
"""


def test_the_architecture_example_parses_and_pairs() -> None:
    events = history.parse(EXAMPLE.splitlines())
    assert [e.line for e in events] == [1, 2, 3, 5, 6, 7]
    ops = history.pair(events)
    assert [(o.process, o.f, o.status, o.call, o.ret) for o in ops] == [
        (0, "write", "ok", 0, 2),
        (1, "read", "ok", 1, 3),
        (2, "cas", "info", 4, NEVER),
    ]
    assert ops[1].value is None and ops[1].output == 1
    assert ops[2].value == (1, 2) and ops[2].output is None


def test_a_pending_invoke_at_the_end_is_unknown() -> None:
    events = [Event(0, "invoke", "write", 3)]
    (op,) = history.pair(events)
    assert op.status == "info" and op.ret == NEVER


def test_a_process_may_invoke_again_after_info() -> None:
    rec = Recorder()
    rec.invoke(0, "write", 1)
    rec.info(0, "write", 1)
    rec.invoke(0, "read")
    rec.ok(0, "read", 1)
    assert [o.status for o in history.pair(rec.events)] == ["info", "ok"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"process": 0, "type": "invoke"}', "missing field 'f'"),
        ('{"process": 0, "type": "begin", "f": "read"}', "'type' must be one of"),
        ('{"process": true, "type": "ok", "f": "read"}', "'process' must be"),
        ('{"process": 0, "type": "ok", "f": ""}', "'f' must be"),
        ('{"process": 0, "type": "ok", "f": "r", "time": "noon"}', "'time' must be a number"),
        ("[1, 2]", "expected a JSON object"),
        ('{"process": 0, ', "not valid JSON"),
    ],
)
def test_malformed_lines_are_named_with_their_number(text: str, message: str) -> None:
    with pytest.raises(InputFormatError, match=message) as info:
        history.parse([text], "h.jsonl")
    assert str(info.value).startswith("h.jsonl:1:")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"process": 0, "type": "ok", "f": "read", "value": 1}'], "without a pending invoke"),
        (
            [
                '{"process": 0, "type": "invoke", "f": "read"}',
                '{"process": 0, "type": "invoke", "f": "write", "value": 1}',
            ],
            "has not completed",
        ),
        (
            [
                '{"process": 0, "type": "invoke", "f": "read"}',
                '{"process": 0, "type": "ok", "f": "write", "value": 1}',
            ],
            "does not match",
        ),
        (
            [
                '{"process": 0, "type": "invoke", "f": "read", "key": "x"}',
                '{"process": 0, "type": "ok", "f": "read", "key": "y", "value": 1}',
            ],
            "does not match",
        ),
    ],
)
def test_inconsistent_histories_are_refused(lines: list[str], message: str) -> None:
    with pytest.raises(InputFormatError, match=message):
        history.pair(history.parse(lines, "h.jsonl"), "h.jsonl")


def test_unreadable_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="cannot read"):
        history.load(tmp_path / "missing.jsonl")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputFormatError, match="not UTF-8"):
        history.load(binary)


values = st.recursive(
    st.none() | st.integers() | st.text(max_size=5) | st.booleans(),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from(["read", "write", "cas"]),
            values,
            st.one_of(st.none(), st.text(max_size=3)),
        ),
        max_size=12,
    )
)
def test_recorded_histories_round_trip_through_the_file_format(
    ops: list[tuple[int, str, object, str | None]],
) -> None:
    rec = Recorder()
    for t, (process, f, value, key) in enumerate(ops):
        rec.invoke(process, f, value, key, time=float(t))
        rec.ok(process, f, value, key, time=t + 0.5)
    parsed = history.parse(io.StringIO(rec.dumps()))
    assert [(e.process, e.type, e.f, e.value, e.key, e.time) for e in parsed] == [
        (e.process, e.type, e.f, e.value, e.key, e.time) for e in rec.events
    ]
    assert len(history.pair(parsed)) == len(ops)


def test_dump_to_a_path_is_atomic(tmp_path: Path) -> None:
    rec = Recorder()
    rec.invoke(0, "write", [1, 2], "k")
    history.dump(rec.events, tmp_path / "h.jsonl")
    assert history.load(tmp_path / "h.jsonl")[0].value == (1, 2)
    assert not list(tmp_path.glob("*.tmp"))


def test_edn_lines_as_in_porcupine_kv_data_are_read_as_events() -> None:
    from archlab.check.history import parse

    (event,) = parse(['{:process 3, :type :ok, :f :get, :key "7", :value "a \\"b\\""}'])
    assert (event.process, event.type, event.f, event.key, event.value) == (
        3,
        "ok",
        "get",
        "7",
        'a "b"',
    )
    with pytest.raises(InputFormatError, match=r":2: not a readable EDN map"):
        parse(['{:process 0, :type :invoke, :f :get, :key "1", :value nil}', "{:process [1]}"])
