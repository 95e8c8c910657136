"""B+-tree behaviour: height, fill by key order, buffer pool policies, the invariant checker."""

from __future__ import annotations

import random

import pytest

from archlab.storage.btree import BTreeStore
from archlab.storage.btree.page import Node, decode
from archlab.storage.faultfs import FaultFileSystem


def build(order: str, n: int, **options: object) -> BTreeStore:
    store = BTreeStore("/db", "none", fs=FaultFileSystem(), **options)  # type: ignore[arg-type]
    keys = [b"%010d" % i for i in range(n)]
    if order == "random":
        random.Random(5).shuffle(keys)
    for key in keys:
        store.put(key, bytes(40))
    return store


def test_ascending_keys_pack_leaves_and_random_keys_settle_near_ln2() -> None:
    sequential = build("sequential", 20000).stats()
    shuffled = build("random", 20000).stats()
    assert sequential["avg_leaf_fill"] >= 0.85
    assert 0.62 <= shuffled["avg_leaf_fill"] <= 0.76
    assert shuffled["leaf_splits"] > 1.2 * sequential["leaf_splits"]


def test_even_split_policy_leaves_ascending_keys_half_full() -> None:
    half = build("sequential", 20000, rightmost_fill=0.5).stats()
    assert half["avg_leaf_fill"] < 0.6


def test_height_grows_logarithmically_and_lookups_touch_height_pages() -> None:
    heights = []
    for n in (5, 500, 20000):
        store = build("random", n, page_size=512)
        heights.append(store.stats()["height"])
        store.checkpoint()
        store.pool.drop_all()
        store.root = store.pool.get(store.meta.root)
        reads_before = store.pool.reads
        store.get(b"%010d" % (n // 2))
        assert store.pool.reads - reads_before == store.stats()["height"] - 1
    assert heights == sorted(heights) and heights[-1] >= heights[0] + 2


@pytest.mark.parametrize("policy", ["lru", "clock"])
def test_buffer_pool_keeps_hot_pages(policy: str) -> None:
    store = build("random", 20000, frames=64, replacement=policy)
    store.checkpoint()
    hot = [b"%010d" % i for i in range(0, 20000, 2000)]
    for key in hot:
        store.get(key)
    before = store.pool.reads
    for _ in range(20):
        for key in hot:
            store.get(key)
        store.get(b"%010d" % random.Random(1).randrange(20000))
    assert store.pool.reads - before <= 40, "hot pages were evicted"
    assert len(store.pool.pages) <= 64


def test_lazy_deletes_leave_pages_for_reinsertion() -> None:
    store = build("sequential", 5000, merge_threshold=0)
    pages = store.stats()["pages"]
    for i in range(5000):
        store.delete(b"%010d" % i)
    assert store.check() == 0 and list(store.scan()) == []
    assert store.stats()["pages"] == pages and store.stats()["height"] > 1
    for i in range(5000):
        store.put(b"%010d" % i, bytes(40))
    assert store.stats()["pages"] <= pages * 1.1


def _break(store: BTreeStore, how: str) -> None:
    root = store.root
    child = store.pool.get(root.children[1])
    leftmost = store.pool.get(root.children[0])
    if how == "order":
        child.keys.reverse()
    elif how == "separator":
        child.keys[0] = b"\x00"
        child.keys.sort()
    elif how == "link":
        leftmost.link = 0 if leftmost.leaf else leftmost.link
        if not leftmost.leaf:
            store.meta.entries += 1
    elif how == "count":
        store.meta.entries += 1
    elif how == "size":
        child.used += 1


@pytest.mark.parametrize("how", ["order", "separator", "link", "count", "size"])
def test_checker_catches_broken_trees(how: str) -> None:
    store = build("random", 3000, page_size=512)
    assert store.check() == 3000
    _break(store, how)
    with pytest.raises(AssertionError):
        store.check()


def test_page_round_trip_and_crc() -> None:
    node = Node(7, True, [b"a", b"bb"], [b"1", b""], [], link=9)
    image = node.encode(512)
    back = decode(7, image)
    assert (back.keys, back.values, back.link, back.used) == (node.keys, node.values, 9, node.used)
    internal = Node(3, False, [b"m"], [], [4, 5])
    assert decode(3, internal.encode(512)).children == [4, 5]
    broken = bytearray(image)
    broken[300] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        decode(7, bytes(broken))
