"""The text CRDT: convergence in any delivery order, no interleaving, codec, GC, real traces."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from archlab.collab import traces
from archlab.collab.crdt import codec
from archlab.collab.crdt.runs import MAX_FANOUT
from archlab.collab.crdt.text import TextDoc, Update, UpdateError, Version


def random_session(
    seed: int, replicas: int = 3, steps: int = 60, gc: bool = False
) -> list[TextDoc]:
    """Replicas edit concurrently and sync pairwise at random; updates pass through the codec."""
    rng = random.Random(seed)
    docs = [TextDoc(i) for i in range(replicas)]
    for _ in range(steps):
        doc = rng.choice(docs)
        roll = rng.random()
        if roll < 0.5 or not len(doc):
            text = "".join(rng.choice("abcxyz") for _ in range(rng.randint(1, 3)))
            doc.insert(rng.randint(0, len(doc)), text)
        elif roll < 0.8:
            pos = rng.randrange(len(doc))
            doc.delete(pos, rng.randint(1, min(3, len(doc) - pos)))
        else:
            peer = rng.choice(docs)
            if peer is not doc:
                doc.apply(codec.decode(codec.encode(peer.update_since(doc.version))))
            if gc:
                meet = Version()
                for r in {r for d in docs for r in d.version.deletes}:
                    meet.deletes[r] = min(d.version.deletes.get(r, 0) for d in docs)
                for d in docs:
                    d.collect(meet)
    for _ in range(2):
        for a in docs:
            for b in docs:
                if a is not b:
                    a.apply(b.update_since(a.version))
    return docs


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10**9), st.booleans())
def test_replicas_converge_whatever_the_sync_order(seed: int, gc: bool) -> None:
    docs = random_session(seed, gc=gc)
    assert len({d.text for d in docs}) == 1
    assert all(d.pending == 0 for d in docs)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**9))
def test_updates_delivered_shuffled_and_duplicated_converge(seed: int) -> None:
    rng = random.Random(seed)
    docs = [TextDoc(i) for i in range(3)]
    sent: list[list[Update]] = [[] for _ in docs]
    for _ in range(40):
        i = rng.randrange(3)
        doc = docs[i]
        if rng.random() < 0.6 or not len(doc):
            update = doc.insert(rng.randint(0, len(doc)), rng.choice(["a", "bc", "def"]))
        else:
            update = doc.delete(rng.randrange(len(doc)))
        for j in range(3):
            if j != i:
                sent[j].append(update)
        if rng.random() < 0.2:  # deliver a shuffled, duplicated backlog to someone
            j = rng.randrange(3)
            backlog = sent[j] + rng.sample(sent[j], len(sent[j]) // 2)
            rng.shuffle(backlog)
            for u in backlog:
                docs[j].apply(u)
            sent[j] = []
    for j, backlog in enumerate(sent):
        rng.shuffle(backlog)
        for u in backlog:
            docs[j].apply(u)
    assert len({d.text for d in docs}) == 1


@pytest.mark.parametrize("forward", [True, False])
def test_concurrent_runs_at_one_place_never_interleave(forward: bool) -> None:
    a, b = TextDoc(1), TextDoc(2)
    b.apply(a.insert(0, "[]"))
    if forward:
        ua = [a.insert(1 + i, c) for i, c in enumerate("abc")]
        ub = [b.insert(1 + i, c) for i, c in enumerate("xyz")]
    else:  # typed backwards: each character before the previous one
        ua = [a.insert(1, c) for c in "cba"]
        ub = [b.insert(1, c) for c in "zyx"]
    for u in ub:
        a.apply(u)
    for u in ua:
        b.apply(u)
    assert a.text == b.text and a.text in ("[abcxyz]", "[xyzabc]")


def test_typing_is_stored_as_runs_and_the_index_is_a_tree() -> None:
    doc = TextDoc(0)
    for i, ch in enumerate("hello world " * 500):
        doc.insert(i, ch)
    assert doc.run_count == 1, "consecutive typing is one run"
    rng = random.Random(1)
    model = list(doc.text)
    for _ in range(2000):
        pos = rng.randrange(len(model))
        doc.insert(pos, "Q")
        model.insert(pos, "Q")
    assert doc.text == "".join(model)
    assert doc.run_count > MAX_FANOUT**1.5, "enough runs for an inner level"
    depth, node = 0, doc.tree.root
    while hasattr(node, "children"):
        node, depth = node.children[0], depth + 1  # type: ignore[union-attr]
    assert depth >= 2
    for pos in range(0, len(model), 97):
        assert doc.id_at(pos) is not None and doc.position_of_id(doc.id_at(pos)) == pos


def test_snapshot_round_trips_and_collection_shrinks_it() -> None:
    trace = traces.load("sveltecomponent")
    doc = traces.replay_into_crdt(trace)
    assert doc.text == trace.end
    before = codec.snapshot(doc)
    again = codec.load(before, 2)
    assert again.text == doc.text and again.version == doc.version
    assert doc.collect(doc.version) == doc.tombstones
    after = codec.snapshot(doc)
    assert len(after) < len(before) / 2
    reloaded = codec.load(after, 3)
    assert reloaded.text == doc.text
    reloaded.apply(doc.delete(0, 5))
    doc.apply(reloaded.insert(3, "still in sync"))
    assert reloaded.text == doc.text


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda b: b[:-3], "truncated"),
        (lambda b: b"XXXX" + b[4:], "bad magic"),
        (lambda b: b + b"\x00", "trailing bytes"),
    ],
)
def test_bad_updates_are_refused_with_the_byte_offset(mangle: object, message: str) -> None:
    doc = TextDoc(1)
    doc.insert(0, "hello")
    data = codec.encode(doc.update_since())
    with pytest.raises(UpdateError, match=message):
        codec.decode(mangle(data))  # type: ignore[operator]


def test_an_update_naming_unknown_ids_leaves_the_document_untouched() -> None:
    a, b = TextDoc(1), TextDoc(2)
    a.insert(0, "abc")
    later = a.insert(3, "d")  # depends on the first run, which b never got
    b.insert(0, "mine")
    with pytest.raises(UpdateError, match="skips ids"):
        b.apply(later, strict=True)
    assert b.text == "mine" and b.pending == 0


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10**9))
def test_up_to_four_concurrent_runs_forward_or_backward_stay_contiguous(seed: int) -> None:
    rng = random.Random(seed)
    docs = [TextDoc(i + 1) for i in range(rng.randint(2, 4))]
    base = docs[0].insert(0, "<" + "x" * rng.randint(0, 3) + ">")
    for d in docs[1:]:
        d.apply(base)
    pos = rng.randint(1, len(docs[0]) - 1)
    sent: list[tuple[int, Update]] = []
    for k, d in enumerate(docs):
        forward = rng.random() < 0.5
        for c in range(rng.randint(1, 5)):
            sent.append((k, d.insert(pos + c if forward else pos, "ABCD"[k])))
    for j, d in enumerate(docs):
        theirs = [u for k, u in sent if k != j]
        rng.shuffle(theirs)
        for u in theirs:
            d.apply(u)
    text = docs[0].text
    assert all(d.text == text for d in docs)
    for letter in "ABCD"[: len(docs)]:
        where = [i for i, c in enumerate(text) if c == letter]
        assert where[-1] - where[0] + 1 == len(where), f"{letter} interleaved in {text}"
