"""Numbers and text for people: three significant digits, real exponents, one arrow style."""

from __future__ import annotations

import pytest
from rich.console import Console

from archlab.lab import Column, Table, console as show, format as fmt


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (38.885, "38.9"),
        (5.0, "5.00"),
        (0.5, "0.5"),
        (0.0012345, "0.00123"),
        (1234.567, "1,235"),
        (2.5e9, "2.5×10⁹"),
        (1e9, "10⁹"),
        (1.2e-5, "1.2×10⁻⁵"),
        (1234567, "1,234,567"),
        (float("nan"), "–"),
        (None, "–"),
        (True, "yes"),
    ],
)
def test_numbers_have_three_significant_digits(value: float | None, text: str) -> None:
    assert fmt.number(value) == text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("38.885x faster", "38.9x faster"),
        ("a -> b => c ⇒ d", "a → b → c → d"),
        ("p99 12.3456 ms, p50 0.012345 s", "p99 12.3 ms, p50 0.0123 s"),
        ("1234.5678 ops/s", "1235 ops/s"),
        ("5.0 ms and 0.25", "5.0 ms and 0.25"),
        ("Python 3.12.1 on 127.0.0.1:7001, §4.2, storage.mvcc", "unchanged"),
        ("moves 2^31 past them, 10^{-3}", "moves 2³¹ past them, 10⁻³"),
        ("≥ 1e+06 and 2.5e-05", "≥ 10⁶ and 2.5×10⁻⁵"),
    ],
)
def test_prose_rounds_numbers_and_uses_one_arrow(before: str, after: str) -> None:
    assert fmt.prose(before) == (before if after == "unchanged" else after)


def test_a_table_too_wide_for_the_terminal_is_shown_one_record_a_block() -> None:
    labels = ["wraparound protection", "first warning (XIDs before wraparound)"]
    labels += [f"measured quantity number {i} (XIDs)" for i in range(6)]
    wide = Table(
        "wide",
        [Column(label) for label in labels],
        [["on (PostgreSQL's default)", *range(7)], ["off (what it prevents)", *range(7)]],
    )
    out = Console(width=80, record=True)
    out.print(show.table(wide, out.width))
    text = out.export_text()
    assert "…" not in text
    assert "first warning (XIDs before wraparound)" in text
    assert "on (PostgreSQL's default)" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    narrow = Table("narrow", [Column("a"), Column("b")], [["x", 1]])
    out = Console(width=80, record=True)
    out.print(show.table(narrow, out.width))
    assert "┃ a" in out.export_text()  # a table that fits keeps its columns


def test_a_verdict_without_evidence_shows_a_few_values_and_says_where_the_rest_are() -> None:
    from tests.lab.test_result import make_result

    result = make_result(values={f"value_{i}": float(i) for i in range(40)})
    out = Console(width=100, record=True)
    show.show_result(out, result)
    text = " ".join(out.export_text().split())
    assert "measurements (40)" in text and "value_11=11.0" in text
    assert "value_12=" not in text and "and 28 more (--json shows them all)" in text
