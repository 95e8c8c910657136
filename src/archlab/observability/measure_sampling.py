"""Experiment ``observability.sampling`` (codex 9.1): head vs tail sampling at the same keep rate.

A service's traces are generated with the OpenTelemetry SDK in simulated time: a root span
and several child spans per request, 1% of requests failing (an error status on a child and
the root) and 2% slow (a root ten times longer). The same workload is traced three ways, each
exporting to an in-memory exporter:

- head sampling: :class:`~archlab.observability.sampling.HeadSampler` at ratio r;
- tail sampling: every span recorded and buffered by
  :class:`~archlab.observability.sampling.TailSamplingProcessor`, keeping errors, slow traces
  and a probabilistic share chosen so that, on average, it keeps the same r of all traces;
- the same tail sampler with a small ``num_traces`` bound, to show what eviction costs.

Measured: the share of error traces and of slow traces each keeps, the share of all traces,
the peak memory of the tracing pipeline (``tracemalloc``) and CPU time per span.
"""

from __future__ import annotations

import random
import time
import tracemalloc
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Status, StatusCode

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Figure,
    Judgement,
    Outcome,
    Series,
    Table,
    Threshold,
    holds,
    nuanced,
    refuted,
)
from archlab.observability.sampling import (
    HeadSampler,
    TailSamplingProcessor,
    any_of,
    latency_at_least,
    probabilistic,
    status_code_error,
)

#: The codex: tail sampling captures 100% of error and high-latency traces.
ALL_KEPT = Threshold(100.0, "%", "codex 9.1: tail sampling captures 100% of errors and slow traces")
#: "Significant memory": at least twice what head sampling's pipeline needs.
MEMORY_COST = Threshold(2.0, "x", "codex 9.1 'significant memory', read as at least 2x head's")


@dataclass(frozen=True)
class SamplerResult:
    design: str
    kept_pct: float
    errors_kept_pct: float
    slow_kept_pct: float
    peak_memory_kb: float
    cpu_us_per_span: float
    evicted: int


@dataclass(frozen=True)
class SamplingMeasurement:
    ratio: float
    traces: int
    error_traces: int
    slow_traces: int
    head_errors_high_pct: float  # the 99.95% quantile of errors head keeps, by chance alone
    results: list[SamplerResult]

    def get(self, design: str) -> SamplerResult:
        return next(r for r in self.results if r.design == design)


def judge_sampling(m: SamplingMeasurement) -> Judgement:
    head, tail = m.get("head"), m.get("tail")
    errors = Evidence(
        "error traces kept by tail sampling", round(tail.errors_kept_pct, 2), "%", at_least=ALL_KEPT
    )
    slow = Evidence(
        "slow traces kept by tail sampling", round(tail.slow_kept_pct, 2), "%", at_least=ALL_KEPT
    )
    head_errors = Evidence(
        f"error traces kept by head sampling at {m.ratio:.0%}",
        round(head.errors_kept_pct, 2),
        "%",
        at_most=Threshold(
            round(m.head_errors_high_pct, 2),
            "%",
            f"99.95% quantile of Binomial({m.error_traces}, {m.ratio})",
        ),
    )
    memory = Evidence(
        "peak tracing memory, tail / head",
        round(tail.peak_memory_kb / max(head.peak_memory_kb, 1e-9), 1),
        "x",
        at_least=MEMORY_COST,
    )
    evidence = (errors, slow, head_errors, memory)
    text = (
        f"keeping about {m.ratio:.0%} of traces either way, head sampling kept "
        f"{head.errors_kept_pct:.1f}% of error traces and {head.slow_kept_pct:.1f}% of slow ones, "
        f"tail sampling {tail.errors_kept_pct:.1f}% and {tail.slow_kept_pct:.1f}%, at "
        f"{tail.peak_memory_kb / max(head.peak_memory_kb, 1e-9):.1f}x the memory and "
        f"{tail.cpu_us_per_span / max(head.cpu_us_per_span, 1e-9):.1f}x the CPU per span"
    )
    if not (errors.met and slow.met):
        return refuted(text + ": tail sampling missed traces it should have kept", *evidence)
    if not head_errors.met:
        return refuted(text + ": head sampling kept more errors than chance allows", *evidence)
    if memory.met:
        return holds(text, *evidence)
    return nuanced(text + f": but its memory cost was under {MEMORY_COST}", *evidence)


@dataclass(frozen=True)
class _Request:
    start_ns: int
    duration_ns: int
    error: bool
    slow: bool


def workload(rng: random.Random, traces: int, rate: float) -> list[_Request]:
    out, t = [], 1_700_000_000 * 10**9
    for _ in range(traces):
        t += int(rng.expovariate(rate) * 1e9)
        error, slow = rng.random() < 0.01, rng.random() < 0.02
        duration = rng.uniform(0.5, 2.0) if slow else rng.uniform(0.02, 0.08)
        out.append(_Request(t, int(duration * 1e9), error, slow))
    return out


def _emit(provider: TracerProvider, requests: list[_Request], children: int) -> None:
    tracer = provider.get_tracer("archlab.observability")
    for r in requests:
        root = tracer.start_span("POST /checkout", start_time=r.start_ns)
        ctx = trace.set_span_in_context(root)
        step = r.duration_ns // (children + 1)
        for i in range(children):
            child = tracer.start_span(
                f"call dependency {i}", context=ctx, start_time=r.start_ns + i * step
            )
            child.set_attribute("peer.service", f"dep{i}")
            if r.error and i == children - 1:
                child.set_status(Status(StatusCode.ERROR, "dependency failed"))
            child.end(end_time=r.start_ns + (i + 1) * step)
        if r.error:
            root.set_status(Status(StatusCode.ERROR))
        root.end(end_time=r.start_ns + r.duration_ns)


def run_design(
    design: str,
    requests: list[_Request],
    children: int,
    ratio: float,
    num_traces: int,
    slow_s: float,
) -> SamplerResult:
    exporter = InMemorySpanExporter()
    tail: TailSamplingProcessor | None = None
    if design == "head":
        provider = TracerProvider(sampler=HeadSampler(ratio))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        share = sum(r.error or r.slow for r in requests) / len(requests)
        p = max(0.0, (ratio - share) / (1 - share))
        policy = any_of(status_code_error(), latency_at_least(slow_s), probabilistic(p))
        provider = TracerProvider(sampler=ALWAYS_ON)
        tail = TailSamplingProcessor(exporter, policy, decision_wait=5.0, num_traces=num_traces)
        provider.add_span_processor(tail)
    tracemalloc.start()
    cpu = time.process_time()
    _emit(provider, requests, children)
    provider.force_flush()
    cpu = time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    kept = {s.context.trace_id for s in exporter.get_finished_spans()}
    roots = {s.context.trace_id: s for s in exporter.get_finished_spans() if s.parent is None}
    errors = [r for r in requests if r.error]
    slow = [r for r in requests if r.slow]
    by_start = {s.start_time: tid for tid, s in roots.items()}

    def kept_share(group: list[_Request]) -> float:
        hit = sum(1 for r in group if by_start.get(r.start_ns) in kept)
        return 100 * hit / max(1, len(group))

    spans = len(requests) * (children + 1)
    provider.shutdown()
    return SamplerResult(
        design,
        100 * len(roots) / len(requests),
        kept_share(errors),
        kept_share(slow),
        peak / 1024,
        1e6 * cpu / spans,
        tail.stats.traces_evicted if tail else 0,
    )


def _binomial_high_pct(n: int, p: float) -> float:
    from archlab.resilience.measure_sharding import binomial_quantile

    return 100 * binomial_quantile(n, p, 0.9995) / max(1, n)


def measure(ctx: Context) -> Outcome[SamplingMeasurement]:
    prm = ctx.params
    ratio, children = float(prm["ratio"]), int(prm["children"])
    requests = workload(ctx.rng("workload"), int(prm["traces"]), float(prm["rate"]))
    designs = [
        ("head", 0),
        ("tail", int(prm["num_traces"])),
        ("tail, small buffer", int(prm["small_num_traces"])),
    ]
    results = []
    with ctx.progress.task("samplers", len(designs)) as task:
        for name, bound in designs:
            kind = "head" if name == "head" else "tail"
            r = run_design(kind, requests, children, ratio, bound or 1, slow_s=0.4)
            results.append(
                SamplerResult(
                    name,
                    *[
                        getattr(r, f)
                        for f in (
                            "kept_pct",
                            "errors_kept_pct",
                            "slow_kept_pct",
                            "peak_memory_kb",
                            "cpu_us_per_span",
                            "evicted",
                        )
                    ],
                )
            )
            task.advance()
    n_err = sum(r.error for r in requests)
    measured = SamplingMeasurement(
        ratio,
        len(requests),
        n_err,
        sum(r.slow for r in requests),
        _binomial_high_pct(n_err, ratio),
        results,
    )
    table = Table(
        f"{len(requests)} traces of {children + 1} spans; {n_err} with errors, "
        f"{measured.slow_traces} slow",
        [
            Column("sampler"),
            Column("traces kept", "%"),
            Column("error traces kept", "%"),
            Column("slow traces kept", "%"),
            Column("peak memory", "KiB"),
            Column("CPU per span", "µs"),
            Column("traces evicted"),
        ],
        note="The tail sampler keeps errors, traces over 400 ms and a random share sized so "
        f"that it keeps {ratio:.0%} of traces on average, like the head sampler.",
    )
    for r in results:
        table.add(
            r.design,
            r.kept_pct,
            r.errors_kept_pct,
            r.slow_kept_pct,
            r.peak_memory_kb,
            r.cpu_us_per_span,
            r.evicted,
        )
    figure = Figure(
        "What each sampler keeps at the same average keep rate",
        y_label="% kept",
        series=[
            Series(
                r.design,
                ["all traces", "error traces", "slow traces"],
                [r.kept_pct, r.errors_kept_pct, r.slow_kept_pct],
                style="bar",
            )
            for r in results
        ],
    )
    head, tail = measured.get("head"), measured.get("tail")
    summary = (
        f"errors kept: head {head.errors_kept_pct:.0f}%, tail {tail.errors_kept_pct:.0f}%; "
        f"tail memory {tail.peak_memory_kb / max(head.peak_memory_kb, 1e-9):.1f}x head's"
    )
    return Outcome(measured, summary=summary, tables=[table], figures=[figure])
