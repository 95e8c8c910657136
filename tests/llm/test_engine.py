"""The engine: continuous and static batching, preemption, forks, with the counting model and
with SmolLM2 (batched, preempted output equals each prompt generated alone)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from archlab.llm.blocks import BlockManager
from archlab.llm.engine import Engine, RequestError, SmolLMRunner, TokenCountingRunner
from archlab.llm.model import SequenceChunk
from archlab.llm.sampling import SamplingParams
from archlab.llm.scheduler import ContinuousScheduler, SchedulerConfig, StaticScheduler


def run_all(engine: Engine) -> dict[tuple[str, int], list[int]]:
    out: dict[tuple[str, int], list[int]] = {}
    while engine.has_work:
        for event in engine.step():
            out.setdefault((event.request_id, event.index), []).append(event.token)
        engine.blocks.check()
    return out


def counting_engine(
    num_blocks: int, preemption: str = "swap", static: bool = False, chunked: bool = False
) -> Engine:
    blocks = BlockManager(num_blocks, block_size=4, num_host_blocks=num_blocks)
    config = SchedulerConfig(
        max_batched_tokens=32, max_seqs=8, chunked_prefill=chunked, preemption=preemption
    )
    kind = StaticScheduler if static else ContinuousScheduler
    return Engine(TokenCountingRunner(), kind(blocks, config), max_model_len=100)


def load(engine: Engine) -> None:
    for i in range(12):
        prompt = list(range(i, i + 3 + i % 5))
        engine.add_request(f"r{i}", prompt, SamplingParams(max_tokens=6 + i % 7, n=1 + (i == 4)))


@pytest.mark.parametrize(
    "variant",
    [
        {"num_blocks": 400},
        {"num_blocks": 14, "preemption": "swap"},
        {"num_blocks": 14, "preemption": "recompute"},
        {"num_blocks": 400, "chunked": True},
        {"num_blocks": 60, "static": True},
    ],
)
def test_every_policy_generates_the_same_tokens(variant: dict[str, object]) -> None:
    reference = counting_engine(400)
    load(reference)
    expected = run_all(reference)
    engine = counting_engine(**variant)  # type: ignore[arg-type]
    load(engine)
    assert run_all(engine) == expected
    assert engine.blocks.allocator.num_free == engine.blocks.allocator.num_blocks
    if variant["num_blocks"] == 14:
        assert engine.scheduler.preemptions > 0


def test_continuous_batching_takes_fewer_iterations_than_static() -> None:
    iterations = {}
    for static in (False, True):
        engine = counting_engine(400, static=static)
        load(engine)
        run_all(engine)
        iterations[static] = engine.iterations
    assert iterations[False] < iterations[True]


def test_requests_the_pool_cannot_serve_are_refused() -> None:
    engine = counting_engine(10)
    with pytest.raises(RequestError, match="exceeds the context"):
        engine.add_request("a", [1] * 90, SamplingParams(max_tokens=20))
    with pytest.raises(RequestError, match="KV blocks"):
        engine.add_request("b", [1] * 8, SamplingParams(max_tokens=20, n=8))
    with pytest.raises(RequestError, match="empty"):
        engine.add_request("c", [], SamplingParams())


def greedy_alone(smollm, prompt: list[int], n: int) -> list[int]:  # type: ignore[no-untyped-def]
    cache = smollm.new_cache(num_blocks=8, block_size=4)
    table = list(range(8))
    tokens, position = list(prompt), 0
    out: list[int] = []
    while len(out) < n:
        logits = smollm.forward([SequenceChunk(tokens[position:], position, table)], cache)[0]
        position = len(tokens)
        out.append(int(logits[-1].argmax()))
        tokens.append(out[-1])
    return out


@pytest.mark.parametrize(
    ("preemption", "budget", "chunked"),
    [("swap", 64, False), ("recompute", 64, False), ("swap", 6, True)],
)
def test_smollm_batched_preempted_and_forked_matches_alone(  # type: ignore[no-untyped-def]
    smollm, tokenizer, preemption: str, budget: int, chunked: bool
) -> None:
    prompts = ["The capital of France is", "1, 2, 3, 4,", "Water boils at", "Hello"]
    ids = [tokenizer.encode(p) for p in prompts]
    new = 4
    blocks = BlockManager(9, block_size=4, num_host_blocks=16)
    config = SchedulerConfig(
        max_batched_tokens=budget, max_seqs=4, chunked_prefill=chunked, preemption=preemption
    )
    scheduler = ContinuousScheduler(blocks, config)
    engine = Engine(SmolLMRunner(smollm, 9, block_size=4), scheduler, max_model_len=64)
    for index, prompt in enumerate(ids):
        engine.add_request(str(index), prompt, SamplingParams(max_tokens=new, n=1 + (index == 3)))
    out = run_all(engine)
    if not chunked:  # nine blocks of four tokens cannot hold all five at once
        assert scheduler.preemptions > 0
    for index, prompt in enumerate(ids):
        alone = greedy_alone(smollm, prompt, new)
        assert out[(str(index), 0)] == alone, prompts[index]
    assert out[("3", 1)] == out[("3", 0)]  # greedy samples of a fork agree


WORKLOADS = st.lists(
    st.tuples(st.integers(1, 30), st.integers(1, 12), st.integers(1, 3)), min_size=1, max_size=12
)


@settings(max_examples=80, deadline=None)
@given(
    WORKLOADS,
    st.integers(12, 40),
    st.sampled_from(["swap", "recompute"]),
    st.booleans(),
    st.integers(0, 6),
    st.booleans(),
)
def test_random_workloads_finish_exactly_and_free_everything(
    workload: list[tuple[int, int, int]],
    blocks: int,
    preemption: str,
    chunked: bool,
    host_blocks: int,
    static: bool,
) -> None:
    manager = BlockManager(blocks, block_size=4, num_host_blocks=host_blocks)
    config = SchedulerConfig(
        max_batched_tokens=40, max_seqs=6, chunked_prefill=chunked, preemption=preemption
    )
    kind = StaticScheduler if static else ContinuousScheduler
    engine = Engine(TokenCountingRunner(), kind(manager, config), max_model_len=64)
    expected = {}
    for index, (prompt, output, n) in enumerate(workload):
        params = SamplingParams(max_tokens=output, n=n)
        try:
            engine.add_request(str(index), [index + 1] * prompt, params)
        except RequestError:
            continue
        for sample in range(n):
            expected[(str(index), sample)] = output
    steps = 0
    produced: dict[tuple[str, int], int] = {}
    while engine.has_work:
        for event in engine.step():
            key = (event.request_id, event.index)
            produced[key] = produced.get(key, 0) + 1
        manager.check()
        steps += 1
        assert steps < 5000, "the engine stopped making progress"
    assert produced == expected
    assert manager.allocator.num_free == blocks
