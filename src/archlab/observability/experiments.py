"""Chapter 9.1 claim: head vs tail sampling, measured on the OpenTelemetry SDK."""

from __future__ import annotations

from archlab.lab import experiment
from archlab.observability import measure_sampling

experiment(
    id="observability.sampling",
    section="9.1",
    title="Head vs tail sampling: what each keeps, what each costs",
    claim="""Deciding at the start of a request whether to keep its trace (head sampling) is
    simple and cheap but misses most errors and slow requests, which it cannot yet know about;
    deciding after the request ends (tail sampling) keeps every error and every slow trace, at
    the cost of buffering every span of every trace until the decision.""",
    method="""Traces of a checkout request (a root and five child spans; 1% failing, 2% taking
    0.5-2 s instead of 20-80 ms) are produced with the OpenTelemetry SDK in simulated time and
    sampled three ways: a parent-based ratio head sampler at 5%; a tail-sampling span
    processor keeping errors, traces over 400 ms and a probabilistic share sized to keep the
    same 5% on average (decision wait 5 s); and that processor limited to 500 buffered traces,
    about half of what a 5 s wait holds at this rate. The share of error and slow traces kept,
    the pipeline's peak memory (tracemalloc) and its CPU time per span are measured.""",
    judge=measure_sampling.judge_sampling,
    rule="""refuted if the tail sampler (with its default bound) keeps under 100% of error or
    slow traces (the codex's figure), or if head sampling keeps more error traces than the
    99.95% binomial quantile at its ratio (it would not be blind); holds if tail sampling's
    peak memory is at least 2x head sampling's (the codex's 'significant memory'); nuanced
    if the memory cost is smaller.""",
    profiles={
        "quick": {
            "traces": 3000,
            "children": 5,
            "ratio": 0.05,
            "rate": 200.0,
            "num_traces": 50_000,
            "small_num_traces": 500,
        },
        "full": {
            "traces": 50_000,
            "children": 5,
            "ratio": 0.05,
            "rate": 1000.0,
            "num_traces": 50_000,
            "small_num_traces": 2500,
        },
    },
    references=[
        "OpenTelemetry Collector tail-sampling processor: policies, decision_wait (30 s) and "
        "num_traces (50,000) defaults, https://github.com/open-telemetry/opentelemetry-collector-"
        "contrib/tree/main/processor/tailsamplingprocessor (docs/references.md §9).",
    ],
)(measure_sampling.measure)
