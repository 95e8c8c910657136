"""Snowflake: published example IDs, the layout, exhaustion, clocks moving backwards, floors."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from archlab.ids.errors import ClockMovedBackwardsError, InvalidIdError, TimestampRangeError
from archlab.ids.snowflake import (
    TWITTER,
    TWITTER_EPOCH_MS,
    SnowflakeLayout,
    SnowflakeSequencer,
    parse_snowflake,
)
from archlab.ids.snowflake_generator import SnowflakeGenerator
from tests.ids.helpers import FakeClock

DISCORD = SnowflakeLayout(epoch_ms=1420070400000)


class TestPublishedExamples:
    def test_a_tweet_id(self) -> None:
        # A June 2022 tweet by @Wikipedia (Wikipedia, "Snowflake ID"): timestamp field
        # 367597485448 + Twitter epoch = 1656432460105 ms, machine 378, sequence 0.
        p = parse_snowflake(1541815603606036480)
        assert p.timestamp_ms == 367597485448 + TWITTER_EPOCH_MS == 1656432460105
        assert (p.machine, p.sequence) == (378, 0)
        assert (p.datacenter, p.worker) == (378 >> 5, 378 & 31)
        assert TWITTER.compose(p.timestamp_ms, p.machine, p.sequence) == p.value

    def test_a_discord_id_under_its_epoch(self) -> None:
        # Discord's API reference: 175928847299117063 is 2016-04-30 11:18:25.796 UTC,
        # internal worker 1, process 0, increment 7 (worker and process are our 5 + 5 bits).
        p = parse_snowflake("175928847299117063", DISCORD)
        assert p.timestamp_ms == 1462015105796
        assert (p.datacenter, p.worker, p.sequence) == (1, 0, 7)


class TestLayout:
    @given(
        st.integers(TWITTER_EPOCH_MS, TWITTER_EPOCH_MS + 2**41 - 1),
        st.integers(0, 1023),
        st.integers(0, 4095),
    )
    def test_compose_and_parse_round_trip(self, ms: int, machine: int, sequence: int) -> None:
        value = TWITTER.compose(ms, machine, sequence)
        assert 0 <= value < 2**63
        p = parse_snowflake(value)
        assert (p.timestamp_ms, p.machine, p.sequence) == (ms, machine, sequence)
        assert parse_snowflake(str(value)) == p

    def test_datacenter_and_worker_make_the_machine_field(self) -> None:
        gen = SnowflakeGenerator(datacenter=3, worker=17, clock=FakeClock())
        p = gen.parse(gen.new())
        assert (p.machine, p.datacenter, p.worker) == (3 << 5 | 17, 3, 17)

    @pytest.mark.parametrize(
        "kwargs",
        [{"machine": 1024}, {"machine": -1}, {"datacenter": 32, "worker": 0}, {}, {"worker": 1}],
    )
    def test_bad_machine_ids_are_refused(self, kwargs: dict[str, int]) -> None:
        with pytest.raises(InvalidIdError):
            SnowflakeGenerator(clock=FakeClock(), **kwargs)  # type: ignore[arg-type]

    def test_layout_limits(self) -> None:
        with pytest.raises(InvalidIdError):
            SnowflakeLayout(timestamp_bits=42)
        with pytest.raises(InvalidIdError):
            parse_snowflake(2**63)
        with pytest.raises(InvalidIdError):
            parse_snowflake("12a")
        with pytest.raises(TimestampRangeError):
            SnowflakeGenerator(0, clock=FakeClock(TWITTER_EPOCH_MS - 1)).new()


class TestSequencer:
    def test_sequence_counts_up_then_asks_to_wait(self) -> None:
        seq = SnowflakeSequencer(machine=9)
        now = TWITTER_EPOCH_MS + 1000
        ids = [seq.issue(now) for _ in range(4096)]
        assert [parse_snowflake(i).sequence for i in ids if i is not None] == list(range(4096))
        assert seq.issue(now) is None
        nxt = seq.issue(now + 1)
        assert nxt is not None and parse_snowflake(nxt).sequence == 0 and nxt > ids[-1]  # type: ignore[operator]

    def test_backwards_reading_raises(self) -> None:
        seq = SnowflakeSequencer(machine=1)
        seq.issue(TWITTER_EPOCH_MS + 50)
        with pytest.raises(ClockMovedBackwardsError, match="by 1 ms"):
            seq.issue(TWITTER_EPOCH_MS + 49)

    def test_floor_counts_as_used(self) -> None:
        floor = TWITTER_EPOCH_MS + 500
        seq = SnowflakeSequencer(machine=1, floor_ms=floor)
        with pytest.raises(ClockMovedBackwardsError):
            seq.issue(floor - 1)
        assert seq.issue(floor) is None
        assert seq.issue(floor + 1) is not None


class TestGenerator:
    def test_exhaustion_waits_for_the_next_millisecond(self) -> None:
        clock = FakeClock()
        gen = SnowflakeGenerator(7, clock=clock, sleep=clock.sleep)
        ids = [gen.new() for _ in range(4096 * 2 + 5)]
        assert ids == sorted(set(ids))
        stamps = [parse_snowflake(i).timestamp_ms for i in ids]
        assert stamps[0] == stamps[4095] and stamps[4096] > stamps[4095]
        assert len(clock.slept) == 2

    def test_refuse_policy_raises_and_recovers(self) -> None:
        clock = FakeClock()
        gen = SnowflakeGenerator(7, clock=clock, sleep=clock.sleep)
        first = gen.new()
        clock.advance(-20)
        with pytest.raises(ClockMovedBackwardsError, match="by 20 ms"):
            gen.new()
        clock.advance(21)
        assert gen.new() > first

    def test_wait_policy_waits_out_the_difference(self) -> None:
        clock = FakeClock()
        gen = SnowflakeGenerator(7, clock=clock, sleep=clock.sleep, on_backwards="wait")
        first = gen.new()
        clock.advance(-30)
        second = gen.new()
        assert second > first and clock.slept[0] == pytest.approx(0.030)

    def test_wait_policy_gives_up_past_its_bound(self) -> None:
        clock = FakeClock()
        gen = SnowflakeGenerator(
            7,
            clock=lambda: clock.now,
            sleep=lambda s: None,
            on_backwards="wait",
            max_backwards_wait_ms=100,
        )
        gen.new()
        clock.advance(-40)
        with pytest.raises(ClockMovedBackwardsError):
            gen.new()  # sleeping does not move this clock: gives up after 100 ms of waits

    @given(st.lists(st.integers(min_value=-4, max_value=3), min_size=1, max_size=80))
    def test_wait_policy_never_repeats_whatever_the_clock_does(self, steps: list[int]) -> None:
        clock = FakeClock()
        gen = SnowflakeGenerator(3, clock=clock, sleep=clock.sleep, on_backwards="wait")
        out = []
        for step in steps:
            clock.advance(step)
            out.append(gen.new())
        assert out == sorted(set(out))

    def test_new_str_is_decimal(self) -> None:
        gen = SnowflakeGenerator(5, clock=FakeClock())
        assert int(gen.new_str()) < gen.new()
