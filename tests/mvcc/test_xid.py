"""XID arithmetic on the circle: PostgreSQL's (int32)(a - b) < 0, wrapping, special ids."""

from __future__ import annotations

import ctypes

import pytest
from hypothesis import given, strategies as st

from archlab.errors import ConfigError
from archlab.storage.mvcc.settings import MvccSettings
from archlab.storage.mvcc.xid import FIRST_NORMAL_XID, FROZEN_XID, XidSpace

SPACE = XidSpace(32)
normal = st.integers(min_value=FIRST_NORMAL_XID, max_value=2**32 - 1)


def int32(x: int) -> int:
    return ctypes.c_int32(x & 0xFFFFFFFF).value


@given(normal, normal)
def test_precedes_is_the_sign_of_the_int32_difference(a: int, b: int) -> None:
    assert SPACE.precedes(a, b) == (int32(a - b) < 0)


@given(normal, st.integers(min_value=1, max_value=2**31 - 1))
def test_every_id_sees_the_next_two_billion_as_its_future(a: int, ahead: int) -> None:
    b = SPACE.add(a, ahead)
    assert SPACE.precedes(a, b)
    assert SPACE.follows(b, a)
    assert not SPACE.precedes(b, a)


def test_the_future_ends_2_to_the_31_ahead() -> None:
    a = 1000
    assert SPACE.precedes(a, a + 2**31 - 1)
    # exactly 2^31 ahead the signed difference is INT32_MIN: the id is now in the past
    assert SPACE.precedes(a + 2**31, a)


@given(normal, normal, normal)
def test_the_order_is_transitive_within_a_quarter_circle(a: int, b: int, c: int) -> None:
    # within a window smaller than 2^31 the order is a proper total order
    if SPACE.distance(a, b) < 2**30 and SPACE.distance(b, c) < 2**30:
        assert SPACE.precedes_or_equals(a, c)


def test_special_ids_precede_every_normal_id() -> None:
    for special in (0, 1, FROZEN_XID):
        assert SPACE.precedes(special, FIRST_NORMAL_XID)
        assert SPACE.precedes(special, 2**32 - 1)
        assert not SPACE.precedes(2**32 - 1, special)


def test_advance_wraps_to_the_first_normal_id() -> None:
    assert SPACE.advance(2**32 - 1) == FIRST_NORMAL_XID
    assert SPACE.advance(41) == 42
    small = XidSpace(8)
    assert small.advance(255) == 3


@given(normal, st.integers(min_value=-(2**31), max_value=2**31))
def test_add_never_lands_on_a_special_id(xid: int, delta: int) -> None:
    assert SPACE.add(xid, delta) >= FIRST_NORMAL_XID


def test_add_steps_over_the_special_ids_like_varsup() -> None:
    assert SPACE.add(2**32 - 1, 1) == 3
    assert SPACE.add(2**32 - 2, 4) == 5  # 2^32+2 -> 2 -> skips to 5
    assert SPACE.add(4, -3) == 2**32 - 2  # 1 -> stepped back over 0..2


@given(normal, st.integers(min_value=0, max_value=2**31 - 1))
def test_age_counts_ids_consumed_across_the_wrap(xid: int, consumed: int) -> None:
    later = (xid + consumed) & 0xFFFFFFFF
    assert SPACE.age(xid, later) == consumed


@pytest.mark.parametrize("bits", [8, 12, 16, 20])
def test_small_spaces_behave_like_the_32_bit_one(bits: int) -> None:
    space = XidSpace(bits)
    half = 1 << (bits - 1)
    assert space.horizon == half
    assert space.precedes(10, 10 + half - 1)
    assert space.precedes(10 + half, 10)
    assert space.advance(space.max_xid) == 3


def test_a_space_needs_8_to_32_bits() -> None:
    with pytest.raises(ValueError):
        XidSpace(40)


def test_scaled_settings_keep_postgresql_proportions() -> None:
    s = MvccSettings.scaled(16)
    assert s.autovacuum_freeze_max_age == 200_000_000 >> 16  # 3051
    assert s.xid_warn_margin == 40_000_000 >> 16
    assert s.xid_stop_margin == 3_000_000 >> 16
    assert s.vacuum_freeze_min_age == 50_000_000 >> 16
    assert s.space.horizon == 2**15
    full = MvccSettings()
    assert full.autovacuum_freeze_max_age == 200_000_000
    assert full.xid_warn_margin == 40_000_000 and full.xid_stop_margin == 3_000_000


def test_freeze_ages_are_clamped_as_postgresql_clamps_them() -> None:
    s = MvccSettings.scaled(16, vacuum_freeze_min_age=10_000, vacuum_freeze_table_age=10_000)
    assert s.effective_freeze_min_age == s.autovacuum_freeze_max_age // 2
    assert s.effective_freeze_table_age == s.autovacuum_freeze_max_age * 95 // 100


@pytest.mark.parametrize(
    "overrides",
    [
        {"xid_bits": 40},
        {"autovacuum_freeze_max_age": 2**31},
        {"xid_warn_margin": 1, "xid_stop_margin": 2},
        {"start_xid": 1},
        {"tuples_per_page": 0},
        {"vacuum_freeze_min_age": -1},
    ],
)
def test_impossible_settings_are_refused(overrides: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        MvccSettings(**overrides)


def test_scaled_rejects_unknown_settings() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        MvccSettings.scaled(16, vacuum_freeze_mn_age=3)
