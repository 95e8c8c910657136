"""``archlab bench llm``: generated tokens per second, archlab's engine vs transformers' generate.

Both run SmolLM2-135M from the same GGUF file in float32 on the CPU with the same number of
threads (numpy's BLAS through threadpoolctl, torch's intra-op pool), greedy, exactly ``tokens``
new tokens per request (end of sequence ignored on both sides). Two loads:

* batch 1: one request at a time;
* 16 concurrent: archlab's engine takes all 16 requests at once (continuous batching over the
  paged cache); transformers runs them as one left-padded batch through ``generate`` (static
  batching, its own way of serving several prompts at once), and, as a server without batching
  would, one ``generate`` call per request.

Rounds alternate between the two systems; ratios are medians of paired rounds with their spread.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from archlab.lab import BenchContext, BenchReport, Column, Ratio, benchmark
from archlab.lab.bench import interleaved, median, peer_available

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, in a small village by the sea,",
    "List three uses of a paperclip:",
    "The KV cache of a transformer stores",
    "Water boils at",
    "Translate to French: good morning",
    "import numpy as np\n\ndef softmax(x):",
    "The three laws of motion are",
    "A haiku about autumn:",
    "SELECT name FROM users WHERE",
    "The meaning of life is",
    "In 1969, astronauts",
    "Dear team, this week we",
    "Photosynthesis converts",
    "The quick brown fox",
]
THREADS = 1
#: (new tokens per request, rounds) for --quick and the full run.
QUICK = (16, 3)
FULL = (64, 5)


def _ours(model: Any, tokenizer: Any, prompts: list[str], tokens: int) -> float:
    from archlab.llm.engine import smollm_engine
    from archlab.llm.sampling import SamplingParams

    engine = smollm_engine(model, tokenizer.eos_id, num_blocks=256, max_seqs=len(prompts))
    params = SamplingParams(max_tokens=tokens, ignore_eos=True)
    ids = [tokenizer.encode(p) for p in prompts]
    started = time.perf_counter()
    for index, prompt in enumerate(ids):
        engine.add_request(str(index), prompt, params)
    produced = 0
    while engine.has_work:
        produced += len(engine.step())
    return produced / (time.perf_counter() - started)


def _theirs_one_at_a_time(
    torch: Any, model: Any, tokenizer: Any, prompts: list[str], tokens: int
) -> float:
    """A server without batching: ``generate`` per request, in arrival order."""
    started = time.perf_counter()
    produced = 0
    with torch.no_grad():
        for prompt in prompts:
            batch = tokenizer([prompt], return_tensors="pt")
            out = model.generate(
                **batch,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
            produced += out.shape[1] - batch["input_ids"].shape[1]
    return float(produced / (time.perf_counter() - started))


def _theirs(torch: Any, model: Any, tokenizer: Any, prompts: list[str], tokens: int) -> float:
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    started = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            **batch,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    elapsed = time.perf_counter() - started
    produced = (out.shape[1] - batch["input_ids"].shape[1]) * len(prompts)
    return float(produced / elapsed)


@benchmark(
    name="llm",
    title="LLM serving throughput (codex 8.2)",
    description="""Tokens per second generating with SmolLM2-135M (same GGUF weights, float32,
    same CPU threads, greedy): archlab's engine (numpy, paged KV cache, continuous batching) vs
    transformers' generate (torch), one request at a time and 16 concurrent requests.""",
)
def bench_llm(ctx: BenchContext) -> BenchReport:
    from threadpoolctl import threadpool_limits

    from archlab.llm.gguf_weights import find_model_file
    from archlab.llm.model import SmolLM
    from archlab.llm.tokenizer import load_tokenizer

    tokens, rounds = QUICK if ctx.quick else FULL
    report = BenchReport(
        columns=[
            Column("load"),
            Column("archlab", "tokens/s"),
            Column("transformers", "tokens/s"),
            Column("archlab / transformers", "x"),
        ],
        rows=[],
        notes=[
            f"{tokens} new tokens per request, {THREADS} CPU thread(s) each, {rounds} "
            "alternating rounds, medians. Goals: ≥ 1x at batch 1, ≥ 3x under 16 concurrent "
            "requests, whether transformers batches them (left padding) or runs them one at a "
            "time."
        ],
    )
    model, tokenizer = SmolLM(), load_tokenizer()
    peer: tuple[Any, Any, Any] | None = None
    if peer_available("transformers") and peer_available("torch"):
        import torch
        import transformers

        torch.set_num_threads(THREADS)
        path = find_model_file()
        hf_tok = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        hf_tok.padding_side = "left"
        if hf_tok.pad_token_id is None:
            hf_tok.pad_token = hf_tok.eos_token
        hf_model = transformers.AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.float32
        )
        hf_model.train(False)
        peer = (torch, hf_model, hf_tok)
    else:
        report.missing_peers.append("transformers")
    with threadpool_limits(limits=THREADS, user_api="blas"):
        loads = (
            ("batch 1", PROMPTS[:1], 1.0, _theirs),
            ("16 concurrent, transformers batched", PROMPTS, 3.0, _theirs),
            ("16 concurrent, transformers one at a time", PROMPTS, 3.0, _theirs_one_at_a_time),
        )
        for label, prompts, goal, peer_fn in loads:
            systems = {"archlab": functools.partial(_ours, model, tokenizer, prompts, tokens)}
            if peer is not None:
                torch_mod, hf_model, hf_tok = peer
                systems["transformers"] = functools.partial(
                    peer_fn, torch_mod, hf_model, hf_tok, prompts, tokens
                )
            samples = interleaved(systems, rounds, ctx.progress, description=label)
            ours = median(samples["archlab"])
            theirs = median(samples["transformers"]) if "transformers" in samples else None
            result = Ratio.of_rounds(
                f"{label}: archlab vs transformers",
                samples["archlab"],
                samples.get("transformers"),
                goal=goal,
            )
            report.rows.append(
                {
                    "load": label,
                    "archlab": round(ours, 1),
                    "transformers": None if theirs is None else round(theirs, 1),
                    "archlab / transformers": None
                    if result.value is None
                    else round(result.value, 2),
                }
            )
            report.ratios.append(result)
    return report
