"""Head and tail sampling on the OpenTelemetry SDK: whole traces kept, policies, bounds."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from archlab.errors import ConfigError
from archlab.observability.measure_sampling import (
    SamplerResult,
    SamplingMeasurement,
    judge_sampling,
)
from archlab.observability.sampling import (
    HeadSampler,
    RateLimited,
    TailSamplingProcessor,
    all_of,
    any_of,
    latency_at_least,
    probabilistic,
    status_code_error,
    string_attribute,
)

S = 1_000_000_000


def _trace(
    provider: TracerProvider, start: int, ms: int, error: bool = False, tier: str = "free"
) -> None:
    tracer = provider.get_tracer("test")
    root = tracer.start_span("root", start_time=start, attributes={"tier": tier})
    child = tracer.start_span("child", context=trace.set_span_in_context(root), start_time=start)
    if error:
        child.set_status(Status(StatusCode.ERROR))
    child.end(end_time=start + ms * 1_000_000 // 2)
    root.end(end_time=start + ms * 1_000_000)


def test_head_sampling_keeps_or_drops_whole_traces_at_its_ratio() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=HeadSampler(0.25))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for i in range(2000):
        _trace(provider, i * S, 10)
    spans = exporter.get_finished_spans()
    by_trace: dict[int, int] = {}
    for s in spans:
        by_trace[s.context.trace_id] = by_trace.get(s.context.trace_id, 0) + 1
    assert set(by_trace.values()) == {2}  # never half a trace
    assert 0.2 < len(by_trace) / 2000 < 0.3


def _tail(
    policy: object, wait: float = 1.0, bound: int = 1000
) -> tuple[TracerProvider, InMemorySpanExporter, TailSamplingProcessor]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    processor = TailSamplingProcessor(exporter, policy, decision_wait=wait, num_traces=bound)  # type: ignore[arg-type]
    provider.add_span_processor(processor)
    return provider, exporter, processor


def test_tail_sampling_keeps_every_error_trace_whole_after_the_wait() -> None:
    provider, exporter, processor = _tail(status_code_error(), wait=2.0)
    _trace(provider, 0, 10, error=True)
    _trace(provider, 1 * S, 10)
    assert exporter.get_finished_spans() == ()  # nothing decided before the wait
    _trace(provider, 5 * S, 10)  # time passes: the first two are decided
    kept = exporter.get_finished_spans()
    assert len(kept) == 2 and {s.name for s in kept} == {"root", "child"}
    assert processor.stats.traces_kept == 1 and processor.stats.traces_dropped == 1
    processor.force_flush()
    assert processor.stats.traces_dropped == 2


def test_tail_policies_combine_as_the_collectors_do() -> None:
    slow_paid = all_of(latency_at_least(0.5), string_attribute("tier", {"paid"}))
    provider, _, processor = _tail(any_of(status_code_error(), slow_paid))
    _trace(provider, 0, 900, tier="paid")
    _trace(provider, S, 900, tier="free")
    _trace(provider, 2 * S, 10, tier="paid")
    processor.force_flush()
    assert processor.stats.traces_kept == 1


def test_rate_limiting_keeps_at_most_n_traces_a_second() -> None:
    provider, _, processor = _tail(RateLimited(probabilistic(1.0), per_second=3))
    for i in range(10):
        _trace(provider, 7 * S + i * 1_000, 1)
    processor.force_flush()
    assert processor.stats.traces_kept == 3


def test_past_num_traces_the_oldest_traces_are_evicted_and_counted() -> None:
    provider, _, processor = _tail(status_code_error(), wait=100.0, bound=5)
    for i in range(20):
        _trace(provider, i * S, 10, error=True)
    processor.force_flush()
    assert processor.stats.traces_evicted == 15 and processor.stats.traces_kept == 5


def test_bad_sampler_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="ratio"):
        HeadSampler(1.5)
    with pytest.raises(ConfigError, match="num_traces"):
        TailSamplingProcessor(InMemorySpanExporter(), status_code_error(), num_traces=0)


def _m(tail_errors: float, head_errors: float, memory: float) -> SamplingMeasurement:
    head = SamplerResult("head", 5.0, head_errors, 4.0, 1000.0, 20.0, 0)
    tail = SamplerResult("tail", 5.0, tail_errors, 100.0, 1000.0 * memory, 90.0, 0)
    return SamplingMeasurement(0.05, 3000, 40, 60, 17.5, [head, tail])


@pytest.mark.parametrize(
    ("tail_errors", "head_errors", "memory", "verdict"),
    [
        (100.0, 5.0, 4.3, "holds"),
        (100.0, 5.0, 1.2, "nuanced"),
        (97.5, 5.0, 4.3, "refuted"),  # tail sampling dropped errors (e.g. a full buffer)
        (100.0, 60.0, 4.3, "refuted"),  # head sampling was not blind to errors
    ],
)
def test_the_sampling_judge_reaches_each_verdict(
    tail_errors: float, head_errors: float, memory: float, verdict: str
) -> None:
    assert judge_sampling(_m(tail_errors, head_errors, memory)).verdict == verdict
