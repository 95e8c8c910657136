"""Histories: the JSON Lines format of docs/architecture.md, parsed, validated and paired.

A history is one event per line, in real-time order::

    {"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1}
    {"process": 0, "type": "ok",     "f": "write", "key": "x", "value": 1}

``type`` is ``invoke``; or ``ok`` (took effect, with its result), ``fail`` (certainly did
not take effect) or ``info`` (unknown: it may take effect at any time after its invoke, or
never). ``key`` is optional (a single register); ``time`` is an optional timestamp. An
``invoke`` that never completes counts as ``info``. Transactions use ``"f": "txn"`` and a list
of micro-operations as ``value`` (``[["append", "x", 3], ["r", "y", [1, 2]]]``).

:func:`load` / :func:`parse` turn text into :class:`Event` objects, reporting the first
malformed line with its number and what was expected; :func:`pair` matches each invocation
with its completion into an :class:`Operation`, the unit the checkers reason about.
:class:`Recorder` is how the simulator, the runtime or a test writes a history.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, cast

from archlab.check import edn
from archlab.errors import InputFormatError

EventType = Literal["invoke", "ok", "fail", "info"]
Status = Literal["ok", "fail", "info"]
EVENT_TYPES: tuple[EventType, ...] = ("invoke", "ok", "fail", "info")
#: The return index of an operation that never (certainly) returned.
NEVER = sys.maxsize

_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a history."""

    process: int | str
    type: EventType
    f: str
    value: Any = None
    key: Hashable | None = None
    time: float | None = None
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"process": self.process, "type": self.type, "f": self.f}
        if self.key is not None:
            data["key"] = self.key
        data["value"] = self.value
        if self.time is not None:
            data["time"] = self.time
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(", ", ": "))


@dataclass(frozen=True, slots=True)
class Operation:
    """An invocation and its completion: the interval in which it took effect, if it did.

    ``call`` and ``ret`` are positions in the history (0-based event indexes); an ``info``
    operation has ``ret == NEVER``. ``value`` is what the client asked (the invoke's value),
    ``output`` what it was told (the completion's value; ``None`` for ``info``).
    """

    index: int
    process: int | str
    f: str
    key: Hashable | None
    value: Any
    output: Any
    status: Status
    call: int
    ret: int
    invoke: Event = field(repr=False, compare=False)
    completion: Event | None = field(default=None, repr=False, compare=False)


def _freeze(value: Any) -> Any:
    """JSON lists become tuples so keys and values are hashable (keys must be)."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def parse_event(data: Any, source: str, line: int) -> Event:
    """Validate one decoded JSON object as an :class:`Event`."""
    if not isinstance(data, dict):
        raise InputFormatError(source, f"expected a JSON object, got {type(data).__name__}", line)
    for name in ("process", "type", "f"):
        if name not in data:
            raise InputFormatError(source, f"missing field {name!r}", line)
    process, kind, f = data["process"], data["type"], data["f"]
    if isinstance(process, bool) or not isinstance(process, int | str):
        raise InputFormatError(
            source, f"'process' must be an integer or string, got {process!r}", line
        )
    if kind not in EVENT_TYPES:
        raise InputFormatError(
            source, f"'type' must be one of {', '.join(EVENT_TYPES)}, got {kind!r}", line
        )
    if not isinstance(f, str) or not f:
        raise InputFormatError(source, f"'f' must be a non-empty string, got {f!r}", line)
    key = data.get("key", _ABSENT)
    if key is not _ABSENT and isinstance(key, dict):
        raise InputFormatError(source, "'key' must be a string, number or list", line)
    time = data.get("time")
    if time is not None and (isinstance(time, bool) or not isinstance(time, int | float)):
        raise InputFormatError(source, f"'time' must be a number, got {time!r}", line)
    return Event(
        process=process,
        type=cast(EventType, kind),
        f=f,
        value=_freeze(data.get("value")),
        key=None if key is _ABSENT else _freeze(key),
        time=None if time is None else float(time),
        line=line,
    )


def parse(lines: Iterable[str], source: str = "<history>") -> list[Event]:
    """Parse JSON Lines text; blank lines are skipped, anything else must be an event.

    A line that is an EDN map (``{:process 0, :type :invoke, ...}``, the shape of Jepsen logs
    and Porcupine's key-value test data) is read as the same event (:mod:`~archlab.check.edn`).
    """
    events = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        if edn.is_edn(text):
            try:
                data = edn.parse_map(text)
            except ValueError as exc:
                raise InputFormatError(source, f"not a readable EDN map ({exc})", number) from None
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputFormatError(
                    source, f"not valid JSON ({exc.msg} at column {exc.colno})", number
                ) from None
        events.append(parse_event(data, source, number))
    return events


def load(path: str | Path) -> list[Event]:
    """Read and parse the history file at ``path``."""
    try:
        with open(path, encoding="utf-8") as f:
            return parse(f, str(path))
    except OSError as exc:
        raise InputFormatError(path, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputFormatError(path, "not UTF-8 text") from None


def dumps(events: Iterable[Event]) -> str:
    """JSON Lines text (tuples are written as JSON arrays)."""
    return "".join(e.to_json() + "\n" for e in events)


def dump(events: Iterable[Event], target: str | Path | IO[str]) -> None:
    """Write ``events`` as JSON Lines to a path (atomically) or an open text stream."""
    if isinstance(target, str | Path):
        path = Path(target)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(dumps(events), encoding="utf-8")
        tmp.replace(path)
    else:
        for event in events:
            target.write(event.to_json() + "\n")


def pair(events: Sequence[Event], source: str = "<history>") -> list[Operation]:
    """Match invocations with completions, in invocation order.

    A process has at most one operation pending; a completion must name the same ``f`` (and
    ``key``) as the invocation it completes. An invocation left pending at the end of the
    history, or completed by ``info``, becomes an ``info`` operation with ``ret == NEVER``.
    A process whose operation ended in ``info`` may invoke again: the unknown operation stays
    concurrent with everything after it.
    """
    pending: dict[int | str, tuple[int, Event]] = {}
    slots: list[Operation | None] = []
    slot_of: dict[int, int] = {}
    for position, event in enumerate(events):
        where = event.line or position + 1
        if event.type == "invoke":
            if event.process in pending:
                _, earlier = pending[event.process]
                raise InputFormatError(
                    source,
                    f"process {event.process!r} invokes {event.f!r} while its {earlier.f!r} "
                    f"from line {earlier.line or '?'} has not completed",
                    where,
                )
            pending[event.process] = (position, event)
            slot_of[position] = len(slots)
            slots.append(None)
            continue
        if event.process not in pending:
            raise InputFormatError(
                source,
                f"process {event.process!r} completes {event.f!r} ({event.type}) "
                f"without a pending invoke",
                where,
            )
        call, invoke = pending.pop(event.process)
        if event.f != invoke.f or event.key != invoke.key:
            raise InputFormatError(
                source,
                f"completion {event.f!r} key {event.key!r} does not match the pending invoke "
                f"{invoke.f!r} key {invoke.key!r} of process {event.process!r}",
                where,
            )
        unknown = event.type == "info"
        slots[slot_of[call]] = Operation(
            index=slot_of[call],
            process=event.process,
            f=invoke.f,
            key=invoke.key,
            value=invoke.value,
            output=None if unknown else event.value,
            status=event.type,
            call=call,
            ret=NEVER if unknown else position,
            invoke=invoke,
            completion=event,
        )
    for call, invoke in pending.values():
        slots[slot_of[call]] = Operation(
            index=slot_of[call],
            process=invoke.process,
            f=invoke.f,
            key=invoke.key,
            value=invoke.value,
            output=None,
            status="info",
            call=call,
            ret=NEVER,
            invoke=invoke,
        )
    return [op for op in slots if op is not None]


class Recorder:
    """Builds a history as operations happen (simulator, runtime, tests).

    ``time`` is whatever clock the writer has (virtual time in the simulator); events are kept
    in the order they are recorded, which must be real-time order.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []

    def invoke(
        self,
        process: int | str,
        f: str,
        value: Any = None,
        key: Hashable | None = None,
        time: float | None = None,
    ) -> None:
        self.events.append(Event(process, "invoke", f, _freeze(value), _freeze(key), time))

    def complete(
        self,
        process: int | str,
        status: Status,
        f: str,
        value: Any = None,
        key: Hashable | None = None,
        time: float | None = None,
    ) -> None:
        self.events.append(Event(process, status, f, _freeze(value), _freeze(key), time))

    def ok(
        self,
        process: int | str,
        f: str,
        value: Any = None,
        key: Hashable | None = None,
        time: float | None = None,
    ) -> None:
        self.complete(process, "ok", f, value, key, time)

    def fail(
        self,
        process: int | str,
        f: str,
        value: Any = None,
        key: Hashable | None = None,
        time: float | None = None,
    ) -> None:
        self.complete(process, "fail", f, value, key, time)

    def info(
        self,
        process: int | str,
        f: str,
        value: Any = None,
        key: Hashable | None = None,
        time: float | None = None,
    ) -> None:
        self.complete(process, "info", f, value, key, time)

    def dumps(self) -> str:
        return dumps(self.events)
