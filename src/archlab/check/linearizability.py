"""Is a concurrent history linearizable? (codex 5.1)

Linearizability asks for one order of all operations that (a) respects real time: an
operation that completed before another was invoked comes first, and (b) is a legal run of the
sequential object (the :mod:`~archlab.check.models` model). :func:`check_linearizable` pairs
the history, asks the model which operations take part (``info`` ones may or may not), splits
it into independent partitions where the model allows (P-compositionality: a ``kv`` history is
checked key by key), and runs the memoised Wing & Gong search of :mod:`~archlab.check.search`
on each.

Partitions are checked interleaved, each given a slice of steps that doubles every round, so
one hard key cannot starve an easy illegal one: the check fails as soon as any key is found
illegal. A step budget or a time limit ends the check with ``"unknown"``, never an endless
run.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from archlab.check import history as hist
from archlab.check.history import Event, Operation
from archlab.check.models import Model, get_model
from archlab.check.search import Outcome, Search, search
from archlab.errors import ConfigError, InputFormatError

Verdict = bool | Literal["unknown"]
#: Steps a partition gets in its first turn; the slice doubles each round up to the cap, so
#: the time limit is looked at every few tens of milliseconds.
FIRST_SLICE = 1_000
MAX_SLICE = 32_000


@dataclass(frozen=True)
class KeyResult:
    """The verdict on one partition (one key of a ``kv`` history, or the whole history).

    ``valid`` is None when the partition was not finished because another key was found
    illegal first (fail fast). ``linearization`` is a witness order when valid, the longest
    linearizable prefix when not; ``blocked`` is the operation that could not be placed after
    it, ``unplaced`` every required operation still unplaced there that was invoked before
    ``blocked`` completed (the candidates the search tried), ``state`` the model state after
    the prefix.
    """

    key: Hashable
    valid: Verdict | None
    ops: int
    steps: int
    configurations: int = 0
    linearization: tuple[Operation, ...] = ()
    blocked: Operation | None = None
    unplaced: tuple[Operation, ...] = ()
    state: Hashable = None


@dataclass
class LinearizabilityResult:
    """The verdict on a whole history, with the evidence for an illegal one."""

    valid: Verdict
    model: Model
    keys: list[KeyResult]
    operations: int
    steps: int
    elapsed_s: float
    reason: str = ""
    ops: list[Operation] = field(default_factory=list, repr=False)

    @property
    def failures(self) -> list[KeyResult]:
        return [k for k in self.keys if k.valid is False]

    @property
    def highlight(self) -> set[int]:
        """Indexes of the operations that could not be placed (for the timeline)."""
        return {op.index for k in self.failures for op in k.unplaced}

    def holder(self, key: KeyResult) -> str:
        """What holds the state: the model, or one key of it."""
        return f"the {self.model.name}" if key.key is None else f"key {key.key!r}"

    def explain(self, key: KeyResult) -> str:
        """One paragraph on why ``key`` is not linearizable."""
        m = self.model
        assert key.blocked is not None
        where = "" if key.key is None else f"key {key.key!r}: "
        blocked = key.blocked
        others = [op for op in key.unplaced if op.index != blocked.index]
        tried = (
            f" together with the {len(others)} other operation(s) pending then" if others else ""
        )
        return (
            f"{where}{m.describe(blocked)} by process {blocked.process!r} "
            f"(line {blocked.invoke.line or '?'}) cannot take effect: the longest linearizable "
            f"prefix places {len(key.linearization)} operation(s) and leaves {self.holder(key)} "
            f"holding {m.describe_state(key.state)}, and no order of the operations invoked "
            f"before it completed{tried} lets it take effect before it returned"
        )

    @property
    def anomalies(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": "not-linearizable",
                "key": _jsonable(k.key),
                "op": op_dict(k.blocked, self.model),
                "unplaced": [op_dict(op, self.model) for op in k.unplaced],
                "prefix": [op_dict(op, self.model) for op in k.linearization],
                "state": _jsonable(k.state),
                "explanation": self.explain(k),
            }
            for k in self.failures
            if k.blocked is not None
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "model": self.model.name,
            "operations": self.operations,
            "steps": self.steps,
            "elapsed_s": round(self.elapsed_s, 6),
            "reason": self.reason,
            "anomalies": self.anomalies,
            "keys": [
                {
                    "key": _jsonable(k.key),
                    "valid": k.valid,
                    "ops": k.ops,
                    "steps": k.steps,
                    "configurations": k.configurations,
                }
                for k in self.keys
            ],
        }


def op_dict(op: Operation | None, model: Model) -> dict[str, Any] | None:
    if op is None:
        return None
    return {
        "index": op.index,
        "process": op.process,
        "f": op.f,
        "key": _jsonable(op.key),
        "value": _jsonable(op.value),
        "output": _jsonable(op.output),
        "status": op.status,
        "line": op.invoke.line or None,
        "text": model.describe(op),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted((_jsonable(v) for v in value), key=repr)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def operations(
    history: Sequence[Event] | Sequence[Operation], source: str = "<history>"
) -> list[Operation]:
    """The operations of a history given as events (paired here) or as operations."""
    items = list(history)
    if items and isinstance(items[0], Event):
        events: list[Event] = []
        for item in items:
            if not isinstance(item, Event):
                raise TypeError("a history mixes events and operations")
            events.append(item)
        return hist.pair(events, source)
    ops: list[Operation] = []
    for item in items:
        if not isinstance(item, Operation):
            raise TypeError("a history mixes events and operations")
        ops.append(item)
    return ops


def check_linearizable(  # noqa: PLR0912, PLR0915 - the checker's top level: input validation, partitioning and the budgeted interleaving in one place
    history: Sequence[Event] | Sequence[Operation],
    model: str | Model = "kv",
    *,
    initial: Any = None,
    time_limit: float | None = None,
    max_steps: int | None = None,
    source: str = "<history>",
) -> LinearizabilityResult:
    """Check ``history`` against ``model``; ``valid`` is True, False or ``"unknown"``.

    ``initial`` is the object's value before the history (every key's, for ``kv``).
    ``time_limit`` (seconds) and ``max_steps`` (model steps, over all partitions) bound the
    search; reaching either makes the verdict ``"unknown"`` unless a key was already found
    illegal. ``source`` names the history in error messages.
    """
    if time_limit is not None and time_limit <= 0:
        raise ConfigError(f"the time limit must be positive, got {time_limit}")
    if max_steps is not None and max_steps <= 0:
        raise ConfigError(f"the step budget must be positive, got {max_steps}")
    started = time.perf_counter()
    the_model = get_model(model)
    ops = operations(history, source)
    for op in ops:
        problem = the_model.validate(op)
        if problem is not None:
            raise InputFormatError(source, problem, op.invoke.line or None)
    included = [op for op in ops if the_model.included(op)]
    partitions = the_model.partition(included)
    initial_state = the_model.init(initial)
    deadline = None if time_limit is None else started + time_limit

    running: dict[int, Search] = {}
    used: dict[int, int] = {}
    outcomes: dict[int, Outcome] = {}
    for number, (_, part) in enumerate(partitions):
        running[number] = search(part, the_model, initial_state)
        used[number] = next(running[number])
    total = 0
    slice_steps = FIRST_SLICE
    reason = ""
    failed = False
    while running and not failed and not reason:
        for number in list(running):
            grant = slice_steps
            if max_steps is not None:
                grant = min(grant, max_steps - total)
            try:
                now = running[number].send(used[number] + grant)
            except StopIteration as stop:
                outcome: Outcome = stop.value
                total += outcome.steps - used[number]
                used[number] = outcome.steps
                outcomes[number] = outcome
                del running[number]
                if not outcome.valid:
                    failed = True
                    break
            else:
                total += now - used[number]
                used[number] = now
            if max_steps is not None and total >= max_steps:
                reason = f"the step budget of {max_steps:,} steps ran out"
                break
            if deadline is not None and time.perf_counter() >= deadline:
                reason = f"the time limit of {time_limit:g} s was reached after {total:,} steps"
                break
        slice_steps = min(slice_steps * 2, MAX_SLICE)
    for gen in running.values():
        gen.close()

    keys = [
        _key_result(key, part, outcomes.get(number), used[number], cut=not failed)
        for number, (key, part) in enumerate(partitions)
    ]
    verdict: Verdict
    if failed:
        verdict = False
        reason = "an operation could not be placed in any order the model accepts"
    elif running:
        verdict = "unknown"
    else:
        verdict = True
    return LinearizabilityResult(
        valid=verdict,
        model=the_model,
        keys=keys,
        operations=len(ops),
        steps=total,
        elapsed_s=time.perf_counter() - started,
        reason=reason,
        ops=ops,
    )


def _key_result(
    key: Hashable, part: list[Operation], outcome: Outcome | None, steps: int, *, cut: bool
) -> KeyResult:
    """``cut``: an unfinished partition was stopped by a limit (unknown), not by fail-fast."""
    if outcome is None:
        return KeyResult(key, "unknown" if cut else None, len(part), steps)
    unplaced: tuple[Operation, ...] = ()
    if outcome.blocked is not None:
        placed = {op.index for op in outcome.order}
        deadline = outcome.blocked.ret
        unplaced = (
            outcome.blocked,
            *(
                op
                for op in part
                if op.status != "info"
                and op.index not in placed
                and op.index != outcome.blocked.index
                and op.call < deadline
            ),
        )
    return KeyResult(
        key=key,
        valid=outcome.valid,
        ops=len(part),
        steps=outcome.steps,
        configurations=outcome.configurations,
        linearization=outcome.order,
        blocked=outcome.blocked,
        unplaced=unplaced,
        state=outcome.state,
    )
