"""Chapter 8.2: the paged KV cache's storage, keys and values in fixed-size physical blocks.

Each layer holds one array of ``num_blocks × block_size`` token slots for keys and one for
values (``n_kv_heads × head_dim`` floats per slot). A sequence owns no contiguous range: its
*block table* (kept by :mod:`archlab.llm.blocks`) lists the physical blocks holding its logical
blocks 0, 1, 2..., so the slot of its token at position ``p`` is
``table[p // block_size] · block_size + p % block_size``. Attention gathers a sequence's keys
and values through that table (:meth:`PagedKVCache.gather`), as vLLM's PagedAttention kernel
does, and copy-on-write and swapping move whole blocks (:meth:`copy_block`, :meth:`read_block`,
:meth:`write_block`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def slots_for(table: Sequence[int], start: int, count: int, block_size: int) -> IntArray:
    """Physical slot numbers of positions ``start .. start+count-1`` through a block table."""
    positions = np.arange(start, start + count, dtype=np.int64)
    blocks = np.asarray(table, dtype=np.int64)[positions // block_size]
    return blocks * block_size + positions % block_size


class PagedKVCache:
    """Keys and values of every layer in ``num_blocks`` blocks of ``block_size`` slots."""

    def __init__(
        self, n_layers: int, num_blocks: int, block_size: int, n_kv_heads: int, head_dim: int
    ) -> None:
        self.n_layers = n_layers
        self.num_blocks = num_blocks
        self.block_size = block_size
        shape = (num_blocks * block_size, n_kv_heads, head_dim)
        self.keys = [np.zeros(shape, dtype=np.float32) for _ in range(n_layers)]
        self.values = [np.zeros(shape, dtype=np.float32) for _ in range(n_layers)]

    @property
    def bytes_per_block(self) -> int:
        per_slot = self.keys[0][0].nbytes + self.values[0][0].nbytes
        return int(per_slot) * self.block_size * self.n_layers

    def write(self, layer: int, slots: IntArray, keys: Array, values: Array) -> None:
        self.keys[layer][slots] = keys
        self.values[layer][slots] = values

    def gather(self, layer: int, table: Sequence[int], length: int) -> tuple[Array, Array]:
        """The first ``length`` positions' keys and values of a sequence, in order."""
        slots = slots_for(table, 0, length, self.block_size)
        return self.keys[layer][slots], self.values[layer][slots]

    def _block_slice(self, block: int) -> slice:
        return slice(block * self.block_size, (block + 1) * self.block_size)

    def copy_block(self, source: int, target: int) -> None:
        """Copy-on-write: the writer gets a private copy of a shared block."""
        src, dst = self._block_slice(source), self._block_slice(target)
        for layer in range(self.n_layers):
            self.keys[layer][dst] = self.keys[layer][src]
            self.values[layer][dst] = self.values[layer][src]

    def read_block(self, block: int) -> tuple[list[Array], list[Array]]:
        """A block's contents, for swapping it out to host memory."""
        part = self._block_slice(block)
        return (
            [k[part].copy() for k in self.keys],
            [v[part].copy() for v in self.values],
        )

    def write_block(self, block: int, contents: tuple[list[Array], list[Array]]) -> None:
        """Swap a block's saved contents back in (possibly to another physical block)."""
        part = self._block_slice(block)
        for layer, (k, v) in enumerate(zip(*contents, strict=True)):
            self.keys[layer][part] = k
            self.values[layer][part] = v
