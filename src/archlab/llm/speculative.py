"""Chapter 8.2: speculative decoding, a cheap draft proposes γ tokens, the target checks them.

Modified rejection sampling (Leviathan et al. 2023; Chen et al. 2023) keeps the output
distribution exactly the target's: draft token ``x`` drawn from ``q`` is kept with probability
``min(1, p(x)/q(x))``; at the first rejection a replacement is drawn from the residual
``norm(max(0, p − q))`` and the round ends; if all γ are kept, a bonus token is drawn from the
target's next distribution, which the same verification pass already computed. With acceptance
probability α per token (``α = Σ min(p, q)``, independent across positions), a round yields
``(1 − α^(γ+1)) / (1 − α)`` tokens per target forward pass.

Drafts:

* :class:`NgramDraft` (prompt lookup): find the latest earlier occurrence of the last ``n``
  tokens and propose what followed it; free, deterministic (``q`` is one-hot);
* :class:`LayerSkipDraft` (self-speculative): the first ``k`` layers of the same model, then its
  final norm and tied head, with their own paged cache;
* :class:`CategoricalPair`: context-free toy distributions with a known α, for exactness tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from archlab.llm.model import SequenceChunk, SmolLM
from archlab.llm.sampling import Probs, distribution, draw
from archlab.randomness import RandomSource


def verify(
    draft_tokens: Sequence[int],
    draft_probs: Sequence[Probs],
    target_probs: Sequence[Probs],
    rng: RandomSource,
) -> tuple[list[int], int]:
    """Accepted draft tokens plus one target-distributed token; and how many drafts were kept.

    ``target_probs`` has ``len(draft_tokens) + 1`` rows: row ``i`` is the target's distribution
    for the position of draft token ``i``; the last row is for the bonus token.
    """
    out: list[int] = []
    for index, token in enumerate(draft_tokens):
        p, q = target_probs[index], draft_probs[index]
        if q[token] > 0 and rng.random() * q[token] < p[token]:  # u < p/q, without dividing
            out.append(token)
            continue
        residual = np.maximum(p - q, 0.0)
        total = residual.sum()
        out.append(draw(residual / total if total > 0 else p, rng))
        return out, index
    out.append(draw(target_probs[len(draft_tokens)], rng))
    return out, len(draft_tokens)


def expected_tokens_per_forward(alpha: float, gamma: int) -> float:
    """Leviathan et al.'s ``(1 − α^(γ+1)) / (1 − α)``."""
    if alpha >= 1.0:
        return float(gamma + 1)
    return float((1.0 - alpha ** (gamma + 1)) / (1.0 - alpha))


@dataclass(frozen=True)
class CategoricalPair:
    """A target ``p`` and a draft ``q`` over a few symbols, the same at every position."""

    p: Probs
    q: Probs

    @property
    def alpha(self) -> float:
        return float(np.minimum(self.p, self.q).sum())

    def round(self, gamma: int, rng: RandomSource) -> tuple[list[int], int]:
        drafts = [draw(self.q, rng) for _ in range(gamma)]
        return verify(drafts, [self.q] * gamma, [self.p] * (gamma + 1), rng)


class Draft(Protocol):
    def propose(
        self,
        tokens: Sequence[int],
        gamma: int,
        temperature: float,
        top_p: float,
        rng: RandomSource,
    ) -> tuple[list[int], list[Probs]]: ...

    def accepted(self, length: int) -> None: ...


class NgramDraft:
    """Prompt lookup: continue the latest earlier match of the context's last ``n`` tokens."""

    def __init__(self, n: int = 3, vocab_size: int = 49152) -> None:
        self.n = n
        self.vocab_size = vocab_size

    def propose(
        self,
        tokens: Sequence[int],
        gamma: int,
        temperature: float,
        top_p: float,
        rng: RandomSource,
    ) -> tuple[list[int], list[Probs]]:
        for n in range(self.n, 0, -1):
            if len(tokens) <= n:
                continue
            tail = list(tokens[-n:])
            for start in range(len(tokens) - n - 1, -1, -1):
                if list(tokens[start : start + n]) == tail:
                    follow = list(tokens[start + n : start + n + gamma])
                    return follow, [self._one_hot(t) for t in follow]
        return [], []

    def _one_hot(self, token: int) -> Probs:
        probs = np.zeros(self.vocab_size)
        probs[token] = 1.0
        return probs

    def accepted(self, length: int) -> None:
        return None


class LayerSkipDraft:
    """The first ``layers`` layers of the target model, with a paged cache of their own."""

    def __init__(self, target: SmolLM, layers: int, max_len: int = 2048, block_size: int = 16):
        self.model = SmolLM(target.weights, n_layers=layers)
        blocks = -(-max_len // block_size)
        self.cache = self.model.new_cache(blocks, block_size)
        self.table = list(range(blocks))
        self.valid = 0  # leading positions whose draft K/V are right

    def propose(
        self,
        tokens: Sequence[int],
        gamma: int,
        temperature: float,
        top_p: float,
        rng: RandomSource,
    ) -> tuple[list[int], list[Probs]]:
        context = list(tokens)
        out: list[int] = []
        probs: list[Probs] = []
        for _ in range(gamma):
            chunk = SequenceChunk(context[self.valid :], self.valid, self.table)
            logits = self.model.forward([chunk], self.cache)[0][-1]
            self.valid = len(context)
            q = distribution(logits, temperature, top_p)
            token = int(q.argmax()) if temperature <= 0 else draw(q, rng)
            out.append(token)
            probs.append(q)
            context.append(token)
        return out, probs

    def accepted(self, length: int) -> None:
        self.valid = min(self.valid, length)


@dataclass
class SpeculativeStats:
    target_forwards: int = 0
    proposed: int = 0
    accepted: int = 0
    generated: int = 0
    per_round: list[int] = field(default_factory=list)

    @property
    def alpha(self) -> float:
        return self.accepted / self.proposed if self.proposed else 0.0

    @property
    def tokens_per_forward(self) -> float:
        return self.generated / self.target_forwards if self.target_forwards else 0.0


def speculative_generate(
    target: SmolLM,
    draft: Draft,
    prompt: Sequence[int],
    max_tokens: int,
    gamma: int,
    rng: RandomSource,
    temperature: float = 0.0,
    top_p: float = 1.0,
    eos_id: int | None = None,
) -> tuple[list[int], SpeculativeStats]:
    """Generate up to ``max_tokens`` tokens; the target's cache holds all but the last token."""
    block_size = 16
    blocks = -(-(len(prompt) + max_tokens + gamma + 1) // block_size)
    cache = target.new_cache(blocks, block_size)
    table = list(range(blocks))
    stats = SpeculativeStats()
    tokens = list(prompt)
    logits = target.forward([SequenceChunk(tokens, 0, table)], cache)[0]
    stats.target_forwards += 1
    first = distribution(logits[-1], temperature, top_p)
    tokens.append(int(first.argmax()) if temperature <= 0 else draw(first, rng))
    while len(tokens) - len(prompt) < max_tokens and tokens[-1] != eos_id:
        room = max_tokens - (len(tokens) - len(prompt))
        drafts, qs = draft.propose(tokens, min(gamma, room - 1), temperature, top_p, rng)
        chunk = SequenceChunk([tokens[-1], *drafts], len(tokens) - 1, table, all_logits=True)
        rows = target.forward([chunk], cache)[0]
        stats.target_forwards += 1
        ps = [distribution(row, temperature, top_p) for row in rows]
        new, kept = verify(drafts, qs, ps, rng)
        stats.proposed += kept + (kept < len(drafts))  # drafts actually checked
        stats.accepted += kept
        stats.per_round.append(len(new))
        tokens.extend(new)
        draft.accepted(len(tokens) - 1)
    output = tokens[len(prompt) : len(prompt) + max_tokens]
    if eos_id is not None and eos_id in output:
        output = output[: output.index(eos_id) + 1]
    stats.generated = len(output)
    return output, stats
