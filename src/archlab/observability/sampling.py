"""Head and tail trace sampling on the OpenTelemetry SDK's own interfaces (codex 9.1).

- :class:`HeadSampler` is an OpenTelemetry ``Sampler``: the decision is made when a trace's
  root span starts, from the trace id alone (keep when its low 64 bits fall below
  ``ratio · 2^64``), and children follow their parent's decision (parent-based), so a trace is
  kept or dropped whole. Cheap, and blind to how the request will turn out.
- :class:`TailSamplingProcessor` is an OpenTelemetry ``SpanProcessor``: every span of every
  trace is buffered until the trace's root has ended and ``decision_wait`` more seconds have
  passed (stragglers arrive), then the policies decide on the whole trace, as the Collector's
  tail-sampling processor does: status code (errors), latency (root duration at or above a
  threshold), probabilistic (a share by trace id), string attribute (a value in a set), rate
  limiting (at most N traces a second kept by it) and composites (any / all). At most
  ``num_traces`` traces are held; past that the oldest is evicted undecided and counted.

Time comes from the spans' own timestamps (nanoseconds), so a simulated workload decides the
same way every run.
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import SpanKind, StatusCode, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from archlab.errors import ConfigError

_MAX = 2**64


def _keeps(trace_id: int, ratio: float) -> bool:
    return (trace_id & (_MAX - 1)) < ratio * _MAX


class HeadSampler(Sampler):
    """Parent-based, trace-id ratio head sampling."""

    def __init__(self, ratio: float) -> None:
        if not 0 <= ratio <= 1:
            raise ConfigError(f"head sampling ratio must be in [0, 1], got {ratio}")
        self.ratio = ratio

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Any] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = get_current_span(parent_context).get_span_context()
        sampled = parent.trace_flags.sampled if parent.is_valid else _keeps(trace_id, self.ratio)
        decision = Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP
        return SamplingResult(decision, attributes if sampled else None, trace_state)

    def get_description(self) -> str:
        return f"HeadSampler{{parent-based, ratio={self.ratio}}}"


#: A policy looks at a whole trace (its spans, root last-ended first) and says keep or not.
Policy = Callable[[list[ReadableSpan], ReadableSpan], bool]


def status_code_error() -> Policy:
    return lambda spans, root: any(s.status.status_code == StatusCode.ERROR for s in spans)


def latency_at_least(seconds: float) -> Policy:
    threshold = int(seconds * 1e9)
    return lambda spans, root: (root.end_time or 0) - (root.start_time or 0) >= threshold


def probabilistic(ratio: float) -> Policy:
    return lambda spans, root: _keeps(root.context.trace_id, ratio)


def string_attribute(key: str, values: set[str]) -> Policy:
    return lambda spans, root: any(str((s.attributes or {}).get(key)) in values for s in spans)


def any_of(*policies: Policy) -> Policy:
    return lambda spans, root: any(p(spans, root) for p in policies)


def all_of(*policies: Policy) -> Policy:
    return lambda spans, root: all(p(spans, root) for p in policies)


@dataclass
class RateLimited:
    """Keep what ``inner`` keeps, at most ``per_second`` traces per second of span time."""

    inner: Policy
    per_second: float
    _second: int = -1
    _count: int = 0

    def __call__(self, spans: list[ReadableSpan], root: ReadableSpan) -> bool:
        if not self.inner(spans, root):
            return False
        second = (root.end_time or 0) // 1_000_000_000
        if second != self._second:
            self._second, self._count = second, 0
        if self._count >= self.per_second:
            return False
        self._count += 1
        return True


@dataclass
class TailStats:
    traces_kept: int = 0
    traces_dropped: int = 0
    traces_evicted: int = 0
    spans_kept: int = 0
    peak_buffered_spans: int = 0
    late_spans: int = 0


@dataclass
class _Trace:
    spans: list[ReadableSpan] = field(default_factory=list)
    root: ReadableSpan | None = None


class TailSamplingProcessor(SpanProcessor):
    """Buffers whole traces and exports those a policy keeps (see the module docstring)."""

    def __init__(
        self,
        exporter: SpanExporter,
        policy: Policy,
        decision_wait: float = 30.0,
        num_traces: int = 50_000,
    ) -> None:
        if decision_wait < 0 or num_traces < 1:
            raise ConfigError("tail sampling: need decision_wait ≥ 0 and num_traces ≥ 1")
        self.exporter = exporter
        self.policy = policy
        self.wait_ns = int(decision_wait * 1e9)
        self.num_traces = num_traces
        self.stats = TailStats()
        self._traces: OrderedDict[int, _Trace] = OrderedDict()
        self._due: list[tuple[int, int]] = []  # (root end + decision wait, trace id), a heap
        self._decided: OrderedDict[int, bool] = OrderedDict()
        self._buffered = 0
        self._lock = threading.Lock()

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        trace_id = span.context.trace_id
        now = span.end_time or 0
        with self._lock:
            if trace_id in self._decided:  # a straggler after the decision: follow it
                self.stats.late_spans += 1
                if self._decided[trace_id]:
                    self.stats.spans_kept += 1
                    self.exporter.export([span])
                return
            trace = self._traces.setdefault(trace_id, _Trace())
            trace.spans.append(span)
            self._buffered += 1
            if span.parent is None:
                trace.root = span
                heapq.heappush(self._due, (now + self.wait_ns, trace_id))
            while len(self._traces) > self.num_traces:
                _, evicted = self._traces.popitem(last=False)
                self._buffered -= len(evicted.spans)
                self.stats.traces_evicted += 1
            self.stats.peak_buffered_spans = max(self.stats.peak_buffered_spans, self._buffered)
            ready = self._take_due(now)
        for tid, t in ready:
            self._decide(tid, t)

    def tick(self, now_ns: int) -> None:
        """Decide every trace whose wait is over at ``now_ns`` (a collector's timer)."""
        with self._lock:
            ready = self._take_due(now_ns)
        for tid, t in ready:
            self._decide(tid, t)

    def _take_due(self, now: int) -> list[tuple[int, _Trace]]:
        ready = []
        while self._due and self._due[0][0] <= now:
            _, tid = heapq.heappop(self._due)
            t = self._traces.pop(tid, None)  # None: evicted meanwhile
            if t is not None:
                ready.append((tid, t))
                self._buffered -= len(t.spans)
        return ready

    def _decide(self, trace_id: int, trace: _Trace) -> None:
        assert trace.root is not None
        keep = self.policy(trace.spans, trace.root)
        self._decided[trace_id] = keep
        while len(self._decided) > self.num_traces:
            self._decided.popitem(last=False)
        if keep:
            self.stats.traces_kept += 1
            self.stats.spans_kept += len(trace.spans)
            self.exporter.export(trace.spans)
        else:
            self.stats.traces_dropped += 1

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Decide every trace whose root has ended, waiting no longer."""
        with self._lock:
            ready = [(tid, t) for tid, t in self._traces.items() if t.root is not None]
            for tid, t in ready:
                del self._traces[tid]
                self._buffered -= len(t.spans)
            self._due.clear()
        for tid, t in ready:
            self._decide(tid, t)
        return True

    def shutdown(self) -> None:
        self.force_flush()
        self.exporter.shutdown()
