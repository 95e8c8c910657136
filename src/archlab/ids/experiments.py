"""Chapter 6.2 claims: how time-ordered Snowflake, ULID, UUIDv7, KSUID and UUIDv4 IDs are when
several machines generate them at once, and what that order does to a B+-tree index.

One experiment per module (:mod:`archlab.ids.measure_k_ordering`,
:mod:`archlab.ids.measure_btree_locality`); importing them here registers them.
"""

from __future__ import annotations

from archlab.ids.measure_btree_locality import (
    BTreeLocalityMeasurement,
    SchemeIndex,
    btree_locality,
    judge_btree_locality,
)
from archlab.ids.measure_k_ordering import (
    KINDS,
    LABEL,
    MILLISECOND,
    TIME_ORDERED,
    KOrderingMeasurement,
    SchemeDisorder,
    SkewRun,
    judge_k_ordering,
    k_ordering,
)

__all__ = [
    "KINDS",
    "LABEL",
    "MILLISECOND",
    "TIME_ORDERED",
    "BTreeLocalityMeasurement",
    "KOrderingMeasurement",
    "SchemeDisorder",
    "SchemeIndex",
    "SkewRun",
    "btree_locality",
    "judge_btree_locality",
    "judge_k_ordering",
    "k_ordering",
]
