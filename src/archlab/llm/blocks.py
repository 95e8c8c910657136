"""Chapter 8.2: the paged KV allocator, blocks, block tables, copy-on-write and prefix caching.

Sans-IO bookkeeping in the manner of vLLM's block manager: it decides which physical block holds
which sequence's tokens and returns the data movements (copies, swaps) for the caller to apply to
the cache (:class:`~archlab.llm.kv_cache.PagedKVCache` for the real model, nothing for the
token-counting model).

* :class:`BlockAllocator`: ``num_blocks`` physical blocks, a free list, a reference count per
  block, and the prefix cache: a *full* block is named by the hash of its tokens chained to its
  predecessor's hash, so two sequences whose prompts share a prefix of whole blocks share those
  blocks. A cached block whose count drops to zero stays findable (evictable, least recently
  freed first) until its slot is needed.
* :class:`BlockManager`: a block table per sequence. Forking (parallel sampling) copies the table
  and increments the counts; the first write into a block another sequence still references
  gets a private copy (copy-on-write). Preemption either swaps a sequence's blocks out to host
  memory and back in later, or frees them for recomputation.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from archlab.errors import ArchlabError


class OutOfBlocksError(ArchlabError):
    """The pool has no free block; the scheduler must preempt first."""


def chain_hash(parent: int | None, tokens: Sequence[int]) -> int:
    """The name of a full block: its tokens and everything before them."""
    return hash((parent, tuple(tokens)))


class BlockAllocator:
    """Physical blocks with reference counts, a free list and a hash-addressed prefix cache."""

    def __init__(self, num_blocks: int, prefix_caching: bool = True) -> None:
        if num_blocks < 1:
            raise ValueError("the pool needs at least one block")
        self.num_blocks = num_blocks
        self.prefix_caching = prefix_caching
        self.refcount = [0] * num_blocks
        self._free: deque[int] = deque(range(num_blocks))
        self._by_hash: dict[int, int] = {}
        self._hash_of: dict[int, int] = {}
        self._evictable: OrderedDict[int, None] = OrderedDict()  # cached, count 0, LRU first
        self.cache_hits = 0

    @property
    def num_free(self) -> int:
        """Blocks that can be handed out now (free, or cached and unreferenced)."""
        return len(self._free) + len(self._evictable)

    @property
    def num_used(self) -> int:
        return self.num_blocks - self.num_free

    def allocate(self) -> int:
        if self._free:
            block = self._free.popleft()
        elif self._evictable:
            block, _ = self._evictable.popitem(last=False)
            del self._by_hash[self._hash_of.pop(block)]
        else:
            raise OutOfBlocksError("no free KV block")
        self.refcount[block] = 1
        return block

    def lookup(self, content: int) -> int | None:
        """Take a reference to the cached block named ``content``, if there is one."""
        if not self.prefix_caching or content not in self._by_hash:
            return None
        block = self._by_hash[content]
        self._evictable.pop(block, None)
        self.refcount[block] += 1
        self.cache_hits += 1
        return block

    def register(self, block: int, content: int) -> None:
        """Name a block that just became full, so later prompts can share it."""
        if not self.prefix_caching or content in self._by_hash or block in self._hash_of:
            return
        self._by_hash[content] = block
        self._hash_of[block] = content

    def share(self, block: int) -> None:
        if self.refcount[block] < 1:
            raise ValueError(f"block {block} is not allocated")
        self.refcount[block] += 1

    def free(self, block: int) -> None:
        if self.refcount[block] < 1:
            raise ValueError(f"block {block} freed twice")
        self.refcount[block] -= 1
        if self.refcount[block] == 0:
            if block in self._hash_of:
                self._evictable[block] = None
            else:
                self._free.append(block)

    def check(self) -> None:
        """Invariants: every block is in exactly one of free / evictable / referenced."""
        free, evictable = set(self._free), set(self._evictable)
        assert len(free) == len(self._free), "a block is on the free list twice"
        assert not free & evictable, "a block is both free and cached"
        for block, count in enumerate(self.refcount):
            assert count >= 0, f"block {block} has a negative count"
            idle = block in free or block in evictable
            assert idle == (count == 0), f"block {block}: count {count}, idle {idle}"
        for content, block in self._by_hash.items():
            assert self._hash_of[block] == content, "prefix index out of step"


@dataclass
class Movements:
    """Data the cache must move before the next forward pass."""

    copies: list[tuple[int, int]] = field(default_factory=list)  # (source, target) blocks
    swap_out: list[tuple[int, int]] = field(default_factory=list)  # (device block, host slot)
    swap_in: list[tuple[int, int]] = field(default_factory=list)  # (host slot, device block)


class BlockManager:
    """Block tables of sequences over one allocator, plus the host-memory swap space."""

    def __init__(
        self,
        num_blocks: int,
        block_size: int = 16,
        num_host_blocks: int = 0,
        prefix_caching: bool = True,
    ) -> None:
        self.block_size = block_size
        self.allocator = BlockAllocator(num_blocks, prefix_caching)
        self.tables: dict[int, list[int]] = {}
        self._hashes: dict[int, list[int]] = {}  # per sequence, hashes of its full blocks
        self.host_tables: dict[int, list[int]] = {}
        self._host_free: deque[int] = deque(range(num_host_blocks))
        self.pending = Movements()

    def blocks_needed(self, n_tokens: int) -> int:
        return -(-n_tokens // self.block_size)

    def can_allocate(self, n_tokens: int, reserve: int = 0) -> bool:
        return self.blocks_needed(n_tokens) + reserve <= self.allocator.num_free

    def allocate(self, seq: int, tokens: Sequence[int]) -> int:
        """A table for ``tokens``; returns how many leading tokens are already cached."""
        if seq in self.tables:
            raise ValueError(f"sequence {seq} already has blocks")
        bs, table, hashes = self.block_size, [], []
        parent: int | None = None
        shareable = (len(tokens) - 1) // bs  # the last token is always computed afresh
        cached = 0
        needed = self.blocks_needed(len(tokens))
        try:
            for index in range(needed):
                chunk = tokens[index * bs : (index + 1) * bs]
                full = len(chunk) == bs
                content = chain_hash(parent, chunk) if full else None
                block = None
                if content is not None and index < shareable and cached == index * bs:
                    block = self.allocator.lookup(content)
                    if block is not None:
                        cached += bs
                if block is None:
                    block = self.allocator.allocate()
                table.append(block)
                if content is not None:
                    hashes.append(content)
                    parent = content
        except OutOfBlocksError:
            for block in table:
                self.allocator.free(block)
            raise
        self.tables[seq] = table
        self._hashes[seq] = hashes
        return cached

    def mark_computed(self, seq: int, tokens: Sequence[int], n_computed: int) -> None:
        """Register the hashes of blocks whose tokens are now all in the cache."""
        table, hashes, bs = self.tables[seq], self._hashes[seq], self.block_size
        while len(hashes) < min(n_computed // bs, len(table)):
            index = len(hashes)
            parent = hashes[-1] if hashes else None
            hashes.append(chain_hash(parent, tokens[index * bs : (index + 1) * bs]))
        for index in range(min(n_computed // bs, len(hashes))):
            self.allocator.register(table[index], hashes[index])

    def ensure_slots(self, seq: int, n_tokens: int, write_from: int) -> None:
        """Blocks for positions ``< n_tokens``; blocks written from ``write_from`` made private."""
        table = self.tables[seq]
        grown: list[int] = []
        try:
            while len(table) < self.blocks_needed(n_tokens):
                block = self.allocator.allocate()
                grown.append(block)
                table.append(block)
        except OutOfBlocksError:
            for block in grown:
                table.remove(block)
                self.allocator.free(block)
            raise
        first = write_from // self.block_size
        for index in range(first, len(table)):
            block = table[index]
            if self.allocator.refcount[block] > 1:
                private = self.allocator.allocate()
                self.allocator.free(block)
                table[index] = private
                self.pending.copies.append((block, private))
                del self._hashes[seq][index:]

    def blocks_to_grow(self, seq: int, n_tokens: int, write_from: int) -> int:
        """Free blocks :meth:`ensure_slots` would take (growth plus copy-on-write)."""
        table = self.tables[seq]
        grow = max(0, self.blocks_needed(n_tokens) - len(table))
        shared = sum(
            1 for b in table[write_from // self.block_size :] if self.allocator.refcount[b] > 1
        )
        return grow + shared

    def fork(self, parent: int, child: int) -> None:
        """The child shares every block of the parent (parallel sampling, beam search)."""
        table = self.tables[parent]
        for block in table:
            self.allocator.share(block)
        self.tables[child] = list(table)
        self._hashes[child] = list(self._hashes[parent])

    def free(self, seq: int) -> None:
        for block in self.tables.pop(seq, []):
            self.allocator.free(block)
        self._hashes.pop(seq, None)
        for slot in self.host_tables.pop(seq, []):
            self._host_free.append(slot)

    def can_swap_out(self, seq: int) -> bool:
        return len(self.tables[seq]) <= len(self._host_free)

    def swap_out(self, seq: int) -> None:
        """Move a preempted sequence's blocks to host memory, freeing them on the device."""
        host = []
        for block in self.tables.pop(seq):
            slot = self._host_free.popleft()
            self.pending.swap_out.append((block, slot))
            host.append(slot)
            self.allocator.free(block)
        self.host_tables[seq] = host

    def can_swap_in(self, seq: int) -> bool:
        return len(self.host_tables[seq]) <= self.allocator.num_free

    def swap_in(self, seq: int) -> None:
        table = []
        for slot in self.host_tables.pop(seq):
            block = self.allocator.allocate()
            self.pending.swap_in.append((slot, block))
            self._host_free.append(slot)
            table.append(block)
        self.tables[seq] = table

    def take_movements(self) -> Movements:
        moves, self.pending = self.pending, Movements()
        return moves

    def check(self) -> None:
        """The allocator's invariants, and every count equals the tables referencing it."""
        self.allocator.check()
        counts = [0] * self.allocator.num_blocks
        for table in self.tables.values():
            for block in table:
                counts[block] += 1
        assert counts == self.allocator.refcount, "a count differs from the tables using it"
