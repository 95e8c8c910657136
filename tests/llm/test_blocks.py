"""The paged allocator: invariants under random operations, sharing, copy-on-write, swapping."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from archlab.llm.blocks import BlockAllocator, BlockManager, OutOfBlocksError


def test_double_free_is_refused() -> None:
    allocator = BlockAllocator(2)
    block = allocator.allocate()
    allocator.free(block)
    with pytest.raises(ValueError, match="freed twice"):
        allocator.free(block)


def test_exhausted_pool_raises_and_rolls_back() -> None:
    manager = BlockManager(3, block_size=4)
    manager.allocate(1, list(range(8)))
    with pytest.raises(OutOfBlocksError):
        manager.allocate(2, list(range(100, 108)))
    assert manager.allocator.num_free == 1  # the half-built table gave its block back
    manager.check()


def test_shared_prompt_prefix_reuses_full_blocks() -> None:
    manager = BlockManager(10, block_size=4)
    system = list(range(8))
    assert manager.allocate(1, [*system, 50, 51]) == 0
    manager.mark_computed(1, [*system, 50, 51], 10)
    assert manager.allocate(2, [*system, 60]) == 8  # two whole blocks found by hash
    assert manager.tables[1][:2] == manager.tables[2][:2]
    assert manager.tables[1][2] != manager.tables[2][2]
    manager.check()
    manager.free(1)
    manager.free(2)
    assert manager.allocator.num_free == 10
    # Freed but still cached: a third prompt finds them.
    assert manager.allocate(3, [*system, 70]) == 8
    manager.check()


def test_fork_then_write_copies_the_shared_partial_block() -> None:
    manager = BlockManager(10, block_size=4)
    manager.allocate(1, list(range(6)))  # blocks: [0..3] full, [4, 5] partial
    manager.fork(1, 2)
    manager.check()
    manager.ensure_slots(2, 7, write_from=6)
    moves = manager.take_movements()
    assert moves.copies == [(manager.tables[1][1], manager.tables[2][1])]
    assert manager.tables[1][0] == manager.tables[2][0]  # the full block stays shared
    manager.check()


def test_swap_out_and_in_round_trip() -> None:
    manager = BlockManager(4, block_size=4, num_host_blocks=4)
    manager.allocate(1, list(range(10)))
    manager.swap_out(1)
    assert manager.allocator.num_free == 4
    assert len(manager.take_movements().swap_out) == 3
    manager.swap_in(1)
    assert len(manager.take_movements().swap_in) == 3
    manager.check()


OPS = st.lists(
    st.tuples(
        st.sampled_from(["alloc", "grow", "fork", "free", "swap"]),
        st.integers(0, 7),
        st.integers(1, 20),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_random_operations_keep_counts_exact(ops: list[tuple[str, int, int]]) -> None:
    manager = BlockManager(12, block_size=4, num_host_blocks=6)
    lengths: dict[int, int] = {}
    next_id = 100
    for op, pick, size in ops:
        live = sorted(manager.tables)
        try:
            if op == "alloc":
                tokens = [pick] * size  # equal prompts share blocks through the prefix cache
                manager.allocate(next_id, tokens)
                manager.mark_computed(next_id, tokens, size)
                lengths[next_id] = size
                next_id += 1
            elif live and op == "grow":
                seq = live[pick % len(live)]
                manager.ensure_slots(seq, lengths[seq] + 1, lengths[seq])
                lengths[seq] += 1
            elif live and op == "fork":
                seq = live[pick % len(live)]
                manager.fork(seq, next_id)
                lengths[next_id] = lengths[seq]
                next_id += 1
            elif live and op == "free":
                manager.free(live[pick % len(live)])
            elif live and op == "swap":
                seq = live[pick % len(live)]
                if manager.can_swap_out(seq):
                    manager.swap_out(seq)
                    if manager.can_swap_in(seq):
                        manager.swap_in(seq)
                    else:
                        manager.free(seq)
        except OutOfBlocksError:
            pass
        manager.check()
    for seq in list(manager.tables):
        manager.free(seq)
    assert manager.allocator.num_free == 12
    manager.check()


def test_the_invariant_check_catches_a_leak_and_a_miscount() -> None:
    manager = BlockManager(6, block_size=4)
    manager.allocate(1, list(range(6)))
    manager.allocator.refcount[manager.tables[1][0]] += 1  # a reference nobody holds
    with pytest.raises(AssertionError, match="count"):
        manager.check()
    leaky = BlockManager(6, block_size=4)
    leaky.allocate(1, list(range(6)))
    del leaky.tables[1]  # a table dropped without freeing its blocks
    with pytest.raises(AssertionError, match="count"):
        leaky.check()
    doubled = BlockAllocator(3)
    doubled._free.append(0)  # the same block twice on the free list
    with pytest.raises(AssertionError, match="twice"):
        doubled.check()
