"""Numbers with units: exact values, the KB/KiB distinction, and only ConfigError on bad text."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from archlab.design import units
from archlab.errors import ConfigError

SI = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
IEC = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
COUNT = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "m": 10**6, "B": 10**9, "bn": 10**9,
         "T": 10**12}  # fmt: skip
PARSERS = [
    units.parse_count,
    units.parse_rate,
    units.parse_size,
    units.parse_duration,
    units.parse_fraction,
    units.parse_latency_ms,
]


@given(n=st.integers(0, 10**6), prefix=st.sampled_from(sorted(SI)))
def test_si_sizes_are_powers_of_1000(n: int, prefix: str) -> None:
    assert units.parse_size(f"{n}{prefix}B") == float(n * SI[prefix])
    assert units.parse_size(f"{n} {prefix.lower()}B") == float(n * SI[prefix])


@given(n=st.integers(0, 10**6), prefix=st.sampled_from(sorted(IEC)))
def test_iec_sizes_are_powers_of_1024(n: int, prefix: str) -> None:
    assert units.parse_size(f"{n}{prefix}B") == float(n * IEC[prefix])


@given(n=st.integers(1, 10**6))
def test_kib_is_strictly_larger_than_kb(n: int) -> None:
    assert units.parse_size(f"{n}KiB") - units.parse_size(f"{n}KB") == 24 * n


@given(whole=st.integers(0, 10**4), tenths=st.integers(0, 9), suffix=st.sampled_from(sorted(COUNT)))
def test_decimal_counts_are_exact(whole: int, tenths: int, suffix: str) -> None:
    # Decimal arithmetic: 1.1k is 1100, never 1100.0000000000002.
    assert (
        units.parse_count(f"{whole}.{tenths}{suffix}") == (whole * 10 + tenths) * COUNT[suffix] / 10
    )


@given(n=st.integers(0, 10**9))
def test_underscores_and_exponents(n: int) -> None:
    grouped = f"{n:_}"
    assert units.parse_count(grouped) == n
    assert units.parse_count(f"{n}e3") == n * 1000


@given(days=st.integers(0, 10**5))
def test_durations(days: int) -> None:
    assert units.parse_duration(f"{days}d") == days * 86_400
    assert units.parse_duration(f"{days}y") == days * 365 * 86_400
    assert units.parse_duration(f"{days}w") == days * 7 * 86_400
    assert units.parse_duration(f"{days}h") == days * 3600


@given(basis_points=st.integers(0, 10_000))
def test_percentages_and_fractions_agree(basis_points: int) -> None:
    percent = f"{basis_points // 100}.{basis_points % 100:02d}%"
    assert units.parse_fraction(percent) == pytest.approx(basis_points / 10_000, abs=1e-15)
    assert units.parse_fraction(basis_points / 10_000) == pytest.approx(basis_points / 10_000)


@pytest.mark.parametrize(("text", "value"), [("3 nines", 0.999), ("5 nines", 0.99999),
                                             ("99.999%", 0.99999), ("99.99%", 0.9999)])  # fmt: skip
def test_nines(text: str, value: float) -> None:
    assert units.parse_fraction(text) == value


@given(value=st.floats(0, 1e15, allow_nan=False))
def test_formatted_bytes_parse_back_within_rounding(value: float) -> None:
    # format_bytes keeps three significant digits, so the round trip is within 0.5%.
    text = units.format_bytes(value).replace(" ", "")
    assert units.parse_size(text) == pytest.approx(value, rel=5e-3, abs=5e-3)


@given(value=st.floats(1e-3, 1e14, allow_nan=False))
def test_formatted_counts_parse_back_within_rounding(value: float) -> None:
    assert units.parse_count(units.format_count(value)) == pytest.approx(value, rel=5e-3)


@given(text=st.text(max_size=12), parser=st.sampled_from(PARSERS))
@settings(max_examples=400)
def test_any_text_parses_to_a_finite_non_negative_number_or_raises_config_error(
    text: str, parser: object
) -> None:
    try:
        value = parser(text, "field")  # type: ignore[operator]
    except ConfigError as exc:
        assert str(exc).startswith("field: ")
        assert "expected" in str(exc) and "found" in str(exc)
        return
    assert math.isfinite(value) and value >= 0


@pytest.mark.parametrize(
    ("parser", "text", "fragment"),
    [
        (units.parse_size, "1kb", "lowercase b means bits"),
        (units.parse_size, "1Mb", "lowercase b means bits"),
        (units.parse_size, "3 furlongs", "KiB"),
        (units.parse_duration, "5", "no unit"),
        (units.parse_duration, 5, "bare number"),
        (units.parse_duration, "5 fortnights", "unknown unit"),
        (units.parse_fraction, 99.9, "did you mean 99.9%"),
        (units.parse_fraction, "120%", "between 0 and 100%"),
        (units.parse_fraction, "13 nines", "between 1 and 12 nines"),
        (units.parse_count, "-5", "≥ 0"),
        (units.parse_count, "10X", "k, M, B, T"),
        (units.parse_count, "1e999", "too large"),
        (units.parse_count, True, "found True"),
        (units.parse_count, float("nan"), "found nan"),
    ],
)
def test_bad_values_name_what_was_expected(parser: object, text: object, fragment: str) -> None:
    with pytest.raises(ConfigError, match="expected") as caught:
        parser(text, "what")  # type: ignore[operator]
    assert fragment in str(caught.value)


def test_rates_accept_per_second_suffixes() -> None:
    for text in ("5k/s", "5k qps", "5000rps", "5k ops/s", "5k"):
        assert units.parse_rate(text) == 5000


def test_latency_accepts_bare_milliseconds_or_units() -> None:
    assert units.parse_latency_ms("80") == 80
    assert units.parse_latency_ms("0.2s") == 200
    assert units.parse_latency_ms(50) == 50
