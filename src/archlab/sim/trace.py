"""The event trace of a simulation: what happened, when, in the order it happened.

Every component records through :meth:`archlab.sim.kernel.Simulation.record`: the nemesis
records each fault it applies and heals (the schedule actually applied), hosts record crashes,
restarts and pauses, the network records sends, deliveries and drops, protocols add notes. The
trace is kept as tuples and serialised only when asked, as JSON Lines::

    {"time": 0.412, "event": "fault", "kind": "partition", ...}

Two runs with the same seed and parameters give byte-identical :meth:`Trace.dumps` output
(the determinism test compares exactly that).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Record = tuple[float, str, dict[str, Any]]


def _plain(value: Any) -> Any:
    """Make trace fields JSON-serialisable deterministically (sets are sorted)."""
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


class Trace:
    """An append-only list of ``(time, event, fields)`` records."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.records: list[Record] = []

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def of(self, event: str) -> list[Record]:
        """The records of one event name, in order."""
        return [r for r in self.records if r[1] == event]

    def lines(self) -> Iterator[str]:
        for time, event, fields in self.records:
            data = {"time": round(time, 9), "event": event}
            data.update((k, _plain(v)) for k, v in fields.items())
            yield json.dumps(data, separators=(",", ":"))

    def dumps(self) -> str:
        """The trace as JSON Lines text."""
        return "".join(line + "\n" for line in self.lines())

    def dump(self, path: str | Path) -> None:
        Path(path).write_text(self.dumps(), encoding="utf-8")
