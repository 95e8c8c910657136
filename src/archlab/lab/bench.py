"""Benchmarks against real peers: side by side, same run, same data, reported as ratios.

A chapter package registers its benchmarks in its ``benchmarks.py``::

    @benchmark(name="ids", title="ID generation rate", columns=[...])
    def bench_ids(ctx: BenchContext) -> BenchReport: ...

A benchmark is never a timed test. It measures archlab and each peer in the same process run,
alternating between them for several rounds (:func:`interleaved`) so that the noise of a shared
machine falls on both, and reports medians and the ratios that matter, each with the goal its
issue set. A peer that is not installed is reported as missing, never replaced by a guess.
"""

from __future__ import annotations

import importlib
import importlib.util
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from archlab.errors import UnknownNameError
from archlab.lab.progress import NullProgress, Progress
from archlab.lab.result import Column

Row = dict[str, Any]


@dataclass
class BenchContext:
    quick: bool
    seed: int
    scratch: Path
    progress: Progress = field(default_factory=NullProgress)
    #: Extra input files from ``--trace`` (benchmarks that replay traces measure these too).
    traces: tuple[Path, ...] = ()


RatioStatus = Literal["met", "not met", "not established"]


@dataclass(frozen=True)
class Ratio:
    """``archlab / peer`` (or its inverse, where lower is better), against the issue's goal.

    ``value`` is the median ratio; ``spread`` its lowest and highest value over the rounds
    (see :meth:`of_rounds`). With a spread, the goal is *met* only when the whole spread is on
    the goal's side, *not met* only when the whole spread misses it, and *not established*
    when the goal lies within the spread: the noise of the run decides it, not archlab. A
    ratio without a spread (one round, or a published figure) is decided by its value alone.
    """

    label: str
    value: float | None
    goal: float | None = None
    higher_is_better: bool = True
    spread: tuple[float, float] | None = None

    @classmethod
    def of_rounds(
        cls,
        label: str,
        ours: Sequence[float] | None,
        peer: Sequence[float] | None,
        goal: float | None = None,
        higher_is_better: bool = True,
    ) -> Ratio:
        """The ratio of paired rounds (``ours[i] / peer[i]``): median, and min–max as spread.

        Round ``i`` of both systems ran back to back (:func:`interleaved`), so each pair saw
        the same machine; a missing peer (``None`` or no rounds) gives a ratio of ``None``.
        """
        if not ours or not peer:
            return cls(label, None, goal, higher_is_better)
        if len(ours) != len(peer):
            raise ValueError(f"ratio {label!r}: {len(ours)} rounds against {len(peer)}")
        per_round = [a / b for a, b in zip(ours, peer, strict=True) if b > 0]
        if not per_round:
            return cls(label, None, goal, higher_is_better)
        return cls(
            label, median(per_round), goal, higher_is_better, (min(per_round), max(per_round))
        )

    @property
    def status(self) -> RatioStatus | None:
        """met / not met / not established against the goal (None: no goal or no peer)."""
        if self.value is None or self.goal is None:
            return None
        low, high = self.spread if self.spread is not None else (self.value, self.value)
        worst, best = (low, high) if self.higher_is_better else (high, low)
        if self._passes(worst):
            return "met"
        if not self._passes(best):
            return "not met"
        return "not established"

    def _passes(self, value: float) -> bool:
        assert self.goal is not None
        return value >= self.goal if self.higher_is_better else value <= self.goal

    @property
    def met(self) -> bool | None:
        """True only when the goal is met beyond the spread; None without a goal or a peer."""
        status = self.status
        return None if status is None else status == "met"

    @property
    def spread_text(self) -> str:
        """``0.91–1.12x``, or ``–`` without a spread."""
        if self.spread is None:
            return "–"
        return f"{self.spread[0]:.2f}–{self.spread[1]:.2f}x"

    @property
    def goal_text(self) -> str:
        if self.goal is None:
            return "–"
        return f"{'≥' if self.higher_is_better else '≤'} {self.goal:.3g}x"


@dataclass
class BenchReport:
    """Rows of measurements (one per system × workload), the ratios, and what was missing."""

    columns: list[Column]
    rows: list[Row]
    ratios: list[Ratio] = field(default_factory=list)
    missing_peers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


BenchFn = Callable[[BenchContext], BenchReport]


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    description: str
    run: BenchFn


_BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(*, name: str, title: str, description: str) -> Callable[[BenchFn], BenchFn]:
    """Register the decorated function as ``archlab bench <name>``."""

    def register(fn: BenchFn) -> BenchFn:
        existing = _BENCHMARKS.get(name)
        if existing is not None and existing.run is not fn:
            raise ValueError(f"benchmark {name!r} is registered twice")
        _BENCHMARKS[name] = Benchmark(name, title, " ".join(description.split()), fn)
        return fn

    return register


def discover() -> None:
    """Import every ``benchmarks`` module in archlab's packages, at any depth."""
    from archlab.lab.registry import chapter_modules

    for name in chapter_modules("benchmarks"):
        importlib.import_module(name)


def all_benchmarks() -> list[Benchmark]:
    discover()
    return sorted(_BENCHMARKS.values(), key=lambda b: b.name)


def get(name: str) -> Benchmark:
    discover()
    try:
        return _BENCHMARKS[name]
    except KeyError:
        raise UnknownNameError("benchmark", name, list(_BENCHMARKS)) from None


def peer_available(module: str) -> bool:
    """Whether the peer's Python module can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def interleaved(
    systems: Mapping[str, Callable[[], float]],
    rounds: int,
    progress: Progress | None = None,
    description: str = "rounds",
) -> dict[str, list[float]]:
    """Run each system's trial once per round, alternating, and collect their measurements.

    A trial returns one number (ops/s, seconds ...). Alternating rounds, rather than all trials
    of one system then all of the next, spreads a noisy neighbour's load over every system.
    """
    samples: dict[str, list[float]] = {name: [] for name in systems}
    with (progress or NullProgress()).task(description, rounds * len(systems)) as task:
        for round_no in range(rounds):
            order = list(systems.items())
            if round_no % 2:
                order.reverse()
            for name, trial in order:
                samples[name].append(trial())
                task.advance()
    return samples


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def ops_per_sec(operations: int, fn: Callable[[], object]) -> float:
    """Run ``fn`` once and return ``operations`` divided by its wall time."""
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    return operations / elapsed if elapsed > 0 else float("inf")


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def markdown(bench: Benchmark, report: BenchReport, command: str, environment: str) -> str:
    """The report as a ``BENCHMARKS.md`` section: command, machine, table and ratios."""
    from archlab.lab import format as fmt

    keys = [c.name for c in report.columns]
    lines = [
        f"## {bench.title}",
        "",
        bench.description,
        "",
        f"Reproduce: `{command}`",
        "",
        f"Measured on: {environment}",
        "",
        "| " + " | ".join(c.label for c in report.columns) + " |",
        "|" + "|".join("---" for _ in report.columns) + "|",
    ]
    for row in report.rows:
        lines.append("| " + " | ".join(fmt.number(row.get(k)) for k in keys) + " |")
    if report.ratios:
        lines += [
            "",
            "| ratio | median | spread (min–max) | goal | verdict |",
            "|---|---|---|---|---|",
        ]
        for r in report.ratios:
            value = "missing peer" if r.value is None else f"{r.value:.2f}x"
            status = r.status
            verdict = "–" if status is None else ("**not met**" if status == "not met" else status)
            lines.append(f"| {r.label} | {value} | {r.spread_text} | {r.goal_text} | {verdict} |")
        lines += [
            "",
            "A goal is met only when the whole spread of the ratio over the rounds is on the "
            "goal's side, not met when the whole spread misses it, and not established when "
            "the goal lies within the spread.",
        ]
    if report.missing_peers:
        lines += ["", f"Missing peers (not measured): {', '.join(report.missing_peers)}."]
    for note in report.notes:
        lines += ["", note]
    return "\n".join(lines) + "\n"
