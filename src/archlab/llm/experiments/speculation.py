"""``llm.speculative``: tokens per target pass, exactness, and wall-clock speedup on SmolLM2.

Toy categorical target/draft pairs with a known acceptance rate α run the real verification
rule (:func:`~archlab.llm.speculative.verify`): the measured α, the tokens produced per target
pass against Leviathan et al.'s ``(1 − α^(γ+1)) / (1 − α)``, and a χ² test that the first token
of each round is distributed as the target. The full profile also times greedy generation on
SmolLM2 with and without an n-gram (prompt-lookup) draft, and checks the tokens are identical.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Judgement,
    Outcome,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.llm.sampling import draw
from archlab.llm.speculative import CategoricalPair, expected_tokens_per_forward, verify

#: The χ² statistic of a correct sampler stays under 18.47 (4 degrees of freedom) 999 times in
#: 1000; the test's own significance level, not a tolerance picked to pass.
CHI2_CRITICAL = Threshold(18.47, "chi2", "χ² with 4 degrees of freedom at p = 0.001")
#: Measured tokens per pass within 5% of the formula (the rounds' standard error is ~1–2%).
FORMULA_GAP = Threshold(0.05, "share", "Leviathan et al.'s formula, 5% > the ~2% standard error")
#: "Multiple tokens per forward pass" at the higher α: at least 1.5.
TOKENS_PER_PASS = Threshold(1.5, "tokens", "codex 8.2: multiple tokens per target pass")
#: Wall clock: speculation must not be slower than plain decoding.
SPEEDUP = Threshold(1.0, "x", "Leviathan et al. report 2–3x on T5-XXL; at least break-even here")

TARGET = np.array([0.4, 0.3, 0.15, 0.1, 0.05])
DRAFTS = {
    "close": np.array([0.35, 0.3, 0.2, 0.1, 0.05]),
    "far": np.array([0.1, 0.2, 0.3, 0.2, 0.2]),
}


@dataclass(frozen=True)
class PairRun:
    alpha_known: float
    alpha_measured: float
    tokens_per_pass: float
    formula: float
    chi2: float


@dataclass(frozen=True)
class SpeculativeMeasurement:
    close: PairRun
    far: PairRun
    gamma: int
    smollm_measured: bool
    smollm_identical: bool
    smollm_speedup: float
    smollm_tokens_per_pass: float


def run_pair(pair: CategoricalPair, gamma: int, rounds: int, seed_rng: object) -> PairRun:
    rng = seed_rng
    counts = np.zeros(len(pair.p))
    produced = proposed = accepted = 0
    for _ in range(rounds):
        drafts = [draw(pair.q, rng) for _ in range(gamma)]  # type: ignore[arg-type]
        out, kept = verify(drafts, [pair.q] * gamma, [pair.p] * (gamma + 1), rng)  # type: ignore[arg-type]
        counts[out[0]] += 1
        produced += len(out)
        proposed += kept + (kept < gamma)  # drafts checked: those after a rejection are not
        accepted += kept
    expected = counts.sum() * pair.p
    alpha = accepted / proposed
    return PairRun(
        alpha_known=round(pair.alpha, 4),
        alpha_measured=round(alpha, 4),
        tokens_per_pass=round(produced / rounds, 4),
        formula=round(expected_tokens_per_forward(pair.alpha, gamma), 4),  # α = Σ min(p, q)
        chi2=round(float(((counts - expected) ** 2 / expected).sum()), 3),
    )


def run_smollm(gamma: int, max_tokens: int) -> tuple[bool, float, float]:
    from archlab.llm.model import SmolLM
    from archlab.llm.speculative import NgramDraft, speculative_generate
    from archlab.llm.tokenizer import load_tokenizer
    from archlab.randomness import seeded

    model, tokenizer = SmolLM(), load_tokenizer()
    prompts = [
        "List the numbers: 1, 2, 3, 4, 5, 6,",
        "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n\ndef mul(a, b):",
    ]
    identical, plain_s, spec_s, passes, tokens = True, 0.0, 0.0, 0, 0
    for prompt in prompts:
        ids = tokenizer.encode(prompt)
        start = time.perf_counter()
        plain, _ = speculative_generate(
            model, NgramDraft(vocab_size=1), ids, max_tokens, 0, seeded(0)
        )
        plain_s += time.perf_counter() - start
        start = time.perf_counter()
        spec, stats = speculative_generate(
            model,
            NgramDraft(vocab_size=model.config.vocab_size),
            ids,
            max_tokens,
            gamma,
            seeded(0),
        )
        spec_s += time.perf_counter() - start
        identical &= spec == plain
        passes += stats.target_forwards
        tokens += stats.generated
    return identical, plain_s / spec_s, tokens / passes


def judge_speculative(m: SpeculativeMeasurement) -> Judgement:
    chi2 = Evidence("χ², worse pair", max(m.close.chi2, m.far.chi2), "chi2", at_most=CHI2_CRITICAL)
    gap = max(abs(r.tokens_per_pass - r.formula) / r.formula for r in (m.close, m.far))
    formula = Evidence("tokens per pass vs formula", round(gap, 4), "share", at_most=FORMULA_GAP)
    multiple = Evidence(
        "tokens per target pass, close draft",
        m.close.tokens_per_pass,
        "tokens",
        at_least=TOKENS_PER_PASS,
    )
    evidence = [chi2, formula, multiple]
    text = (
        f"α {m.close.alpha_measured:.2f} gave {m.close.tokens_per_pass:.2f} tokens per target "
        f"pass (formula {m.close.formula:.2f}), α {m.far.alpha_measured:.2f} gave "
        f"{m.far.tokens_per_pass:.2f}; χ² {chi2.value:.1f}"
    )
    if m.smollm_measured:
        speed = Evidence("SmolLM2 wall-clock speedup", m.smollm_speedup, "x", at_least=SPEEDUP)
        evidence.append(speed)
        text += (
            f"; SmolLM2 with an n-gram draft: {m.smollm_speedup:.2f}x, "
            f"{'identical' if m.smollm_identical else 'DIFFERENT'} greedy tokens"
        )
    if not chi2.met or (m.smollm_measured and not m.smollm_identical):
        return refuted(text + ": the output distribution is not the target's", *evidence)
    if all(e.met for e in evidence):
        return holds(text, *evidence)
    return nuanced(text, *evidence)


@experiment(
    id="llm.speculative",
    section="8.2",
    title="Speculative decoding: several tokens per pass of the target model",
    claim="""A small draft model proposes the next few tokens and the large target model
    verifies them in one parallel pass, generating multiple tokens per target forward pass and
    so reducing latency, without changing what the target would output.""",
    method="""The verification rule (accept with min(1, p/q), else resample from
    norm(max(0, p − q)); a bonus token when all are kept) runs on two toy target/draft pairs
    over five symbols with known α, γ = 4: measured α, tokens per target pass against
    (1 − α^(γ+1))/(1 − α), and a χ² test of the first token of each round against the target.
    The full profile also times greedy decoding of SmolLM2 with an n-gram (prompt-lookup)
    draft against plain decoding, and compares the tokens.""",
    judge=judge_speculative,
    rule="""refuted when the χ² statistic exceeds 18.47 (p = 0.001, 4 d.o.f.) or SmolLM2's
    greedy tokens differ; holds when tokens per pass are within 5% of the formula, at least 1.5
    with the close draft, and (where measured) SmolLM2 is not slower; nuanced otherwise.""",
    profiles={
        "quick": {"rounds": 6000, "gamma": 4, "smollm": False, "max_tokens": 0},
        "full": {"rounds": 40000, "gamma": 4, "smollm": True, "max_tokens": 24},
    },
    references=[
        "Leviathan et al. 2023; Chen et al. 2023: the rejection rule, its exactness, and the "
        "expected tokens per target pass (docs/references.md §8.2).",
    ],
)
def speculative(ctx: Context) -> Outcome[SpeculativeMeasurement]:
    p = ctx.params
    gamma = int(p["gamma"])
    runs = {}
    with ctx.progress.task("draft/target pairs", len(DRAFTS)) as task:
        for name, q in DRAFTS.items():
            pair = CategoricalPair(TARGET, q)
            runs[name] = run_pair(pair, gamma, int(p["rounds"]), ctx.rng(name))
            task.advance()
    identical, speedup, per_pass = False, 0.0, 0.0
    if p["smollm"]:
        identical, speedup, per_pass = run_smollm(gamma, int(p["max_tokens"]))
    measured = SpeculativeMeasurement(
        runs["close"],
        runs["far"],
        gamma,
        bool(p["smollm"]),
        identical,
        round(speedup, 3),
        round(per_pass, 3),
    )
    table = Table(
        f"Toy pairs, γ = {gamma}",
        [
            Column("draft"),
            Column("α known"),
            Column("α measured"),
            Column("tokens per pass"),
            Column("formula"),
            Column("χ²"),
        ],
    )
    for name, run in runs.items():
        table.add(
            name, run.alpha_known, run.alpha_measured, run.tokens_per_pass, run.formula, run.chi2
        )
    tables = [table]
    if p["smollm"]:
        real = Table(
            "SmolLM2, greedy, n-gram draft",
            [Column("speedup", "x"), Column("tokens per pass"), Column("identical")],
        )
        real.add(speedup, per_pass, "yes" if identical else "no")
        tables.append(real)
    return Outcome(
        measured,
        summary=f"{runs['close'].tokens_per_pass:.2f} tokens per target pass at α "
        f"{runs['close'].alpha_measured:.2f} (formula {runs['close'].formula:.2f})",
        tables=tables,
    )
