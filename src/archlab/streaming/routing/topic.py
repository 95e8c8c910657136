"""Topic-exchange matching with RabbitMQ's exact rules (codex 7.2), as a trie and as a scan.

A routing key is split on ``.`` into words; the empty key has *no* words and every other key
has one more word than it has dots (so ``"a."`` is ``["a", ""]``: empty words are words), as
RabbitMQ's ``split_topic_key`` does. In a binding pattern ``*`` stands for exactly one word and
``#`` for zero or more words (docs/references.md §7.2).

:class:`TopicTrie` is how RabbitMQ routes: bindings share a trie of their words, and a key walks
it once, following the literal word, ``*`` and ``#`` edges, so the cost of a decision depends on
the key and the patterns that could match, not on how many bindings exist.
:class:`LinearTopicMatcher` tries every binding in turn; the ``streaming.routing`` experiment
measures the difference.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Generic, TypeVar

D = TypeVar("D", bound=Hashable)


def split_words(key: str) -> tuple[str, ...]:
    """The words of a routing key or binding pattern: ``""`` has none."""
    return tuple(key.split(".")) if key else ()


def pattern_matches(pattern: str, key: str) -> bool:
    """Whether binding ``pattern`` matches routing ``key`` (by dynamic programming)."""
    return _words_match(split_words(pattern), split_words(key))


@lru_cache(maxsize=65536)
def _words_match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    # reachable[j]: the pattern prefix seen so far can consume exactly words[:j]
    reachable = [True] + [False] * len(words)
    for token in pattern:
        nxt = [False] * (len(words) + 1)
        if token == "#":
            seen = False
            for j in range(len(words) + 1):
                seen = seen or reachable[j]
                nxt[j] = seen
        else:
            for j in range(len(words)):
                if reachable[j] and (token == "*" or token == words[j]):
                    nxt[j + 1] = True
        reachable = nxt
    return reachable[len(words)]


@dataclass
class _Node(Generic[D]):
    children: dict[str, _Node[D]] = field(default_factory=dict)
    destinations: set[D] = field(default_factory=set)


class TopicTrie(Generic[D]):
    """Bindings ``pattern -> destination`` in a word trie; :meth:`match` walks it once."""

    def __init__(self) -> None:
        self._root: _Node[D] = _Node()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, pattern: str, destination: D) -> bool:
        """Bind; False if this exact binding already existed."""
        node = self._root
        for word in split_words(pattern):
            node = node.children.setdefault(word, _Node())
        if destination in node.destinations:
            return False
        node.destinations.add(destination)
        self._count += 1
        return True

    def remove(self, pattern: str, destination: D) -> bool:
        """Unbind; prunes nodes left empty. False if there was no such binding."""
        path = [self._root]
        words = split_words(pattern)
        for word in words:
            child = path[-1].children.get(word)
            if child is None:
                return False
            path.append(child)
        if destination not in path[-1].destinations:
            return False
        path[-1].destinations.discard(destination)
        self._count -= 1
        for depth in range(len(words), 0, -1):
            node = path[depth]
            if node.children or node.destinations:
                break
            del path[depth - 1].children[words[depth - 1]]
        return True

    def match(self, key: str) -> set[D]:
        """Every destination whose pattern matches ``key`` (each once)."""
        found: set[D] = set()
        _walk(self._root, split_words(key), 0, found, None)
        return found

    def nodes_visited(self, key: str) -> int:
        """How many trie nodes :meth:`match` visits for ``key``: the work of one decision."""
        visits = [0]
        _walk(self._root, split_words(key), 0, set(), visits)
        return visits[0]


def _walk(
    node: _Node[D], words: tuple[str, ...], i: int, found: set[D], visits: list[int] | None
) -> None:
    """Follow the literal word, ``*`` and ``#`` edges from ``node`` at word ``i``."""
    if visits is not None:
        visits[0] += 1
    n = len(words)
    if i == n and node.destinations:
        found |= node.destinations
    children = node.children
    if not children:
        return
    hash_child = children.get("#")
    if hash_child is not None:  # '#' consumes zero or more of the remaining words
        for j in range(i, n + 1):
            _walk(hash_child, words, j, found, visits)
    if i < n:
        word = words[i]
        child = children.get(word)
        if child is not None:
            _walk(child, words, i + 1, found, visits)
        if word != "*":
            star = children.get("*")
            if star is not None:
                _walk(star, words, i + 1, found, visits)


class LinearTopicMatcher(Generic[D]):
    """The same bindings as a list, each pattern tried against every key."""

    def __init__(self, bindings: Iterable[tuple[str, D]] = ()) -> None:
        self._bindings: list[tuple[tuple[str, ...], D]] = []
        for pattern, destination in bindings:
            self.add(pattern, destination)

    def __len__(self) -> int:
        return len(self._bindings)

    def add(self, pattern: str, destination: D) -> None:
        self._bindings.append((split_words(pattern), destination))

    def match(self, key: str) -> set[D]:
        words = split_words(key)
        return {d for pattern, d in self._bindings if _match_uncached(pattern, words)}


def _match_uncached(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    return _words_match.__wrapped__(pattern, words)
