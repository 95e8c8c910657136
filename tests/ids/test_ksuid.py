"""KSUID: segmentio/ksuid's README figures, strict base62, round trips and order."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from archlab.ids.entropy import FixedEntropy, SeededEntropy
from archlab.ids.errors import InvalidIdError, TimestampRangeError
from archlab.ids.ksuid import EPOCH_S, Ksuid, KsuidGenerator
from tests.ids.helpers import FakeClock

u160 = st.integers(min_value=0, max_value=2**160 - 1)
README_TEXT = "0ujtsYcgvSTl8PAuAdqWYSMnLOv"
README_RAW = "0669F7EFB5A1CD34B5F99D1154FB6853345C9735"


class TestReadmeExamples:
    def test_inspect_example_components(self) -> None:
        # segmentio/ksuid README, "inspect": String, Raw, Timestamp 107608047, Payload.
        k = Ksuid.parse(README_TEXT)
        assert k.to_bytes20().hex().upper() == README_RAW
        assert k.timestamp == 107608047
        assert k.unix_seconds == 107608047 + EPOCH_S == 1507608047  # 2017-10-09 21:00:47 PDT
        assert f"{k.payload:032X}" == "B5A1CD34B5F99D1154FB6853345C9735"
        assert str(k) == README_TEXT

    def test_generator_reproduces_it_from_its_parts(self) -> None:
        gen = KsuidGenerator(
            clock=FakeClock(1507608047_123),
            entropy=FixedEntropy(bytes.fromhex("B5A1CD34B5F99D1154FB6853345C9735")),
        )
        assert gen.new_str() == README_TEXT

    def test_nil_and_max(self) -> None:
        assert Ksuid.parse("000000000000000000000000000") == 0
        assert Ksuid.parse("aWgEPTl1tmebfsQzFP4bxwgy80V") == 2**160 - 1
        assert str(Ksuid(2**160 - 1)) == "aWgEPTl1tmebfsQzFP4bxwgy80V"


class TestStrictDecoding:
    @pytest.mark.parametrize(
        "text",
        ["aWgEPTl1tmebfsQzFP4bxwgy80W", "zzzzzzzzzzzzzzzzzzzzzzzzzzz"],  # above 160 bits
    )
    def test_values_above_160_bits_are_rejected(self, text: str) -> None:
        with pytest.raises(InvalidIdError, match="160 bits"):
            Ksuid.parse(text)

    @pytest.mark.parametrize("bad", ["-", "_", " ", "+", "é"])
    def test_non_base62_characters_are_rejected(self, bad: str) -> None:
        with pytest.raises(InvalidIdError, match="position 3"):
            Ksuid.parse("0uj" + bad + README_TEXT[4:])

    @pytest.mark.parametrize("text", ["", README_TEXT[:-1], README_TEXT + "0"])
    def test_wrong_length_is_rejected(self, text: str) -> None:
        with pytest.raises(InvalidIdError, match="27 base62"):
            Ksuid.parse(text)

    def test_parts_out_of_range(self) -> None:
        with pytest.raises(InvalidIdError):
            Ksuid.from_parts(EPOCH_S - 1, 0)
        with pytest.raises(InvalidIdError):
            Ksuid.from_parts(EPOCH_S, b"short")
        with pytest.raises(InvalidIdError):
            Ksuid(2**160)


class TestRoundTrips:
    @given(u160)
    def test_text_and_bytes_round_trip(self, value: int) -> None:
        k = Ksuid(value)
        assert len(str(k)) == 27
        assert Ksuid.parse(str(k)) == k
        assert Ksuid.from_bytes20(k.to_bytes20()) == k
        assert Ksuid.from_parts(k.unix_seconds, k.payload) == k

    @given(u160, u160)
    def test_text_order_is_numeric_order(self, a: int, b: int) -> None:
        assert (str(Ksuid(a)) < str(Ksuid(b))) == (a < b)


class TestGenerator:
    def test_seconds_resolution_and_fresh_payloads(self) -> None:
        clock = FakeClock(1_700_000_000_999)
        gen = KsuidGenerator(clock=clock, entropy=SeededEntropy(5))
        batch = [gen.new() for _ in range(300)]
        assert {k.unix_seconds for k in batch} == {1_700_000_000}
        assert len(set(batch)) == 300
        clock.advance(1)
        later = gen.new()
        assert later.unix_seconds == 1_700_000_001 and later > max(batch)

    def test_time_before_the_ksuid_epoch_is_an_error(self) -> None:
        with pytest.raises(TimestampRangeError):
            KsuidGenerator(clock=FakeClock(1_399_999_999_000)).new()


def test_agrees_with_svix_ksuid_when_installed() -> None:
    peer = pytest.importorskip("ksuid")
    theirs = peer.Ksuid.from_base62(README_TEXT)
    assert bytes(theirs).hex().upper() == README_RAW
    ours = KsuidGenerator().new()
    assert str(peer.Ksuid.from_bytes(ours.to_bytes20())) == str(ours)
