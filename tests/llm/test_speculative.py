"""Speculative decoding: the output distribution is the target's (χ²), α and tokens per
forward follow the formula, and greedy output on SmolLM2 is token-identical."""

from __future__ import annotations

import numpy as np

from archlab.llm.sampling import Probs, draw
from archlab.llm.speculative import (
    CategoricalPair,
    LayerSkipDraft,
    NgramDraft,
    expected_tokens_per_forward,
    speculative_generate,
    verify,
)
from archlab.randomness import RandomSource, seeded

#: χ² critical value, 4 degrees of freedom, p = 0.001 (a fixed seed makes the test
#: deterministic; the threshold says a correct sampler passes it 999 times in 1000).
CHI2_CRITICAL_DF4 = 18.47

PAIR = CategoricalPair(
    p=np.array([0.4, 0.3, 0.15, 0.1, 0.05]), q=np.array([0.1, 0.2, 0.3, 0.2, 0.2])
)


def chi_square(counts: np.ndarray, probs: Probs) -> float:
    expected = counts.sum() * probs
    return float(((counts - expected) ** 2 / expected).sum())


def first_tokens(pair: CategoricalPair, rounds: int, rng: RandomSource, rule=verify) -> np.ndarray:  # type: ignore[no-untyped-def]
    counts = np.zeros(len(pair.p))
    for _ in range(rounds):
        drafts = [draw(pair.q, rng) for _ in range(3)]
        out, _ = rule(drafts, [pair.q] * 3, [pair.p] * 4, rng)
        counts[out[0]] += 1
    return counts


def test_output_distribution_is_the_target_s() -> None:
    counts = first_tokens(PAIR, 6000, seeded(1))
    assert chi_square(counts, PAIR.p) < CHI2_CRITICAL_DF4


def test_a_sampler_that_keeps_every_draft_is_caught() -> None:
    def accept_all(drafts, qs, ps, rng):  # type: ignore[no-untyped-def]
        return list(drafts), len(drafts)

    counts = first_tokens(PAIR, 6000, seeded(1), rule=accept_all)
    assert chi_square(counts, PAIR.p) > CHI2_CRITICAL_DF4


def test_tokens_per_round_follow_the_formula() -> None:
    rng = seeded(2)
    gamma = 4
    produced = [len(PAIR.round(gamma, rng)[0]) for _ in range(4000)]
    expected = expected_tokens_per_forward(PAIR.alpha, gamma)
    assert abs(np.mean(produced) - expected) < 0.05 * expected


def test_ngram_draft_continues_the_latest_match() -> None:
    draft = NgramDraft(n=2, vocab_size=10)
    tokens, _ = draft.propose([1, 2, 3, 4, 1, 2, 5, 6, 1, 2], 3, 0.0, 1.0, seeded(0))
    assert tokens == [5, 6, 1]


def test_greedy_speculation_on_smollm_is_token_identical(smollm, tokenizer) -> None:  # type: ignore[no-untyped-def]
    prompt = tokenizer.encode("1, 2, 3, 4, 5,")
    plain, _ = speculative_generate(smollm, NgramDraft(vocab_size=1), prompt, 8, 0, seeded(0))
    ngram, stats = speculative_generate(
        smollm, NgramDraft(vocab_size=smollm.config.vocab_size), prompt, 8, 4, seeded(0)
    )
    assert ngram == plain
    assert stats.target_forwards < 8  # counting continues the pattern: drafts are accepted
    layers, _ = speculative_generate(smollm, LayerSkipDraft(smollm, 6, 64), prompt, 8, 3, seeded(0))
    assert layers == plain
