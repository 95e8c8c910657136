"""ULID: the ulid/spec examples, strict decoding, monotonic mode and its overflow, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from archlab.ids import crockford
from archlab.ids.entropy import FixedEntropy, SeededEntropy
from archlab.ids.errors import InvalidIdError, MonotonicOverflowError, TimestampRangeError
from archlab.ids.ulid import Ulid, UlidGenerator
from tests.ids.helpers import FakeClock

u128 = st.integers(min_value=0, max_value=2**128 - 1)


def generator_at(text: str, **kwargs: object) -> tuple[UlidGenerator, FakeClock]:
    """A monotonic generator whose first ULID is exactly ``text`` (clock and bits injected)."""
    start = Ulid.parse(text)
    clock = FakeClock(start.timestamp_ms)
    entropy = FixedEntropy(start.randomness.to_bytes(10, "big"))
    return UlidGenerator(clock=clock, entropy=entropy, **kwargs), clock  # type: ignore[arg-type]


class TestSpecExamples:
    def test_canonical_example_round_trips(self) -> None:
        u = Ulid.parse("01ARZ3NDEKTSV4RRFFQ69G5FAV")
        assert str(u) == "01ARZ3NDEKTSV4RRFFQ69G5FAV"
        assert Ulid.from_bytes16(u.to_bytes16()) == u

    def test_components_split_at_ten_characters(self) -> None:
        # The spec's layout figure: 01AN4Z07BY (48-bit time) | 79KA1307SR9X4MV3 (80 bits).
        u = Ulid.parse("01AN4Z07BY79KA1307SR9X4MV3")
        assert crockford.encode_time(u.timestamp_ms) == "01AN4Z07BY"
        assert crockford.encode_bits(u.randomness, 16) == "79KA1307SR9X4MV3"

    def test_largest_valid_ulid(self) -> None:
        top = Ulid.parse("7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
        assert top == 2**128 - 1
        assert top.timestamp_ms == 2**48 - 1 == 281474976710655

    def test_monotonic_same_millisecond_with_carry(self) -> None:
        gen, _ = generator_at("01BX5ZZKBKACTAV9WEVGEMMVRY")
        assert [gen.new_str() for _ in range(4)] == [
            "01BX5ZZKBKACTAV9WEVGEMMVRY",
            "01BX5ZZKBKACTAV9WEVGEMMVRZ",
            "01BX5ZZKBKACTAV9WEVGEMMVS0",
            "01BX5ZZKBKACTAV9WEVGEMMVS1",
        ]

    def test_monotonic_overflow_is_an_error(self) -> None:
        gen, _ = generator_at("01BX5ZZKBKZZZZZZZZZZZZZZZX")
        assert [str(gen.new()) for _ in range(3)] == [
            "01BX5ZZKBKZZZZZZZZZZZZZZZX",
            "01BX5ZZKBKZZZZZZZZZZZZZZZY",
            "01BX5ZZKBKZZZZZZZZZZZZZZZZ",
        ]
        with pytest.raises(MonotonicOverflowError):
            gen.new()
        with pytest.raises(MonotonicOverflowError):
            gen.new_str()


class TestStrictDecoding:
    @pytest.mark.parametrize("first", "89ABCDEFGHJKMNPQRSTVWXYZ")
    def test_first_character_above_7_is_rejected(self, first: str) -> None:
        with pytest.raises(InvalidIdError, match="above '7'"):
            Ulid.parse(first + "ZZZZZZZZZZZZZZZZZZZZZZZZZ")

    @pytest.mark.parametrize("bad", ["I", "L", "O", "U", "i", "l", "o", "u", "-", " ", "é", "_"])
    def test_characters_outside_the_alphabet_are_rejected(self, bad: str) -> None:
        text = "01ARZ3NDEKTSV4RRFFQ69G5FA" + bad
        with pytest.raises(InvalidIdError, match="position 25"):
            Ulid.parse(text)

    @pytest.mark.parametrize(
        "text", ["", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAVV"]
    )
    def test_wrong_length_is_rejected(self, text: str) -> None:
        with pytest.raises(InvalidIdError, match="26 characters"):
            Ulid.parse(text)

    def test_lower_case_is_accepted(self) -> None:
        assert Ulid.parse("01arz3ndektsv4rrffq69g5fav") == Ulid.parse("01ARZ3NDEKTSV4RRFFQ69G5FAV")

    def test_out_of_range_values_are_rejected(self) -> None:
        with pytest.raises(InvalidIdError):
            Ulid(2**128)
        with pytest.raises(InvalidIdError):
            Ulid.from_parts(2**48, 0)
        with pytest.raises(InvalidIdError):
            Ulid.from_parts(0, 2**80)


class TestRoundTrips:
    @given(u128)
    def test_text_and_bytes_round_trip(self, value: int) -> None:
        u = Ulid(value)
        assert Ulid.parse(str(u)) == u
        assert Ulid.parse(str(u).lower()) == u
        assert Ulid.from_bytes16(u.to_bytes16()) == u
        assert Ulid.from_parts(u.timestamp_ms, u.randomness) == u
        assert repr(u) == f"Ulid('{u}')"

    @given(u128, u128)
    def test_text_order_is_numeric_order(self, a: int, b: int) -> None:
        assert (str(Ulid(a)) < str(Ulid(b))) == (a < b)


class TestGenerator:
    @given(st.lists(st.integers(min_value=-5, max_value=5), min_size=1, max_size=60))
    def test_monotonic_output_strictly_increases_whatever_the_clock_does(
        self, steps: list[int]
    ) -> None:
        clock = FakeClock(1_600_000_000_000)
        gen = UlidGenerator(clock=clock, entropy=SeededEntropy(len(steps)))
        previous = ""
        for i, step in enumerate(steps):
            clock.advance(step)
            text = gen.new_str() if i % 2 else str(gen.new())
            assert text > previous
            previous = text

    def test_timestamp_is_the_clock_and_backwards_keeps_the_last_one(self) -> None:
        clock = FakeClock(1_650_000_000_000)
        gen = UlidGenerator(clock=clock, entropy=SeededEntropy(1))
        first = gen.new()
        assert first.timestamp_ms == clock.now
        clock.advance(-50)
        second = gen.new()
        assert second.timestamp_ms == first.timestamp_ms and second == first + 1
        clock.advance(100)
        assert gen.new().timestamp_ms == clock.now

    def test_object_and_text_paths_agree(self) -> None:
        clock = FakeClock()
        a = UlidGenerator(clock=clock, entropy=SeededEntropy(7))
        b = UlidGenerator(clock=clock, entropy=SeededEntropy(7))
        for i in range(3000):
            if i % 700 == 0:
                clock.advance(1)
            assert str(a.new()) == b.new_str()

    def test_random_mode_draws_fresh_bits_every_time(self) -> None:
        clock = FakeClock()
        gen = UlidGenerator(monotonic=False, clock=clock, entropy=SeededEntropy(3))
        texts = [gen.new_str() for _ in range(500)] + [str(gen.new()) for _ in range(500)]
        assert len(set(texts)) == 1000
        assert {Ulid.parse(t).timestamp_ms for t in texts} == {clock.now}
        assert texts != sorted(texts)  # no order within the millisecond in random mode

    @pytest.mark.parametrize("monotonic", [True, False])
    def test_clock_outside_48_bits_is_an_error(self, monotonic: bool) -> None:
        for now in (-1, 2**48):
            gen = UlidGenerator(monotonic=monotonic, clock=FakeClock(now))
            with pytest.raises(TimestampRangeError):
                gen.new()
            with pytest.raises(TimestampRangeError):
                gen.new_str()


def test_agrees_with_python_ulid_when_installed() -> None:
    peer = pytest.importorskip("ulid")
    for text in (
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "00000000000000000000000000",
    ):
        theirs = peer.ULID.from_str(text)
        ours = Ulid.parse(text)
        assert int(theirs) == ours and theirs.milliseconds == ours.timestamp_ms
    ours_new = UlidGenerator().new_str()
    assert str(peer.ULID.from_str(ours_new)) == ours_new
