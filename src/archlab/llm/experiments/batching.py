"""``llm.continuous_batching``: static vs iteration-level batching under Poisson arrivals.

The real engine (:class:`~archlab.llm.engine.Engine`, the real schedulers and block manager)
runs with :class:`~archlab.llm.engine.TokenCountingRunner` on a simulated clock: each iteration
costs ``fixed + per_token × tokens`` seconds, the shape of a memory-bound decoder whose pass
reads all weights once whatever the batch (the constants: SmolLM2-135M's numpy forward on this
project's 2-core machine, ~30 ms per pass plus ~1.5 ms per token in the batch; the full profile
re-measures them). Requests arrive Poisson with Alpaca-like lengths; a request's latency runs
from arrival to its last token.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

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
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.llm.blocks import BlockManager
from archlab.llm.engine import Engine, TokenCountingRunner
from archlab.llm.sampling import SamplingParams
from archlab.llm.scheduler import ContinuousScheduler, SchedulerConfig, StaticScheduler
from archlab.llm.workloads import ALPACA, draw_lengths, poisson_arrivals

#: Iteration-level scheduling is the point of Orca (up to 36.9x throughput at equal latency,
#: docs/references.md §8.2); asking 1.2x keeps well clear of the seed-to-seed spread (~5%).
THROUGHPUT_GAIN = Threshold(1.2, "x", "Orca: up to 36.9x; 1.2x is above the ~5% seed spread")
LATENCY_GAIN = Threshold(1.2, "x", "the same margin for median latency")
NO_GAIN = Threshold(1.05, "x", "within the seed-to-seed spread")


@dataclass(frozen=True)
class BatchingRun:
    throughput_tok_s: float
    latency_p50_s: float
    latency_p99_s: float
    mean_batch_tokens: float
    iterations: int


@dataclass(frozen=True)
class BatchingMeasurement:
    static: BatchingRun
    continuous: BatchingRun
    arrival_rate: float
    fixed_ms: float
    per_token_ms: float
    smollm_measured: bool = False
    smollm_throughput_ratio: float = 0.0  # wall clock, continuous / static, real model

    @property
    def throughput_ratio(self) -> float:
        return self.continuous.throughput_tok_s / self.static.throughput_tok_s

    @property
    def latency_ratio(self) -> float:
        return self.static.latency_p50_s / self.continuous.latency_p50_s


def simulate(
    kind: str,
    arrivals: list[float],
    lengths: list[tuple[int, int]],
    max_seqs: int,
    fixed: float,
    per_token: float,
    num_blocks: int,
) -> BatchingRun:
    blocks = BlockManager(num_blocks, 16, num_host_blocks=num_blocks)
    config = SchedulerConfig(max_batched_tokens=4096, max_seqs=max_seqs)
    scheduler = (StaticScheduler if kind == "static" else ContinuousScheduler)(blocks, config)
    engine = Engine(TokenCountingRunner(), scheduler, max_model_len=4096)
    now, next_request, tokens = 0.0, 0, 0
    finished: dict[str, float] = {}
    batch_tokens: list[int] = []
    while next_request < len(arrivals) or engine.has_work:
        while next_request < len(arrivals) and arrivals[next_request] <= now:
            prompt, output = lengths[next_request]
            engine.add_request(str(next_request), [1] * prompt, SamplingParams(max_tokens=output))
            next_request += 1
        if not engine.has_work:
            now = arrivals[next_request]
            continue
        before = engine.runner.tokens  # type: ignore[attr-defined]
        events = engine.step(now)
        fed = engine.runner.tokens - before  # type: ignore[attr-defined]
        if fed == 0:  # nothing schedulable until a batch ends or memory frees: wait for work
            now = arrivals[next_request] if next_request < len(arrivals) else now + fixed
            continue
        now += fixed + per_token * fed
        batch_tokens.append(fed)
        for event in events:
            tokens += 1
            if event.finish_reason is not None:
                finished[event.request_id] = now
    latencies = sorted(finished[str(i)] - arrivals[i] for i in range(len(arrivals)))
    return BatchingRun(
        throughput_tok_s=round(tokens / now, 2),
        latency_p50_s=round(statistics.median(latencies), 3),
        latency_p99_s=round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3),
        mean_batch_tokens=round(statistics.fmean(batch_tokens), 2),
        iterations=len(batch_tokens),
    )


def measure_costs() -> tuple[float, float]:
    """SmolLM2's forward time: a 1-token and a 16-token pass (seconds)."""
    from archlab.llm.model import SequenceChunk, SmolLM

    model = SmolLM()
    cache = model.new_cache(64, 16)

    def timed(batch: int) -> float:
        chunks = [SequenceChunk([1], 0, [i]) for i in range(batch)]
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            model.forward(chunks, cache)
            best = min(best, time.perf_counter() - start)
        return best

    one, sixteen = timed(1), timed(16)
    per_token = max(0.0, (sixteen - one) / 15)
    return one - per_token, per_token


def confirm_with_smollm(requests: int, max_seqs: int, seed: int) -> tuple[float, float]:
    """Real SmolLM2, all requests at once, output lengths 4–40: tokens/s static, continuous."""
    import random

    from archlab.llm.engine import SmolLMRunner
    from archlab.llm.model import SmolLM

    model = SmolLM()
    rng = random.Random(seed)
    work = [
        ([1 + rng.randrange(1000) for _ in range(8)], rng.randint(4, 40)) for _ in range(requests)
    ]
    rates = []
    for kind in (StaticScheduler, ContinuousScheduler):
        blocks = BlockManager(256, 16, num_host_blocks=256)
        config = SchedulerConfig(max_batched_tokens=512, max_seqs=max_seqs)
        engine = Engine(SmolLMRunner(model, 256), kind(blocks, config), max_model_len=512)
        for index, (prompt, output) in enumerate(work):
            engine.add_request(str(index), prompt, SamplingParams(max_tokens=output))
        started, produced = time.perf_counter(), 0
        while engine.has_work:
            produced += len(engine.step())
        rates.append(produced / (time.perf_counter() - started))
    return rates[0], rates[1]


def judge_continuous_batching(m: BatchingMeasurement) -> Judgement:
    speed = Evidence(
        "throughput, continuous / static",
        round(m.throughput_ratio, 3),
        "x",
        at_least=THROUGHPUT_GAIN,
    )
    wait = Evidence(
        "median latency, static / continuous",
        round(m.latency_ratio, 3),
        "x",
        at_least=LATENCY_GAIN,
    )
    text = (
        f"continuous batching served {m.throughput_ratio:.2f}x the tokens per second of static "
        f"batching at a {m.latency_ratio:.2f}x lower median latency "
        f"({m.continuous.latency_p50_s:.2f} s vs {m.static.latency_p50_s:.2f} s)"
    )
    evidence = [speed, wait]
    if m.smollm_measured:
        real = Evidence(
            "SmolLM2 wall-clock throughput, continuous / static",
            m.smollm_throughput_ratio,
            "x",
            at_least=NO_GAIN,
        )
        evidence.append(real)
        text += f"; on SmolLM2 for real: {m.smollm_throughput_ratio:.2f}x the tokens per second"
    if all(e.met for e in evidence):
        return holds(text, *evidence)
    if m.throughput_ratio < NO_GAIN.value and m.latency_ratio < NO_GAIN.value:
        return refuted(
            text + ": no gain beyond noise",
            Evidence(
                "throughput, continuous / static",
                round(m.throughput_ratio, 3),
                "x",
                at_most=NO_GAIN,
            ),
            wait,
        )
    return nuanced(text, *evidence)


@experiment(
    id="llm.continuous_batching",
    section="8.2",
    title="Continuous (iteration-level) batching vs static batching",
    claim="""Static batching makes every request in a batch wait for the longest one; inserting
    new requests into the running batch as soon as others finish keeps the batch full, raising
    throughput and cutting latency.""",
    method="""archlab's engine, scheduler and paged allocator run with a model that only counts
    tokens, on a simulated clock where a forward pass costs a fixed time plus a per-token time
    (SmolLM2's numpy forward on this machine; the full profile re-measures both). Requests with
    Alpaca-like lengths arrive Poisson at 80% of what continuous batching serves with full
    batches; the same arrivals go to the static scheduler (a new
    batch of up to 16 only when the previous one has finished, memory reserved up front) and
    the continuous one (up to 16 running, admitted and retired every iteration). The full
    profile confirms on SmolLM2 for real: 24 requests of 4–40 output tokens at once, 8 at a
    time, wall-clock tokens per second.""",
    judge=judge_continuous_batching,
    rule="""holds when continuous batching gives at least 1.2x the throughput and a median
    latency at least 1.2x lower (and, where measured, SmolLM2's real throughput is at least
    1.05x static's); refuted when both simulated ratios are under 1.05x; nuanced otherwise.""",
    profiles={
        "quick": {
            "requests": 300,
            "load": 0.8,
            "max_seqs": 16,
            "measure_costs": False,
            "smollm_requests": 0,
        },
        "full": {
            "requests": 3000,
            "load": 0.8,
            "max_seqs": 16,
            "measure_costs": True,
            "smollm_requests": 24,
        },
    },
    references=[
        "Orca (Yu et al., OSDI 2022): iteration-level scheduling, up to 36.9x throughput at the "
        "same latency (docs/references.md §8.2).",
    ],
)
def continuous_batching(ctx: Context) -> Outcome[BatchingMeasurement]:
    p = ctx.params
    fixed, per_token = 0.030, 0.0015
    if p["measure_costs"]:
        fixed, per_token = measure_costs()
    count = int(p["requests"])
    # Arrivals at a share (``load``) of what continuous batching can serve at full batches,
    # so both profiles sit in the same regime whatever the measured pass costs.
    max_seqs = int(p["max_seqs"])
    capacity = max_seqs / (fixed + per_token * max_seqs) / (ALPACA.mean_output + 1)
    rate = float(p["load"]) * capacity
    arrivals = poisson_arrivals(rate, count, ctx.rng("arrivals"))
    lengths = draw_lengths(ALPACA, count, 1024, ctx.rng("lengths"))
    runs = {}
    with ctx.progress.task("static vs continuous", 2) as task:
        for kind in ("static", "continuous"):
            runs[kind] = simulate(
                kind, arrivals, lengths, max_seqs, fixed, per_token, num_blocks=2048
            )
            task.advance()
    real_ratio = 0.0
    real = int(p["smollm_requests"])
    if real:
        static_rate, continuous_rate = confirm_with_smollm(real, 8, ctx.seed)
        real_ratio = round(continuous_rate / static_rate, 3)
    measured = BatchingMeasurement(
        runs["static"],
        runs["continuous"],
        round(rate, 3),
        round(fixed * 1000, 2),
        round(per_token * 1000, 3),
        bool(real),
        real_ratio,
    )
    table = Table(
        "Poisson arrivals, Alpaca-like lengths",
        [
            Column("batching"),
            Column("throughput", "tokens/s"),
            Column("p50 latency", "s"),
            Column("p99 latency", "s"),
            Column("mean tokens per pass"),
            Column("passes"),
        ],
    )
    for kind, run in runs.items():
        table.add(
            kind,
            run.throughput_tok_s,
            run.latency_p50_s,
            run.latency_p99_s,
            run.mean_batch_tokens,
            run.iterations,
        )
    figure = Figure(
        "Request latency",
        y_label="seconds",
        series=[
            Series(kind, ["p50", "p99"], [run.latency_p50_s, run.latency_p99_s], style="bar")
            for kind, run in runs.items()
        ],
    )
    return Outcome(
        measured,
        summary=f"continuous: {measured.throughput_ratio:.2f}x throughput, median latency "
        f"{measured.latency_ratio:.2f}x lower than static",
        tables=[table],
        figures=[figure],
    )
