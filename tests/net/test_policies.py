"""Balancing policies: shares, bounded loads, and the keys moved when a backend changes."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from archlab.errors import ConfigError
from archlab.net.backends import parse_backends
from archlab.net.policies import (
    ConsistentHashRing,
    HashModulo,
    Maglev,
    keys_moved,
    make_policy,
)

NAMES = [f"b{i}" for i in range(5)]
KEYS = [f"client-{i}" for i in range(4000)]


def test_round_robin_and_least_conn_skip_ineligible() -> None:
    rr = make_policy("round-robin", NAMES, random.Random(1))
    picks = [rr.choose("", {}, lambda b: b != "b2") for _ in range(8)]
    assert "b2" not in picks and set(picks) == set(NAMES) - {"b2"}
    lc = make_policy("least-conn", NAMES, random.Random(1))
    load = {"b0": 3, "b1": 0, "b2": 1, "b3": 2, "b4": 5}
    assert lc.choose("", load) == "b1"
    assert lc.choose("", load, lambda b: b != "b1") == "b2"
    assert lc.choose("", load, lambda b: False) is None


def test_p2c_prefers_the_less_loaded_of_two() -> None:
    p2c = make_policy("p2c", ["a", "b"], random.Random(3))
    assert {p2c.choose("", {"a": 9, "b": 1}) for _ in range(20)} == {"b"}


@pytest.mark.parametrize("policy", ["consistent-hash", "maglev", "hash-mod"])
def test_hash_policies_are_stable_and_spread(policy: str) -> None:
    p = make_policy(policy, NAMES, random.Random(0), table_size=5003)
    first = [p.choose(k, {}) for k in KEYS]
    assert first == [p.choose(k, {}) for k in KEYS]
    shares = Counter(first)
    assert min(shares.values()) > len(KEYS) / len(NAMES) * 0.6


def test_maglev_table_is_near_equal() -> None:
    table = Maglev(NAMES, table_size=5003).table(NAMES)
    counts = Counter(table)
    assert len(table) == 5003
    assert max(counts.values()) - min(counts.values()) <= 2


def test_consistent_hashing_moves_about_one_nth_and_modulo_moves_most() -> None:
    after = NAMES[:-1]  # b4 removed
    ring = keys_moved(ConsistentHashRing(NAMES), ConsistentHashRing(after), KEYS)
    maglev = keys_moved(Maglev(NAMES, 5003), Maglev(after, 5003), KEYS)
    modulo = keys_moved(HashModulo(NAMES), HashModulo(after), KEYS)
    assert 0.12 < ring < 0.30  # ideal: 1/5 = 0.2
    assert 0.12 < maglev < 0.30
    assert modulo > 0.6  # ideal (N-1)/N = 0.8


def test_bounded_loads_cap_a_hot_backend() -> None:
    ring = ConsistentHashRing(NAMES, c=1.25)
    owner = ring.choose("hot", {})
    assert owner is not None
    load = dict.fromkeys(NAMES, 2)
    load[owner] = 10  # far above ceil(1.25 * 19 / 5) = 5
    assert ring.choose("hot", load) != owner
    load[owner] = 2
    assert ring.choose("hot", load) == owner


def test_bad_configuration_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown balancing policy"):
        make_policy("random-ish", NAMES, random.Random(0))
    with pytest.raises(ConfigError, match="prime"):
        Maglev(NAMES, table_size=1000)
    with pytest.raises(ConfigError, match="c=1"):
        ConsistentHashRing(NAMES, c=1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no backends"),
        ("127.0.0.1", "not HOST:PORT"),
        ("127.0.0.1:0", "no valid port"),
        ("127.0.0.1:99999", "no valid port"),
        ("bad host!:80", "invalid host"),
        ("127.0.0.1:80,127.0.0.1:80", "listed twice"),
    ],
)
def test_backend_lists_that_do_not_parse(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_backends(text)


def test_backend_lists_that_parse() -> None:
    assert [b.name for b in parse_backends("127.0.0.1:80, localhost:81,[::1]:82")] == [
        "127.0.0.1:80",
        "localhost:81",
        "[::1]:82",
    ]
