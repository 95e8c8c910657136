"""Chapter 8.2: SmolLM2's forward pass in numpy, reading keys and values from the paged cache.

One call runs a *flat batch*: the new tokens of several sequences concatenated, as an
iteration-level scheduler hands them over (prefill chunks and single decode tokens mixed). The
dense layers (projections, SwiGLU feed-forward, output head) multiply the whole batch at once,
which is where batching pays on a CPU as on a GPU; attention runs per sequence, gathering that
sequence's keys and values from :class:`~archlab.llm.kv_cache.PagedKVCache` through its block
table. Per layer: RMSNorm → Q, K, V projections → RoPE (adjacent pairs, llama.cpp's order) →
new K, V written into the sequence's slots → grouped-query attention (3 KV heads shared by 9
query heads) with a causal mask → output projection, residual → RMSNorm → SwiGLU, residual.
The output head is the embedding matrix (tied weights).

``n_layers`` below the model's depth runs only the first layers, then the final norm and head:
the self-speculative draft of :mod:`archlab.llm.speculative`. It uses its own cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from archlab.llm.gguf_weights import Array, ModelConfig, ModelWeights, load_weights
from archlab.llm.kv_cache import PagedKVCache, slots_for


@dataclass(frozen=True)
class SequenceChunk:
    """The new tokens of one sequence in a forward batch.

    ``start`` is the position of the first new token (the number already cached); the cache
    must hold blocks for positions up to ``start + len(tokens)`` in ``block_table``.
    ``all_logits`` asks for a row of logits per new token (speculative verification, or the
    reference comparison); otherwise only the last token's row comes back.
    """

    tokens: Sequence[int]
    start: int
    block_table: Sequence[int]
    all_logits: bool = False


def rms_norm(x: Array, weight: Array, eps: float) -> Array:
    scale = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    normed: Array = (x * scale * weight).astype(np.float32)
    return normed


def silu(x: Array) -> Array:
    return (x / (1.0 + np.exp(-x))).astype(np.float32)


class RotaryEmbedding:
    """RoPE over adjacent pairs ``(x[2i], x[2i+1])`` of each head, angle ``p·base^(-2i/d)``."""

    def __init__(self, head_dim: int, base: float) -> None:
        self.inv_freq = 1.0 / base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)

    def tables(self, positions: npt.NDArray[np.int64]) -> tuple[Array, Array]:
        """cos and sin of every position's angles, shaped to broadcast over heads."""
        angles = positions[:, None].astype(np.float64) * self.inv_freq[None, :]
        return (
            np.cos(angles).astype(np.float32)[:, None, :],
            np.sin(angles).astype(np.float32)[:, None, :],
        )

    def rotate(self, x: Array, cos: Array, sin: Array) -> Array:
        """``x``: (tokens, heads, head_dim)."""
        even, odd = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = even * cos - odd * sin
        out[..., 1::2] = even * sin + odd * cos
        return out


class SmolLM:
    """The Llama decoder of SmolLM2-135M over numpy arrays."""

    def __init__(self, weights: ModelWeights | None = None, n_layers: int | None = None) -> None:
        self.weights = weights or load_weights()
        self.config: ModelConfig = self.weights.config
        self.n_layers = n_layers or self.config.n_layers
        self.rope = RotaryEmbedding(self.config.head_dim, self.config.rope_base)
        # Fused Q/K/V and gate/up projections: one matrix multiply each per layer.
        self._qkv = [
            np.ascontiguousarray(np.concatenate([lw.wq, lw.wk, lw.wv]).T)
            for lw in self.weights.layers[: self.n_layers]
        ]
        self._gate_up = [
            np.ascontiguousarray(np.concatenate([lw.w_gate, lw.w_up]).T)
            for lw in self.weights.layers[: self.n_layers]
        ]
        self._wo = [np.ascontiguousarray(lw.wo.T) for lw in self.weights.layers[: self.n_layers]]
        self._head = np.ascontiguousarray(self.weights.embedding.T)
        self._down = [
            np.ascontiguousarray(lw.w_down.T) for lw in self.weights.layers[: self.n_layers]
        ]

    def new_cache(self, num_blocks: int, block_size: int = 16) -> PagedKVCache:
        c = self.config
        return PagedKVCache(self.n_layers, num_blocks, block_size, c.n_kv_heads, c.head_dim)

    def forward(self, batch: Sequence[SequenceChunk], cache: PagedKVCache) -> list[Array]:
        """Logits (float32) for each chunk: ``(1, vocab)``, or ``(len(tokens), vocab)``."""
        c = self.config
        tokens = np.concatenate([np.asarray(ch.tokens, dtype=np.int64) for ch in batch])
        positions = np.concatenate(
            [np.arange(ch.start, ch.start + len(ch.tokens), dtype=np.int64) for ch in batch]
        )
        slots = np.concatenate(
            [slots_for(ch.block_table, ch.start, len(ch.tokens), cache.block_size) for ch in batch]
        )
        bounds = np.cumsum([0, *(len(ch.tokens) for ch in batch)])
        cos, sin = self.rope.tables(positions)
        decodes = [i for i, ch in enumerate(batch) if len(ch.tokens) == 1]
        prefills = [i for i, ch in enumerate(batch) if len(ch.tokens) > 1]
        decode_rows = bounds[decodes]
        decode_slots, decode_pad = self._decode_slots([batch[i] for i in decodes], cache)
        prefill_slots = [
            slots_for(
                batch[i].block_table, 0, batch[i].start + len(batch[i].tokens), cache.block_size
            )
            for i in prefills
        ]
        x = self.weights.embedding[tokens]
        hd, nq, nkv = c.head_dim, c.n_heads, c.n_kv_heads
        for layer in range(self.n_layers):
            lw = self.weights.layers[layer]
            h = rms_norm(x, lw.attn_norm, c.norm_eps)
            qkv = h @ self._qkv[layer]
            q = self.rope.rotate(qkv[:, : nq * hd].reshape(-1, nq, hd), cos, sin)
            k = self.rope.rotate(qkv[:, nq * hd : (nq + nkv) * hd].reshape(-1, nkv, hd), cos, sin)
            v = qkv[:, (nq + nkv) * hd :].reshape(-1, nkv, hd)
            cache.write(layer, slots, k, v)
            attended = np.empty((len(tokens), nq * hd), dtype=np.float32)
            if decodes:
                attended[decode_rows] = self._attend_decodes(
                    q[decode_rows], decode_slots, decode_pad, layer, cache
                )
            for index, chunk_slots in zip(prefills, prefill_slots, strict=True):
                lo, hi = bounds[index], bounds[index + 1]
                attended[lo:hi] = self._attend(
                    q[lo:hi], batch[index].start, chunk_slots, layer, cache
                )
            x = x + attended @ self._wo[layer]
            h = rms_norm(x, lw.ffn_norm, c.norm_eps)
            gate_up = h @ self._gate_up[layer]
            x = x + (silu(gate_up[:, : c.d_ffn]) * gate_up[:, c.d_ffn :]) @ self._down[layer]
        # The output head (the largest matrix) once for every row any chunk wants.
        wanted = [
            np.arange(bounds[i], bounds[i + 1]) if ch.all_logits else np.array([bounds[i + 1] - 1])
            for i, ch in enumerate(batch)
        ]
        rows = np.concatenate(wanted)
        logits = rms_norm(x[rows], self.weights.final_norm, c.norm_eps) @ self._head
        splits = np.cumsum([len(w) for w in wanted])[:-1]
        return list(np.split(logits, splits))

    def _decode_slots(
        self, chunks: Sequence[SequenceChunk], cache: PagedKVCache
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Every decoding sequence's slots, padded to the longest, and the padding mask."""
        if not chunks:
            return np.zeros((0, 0), dtype=np.int64), np.zeros((0, 0), dtype=bool)
        lengths = [ch.start + 1 for ch in chunks]
        longest = max(lengths)
        table = np.zeros((len(chunks), longest), dtype=np.int64)
        pad = np.ones((len(chunks), longest), dtype=bool)
        for row, (chunk, length) in enumerate(zip(chunks, lengths, strict=True)):
            table[row, :length] = slots_for(chunk.block_table, 0, length, cache.block_size)
            pad[row, :length] = False
        return table, pad

    def _attend_decodes(
        self,
        q: Array,
        slots: npt.NDArray[np.int64],
        pad: npt.NDArray[np.bool_],
        layer: int,
        cache: PagedKVCache,
    ) -> Array:
        """One new query per sequence, all sequences in one batched product (padded)."""
        c = self.config
        group = c.n_heads // c.n_kv_heads
        keys = cache.keys[layer][slots]  # (seqs, length, kv, hd)
        values = cache.values[layer][slots]
        qg = q.reshape(-1, c.n_kv_heads, group, c.head_dim)
        scores = qg @ keys.transpose(0, 2, 3, 1) / np.float32(np.sqrt(c.head_dim))
        scores = np.where(pad[:, None, None, :], np.float32(-np.inf), scores)
        scores = scores - scores.max(axis=-1, keepdims=True)
        weights = np.exp(scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        context = weights @ values.transpose(0, 2, 1, 3)  # (seqs, kv, group, hd)
        merged: Array = context.reshape(-1, c.n_heads * c.head_dim)
        return merged

    def _attend(
        self, q: Array, start: int, slots: npt.NDArray[np.int64], layer: int, cache: PagedKVCache
    ) -> Array:
        """Causal grouped-query attention of one sequence's new queries over its cached K, V."""
        c = self.config
        n_new, length = q.shape[0], start + q.shape[0]
        keys, values = cache.keys[layer][slots], cache.values[layer][slots]
        group = c.n_heads // c.n_kv_heads
        qg = q.reshape(n_new, c.n_kv_heads, group, c.head_dim).transpose(1, 2, 0, 3)
        scores = qg @ keys.transpose(1, 2, 0)[:, None] / np.float32(np.sqrt(c.head_dim))
        query_pos = np.arange(start, length)[:, None]
        mask = np.arange(length)[None, :] > query_pos
        scores = np.where(mask, np.float32(-np.inf), scores)
        scores = scores - scores.max(axis=-1, keepdims=True)
        weights = np.exp(scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        context = weights @ values.transpose(1, 0, 2)[:, None]  # (kv, group, n_new, hd)
        merged: Array = context.transpose(2, 0, 1, 3).reshape(n_new, c.n_heads * c.head_dim)
        return merged
