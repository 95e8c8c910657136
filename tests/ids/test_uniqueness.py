"""Uniqueness at volume and under threads; the entropy pool under threads and fork."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest

from archlab.ids.entropy import SystemEntropy
from archlab.ids.generators import KINDS, make_generator

MONOTONIC = {"ulid", "uuid7", "snowflake"}


def _in_threads(new: Callable[[], str], threads: int, per_thread: int) -> list[list[str]]:
    out: list[list[str]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def work(i: int) -> None:
        barrier.wait()
        mine = out[i]
        for _ in range(per_thread):
            mine.append(new())

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_unique_at_volume(kind: str) -> None:
    gen = make_generator(kind)
    ids = [gen.new_str() for _ in range(60_000)] + [str(gen.new()) for _ in range(20_000)]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("kind", KINDS)
def test_unique_and_per_thread_ordered_under_threads(kind: str) -> None:
    gen = make_generator(kind)
    new = gen.new_str if kind != "snowflake" else (lambda: f"{gen.new():020d}")
    per_thread = _in_threads(new, threads=4, per_thread=8_000)
    everything = [x for chunk in per_thread for x in chunk]
    assert len(set(everything)) == len(everything)
    if kind in MONOTONIC:
        # One shared generator: what each thread sees is strictly increasing.
        for chunk in per_thread:
            keys = [x.lower() for x in chunk]
            assert keys == sorted(set(keys))


def test_pool_hands_out_each_slice_once_across_threads() -> None:
    take = SystemEntropy().source(16)
    chunks = _in_threads(lambda: take().hex(), threads=4, per_thread=5_000)
    everything = [x for chunk in chunks for x in chunk]
    assert len(set(everything)) == len(everything)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_reuse_the_parents_pooled_bytes() -> None:
    take = SystemEntropy().source(16)
    take()  # fill the pool: the next slices sit in memory the child would inherit
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        os.write(write_end, b"".join(take() for _ in range(8)))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = b"".join(take() for _ in range(8))
    assert len(child) == len(parent) == 128
    assert child != parent
