"""Topic matching (7.2): the trie and the scan agree with a regex model of RabbitMQ's rules."""

from __future__ import annotations

import re

from hypothesis import given, settings, strategies as st

from archlab.streaming.routing.topic import (
    LinearTopicMatcher,
    TopicTrie,
    pattern_matches,
    split_words,
)


def reference(pattern: str, key: str) -> bool:
    """A regex over the key with a dot after every word: ``*`` one word, ``#`` any number."""
    parts = {"*": r"[^.]*\.", "#": r"(?:[^.]*\.)*"}
    regex = "".join(parts.get(t, re.escape(t) + r"\.") for t in split_words(pattern))
    subject = "".join(w + "." for w in split_words(key))
    return re.fullmatch(regex, subject) is not None


WORDS = st.sampled_from(["a", "b", "c", ""])
keys = st.lists(WORDS, max_size=5).map(".".join)
patterns = st.lists(st.sampled_from(["a", "b", "", "*", "#"]), max_size=5).map(".".join)


def test_rabbitmq_documented_examples() -> None:
    # the RabbitMQ tutorial's bindings "*.orange.*", "*.*.rabbit", "lazy.#"
    assert pattern_matches("*.orange.*", "quick.orange.rabbit")
    assert pattern_matches("*.*.rabbit", "quick.orange.rabbit")
    assert pattern_matches("lazy.#", "lazy.orange.elephant")
    assert pattern_matches("lazy.#", "lazy")
    assert not pattern_matches("*.orange.*", "quick.orange.male.rabbit")
    assert not pattern_matches("*.orange.*", "orange")
    assert pattern_matches("#", "") and pattern_matches("#", "any.thing")
    assert not pattern_matches("*", "")
    assert pattern_matches("", "") and not pattern_matches("", "a")
    # empty words are words: "a." has two words
    assert pattern_matches("a.*", "a.") and not pattern_matches("a.*", "a")
    assert pattern_matches("#.#", "a.b") and pattern_matches("a.#.b", "a.b")


@settings(max_examples=400, deadline=None)
@given(patterns, keys)
def test_the_matcher_is_the_regex_model(pattern: str, key: str) -> None:
    assert pattern_matches(pattern, key) == reference(pattern, key)


@settings(max_examples=150, deadline=None)
@given(st.lists(patterns, max_size=8, unique=True), keys)
def test_trie_and_scan_route_to_the_reference_set(bound: list[str], key: str) -> None:
    trie: TopicTrie[str] = TopicTrie()
    scan: LinearTopicMatcher[str] = LinearTopicMatcher()
    for i, pattern in enumerate(bound):
        trie.add(pattern, f"q{i % 3}")  # queues bound more than once
        scan.add(pattern, f"q{i % 3}")
    expected = {f"q{i % 3}" for i, p in enumerate(bound) if reference(p, key)}
    assert trie.match(key) == expected
    assert scan.match(key) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(patterns, min_size=1, max_size=6, unique=True), keys, st.data())
def test_removing_bindings_leaves_the_rest(bound: list[str], key: str, data: st.DataObject) -> None:
    trie: TopicTrie[str] = TopicTrie()
    for pattern in bound:
        assert trie.add(pattern, pattern)
    assert not trie.add(bound[0], bound[0])
    removed = data.draw(st.sets(st.sampled_from(bound)))
    for pattern in removed:
        assert trie.remove(pattern, pattern)
        assert not trie.remove(pattern, pattern)
    assert len(trie) == len(bound) - len(removed)
    assert trie.match(key) == {p for p in bound if p not in removed and reference(p, key)}


class BrokenTrie(TopicTrie[str]):
    """A deliberately wrong matcher: treats '#' as one or more words."""

    def match(self, key: str) -> set[str]:
        return {d for d in super().match(key) if not (key == "" and d.endswith("#"))}


def test_the_reference_catches_a_broken_matcher() -> None:
    trie = BrokenTrie()
    trie.add("#", "#")
    assert reference("#", "") and trie.match("") != {"#"}
