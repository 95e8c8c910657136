"""The benchmark's replay helpers: byte offsets for pycrdt, and both replayers reach endContent."""

from __future__ import annotations

import pytest

from archlab.collab import replaymem, traces
from archlab.collab.memory import deep_size

NON_ASCII = traces.Trace(
    "accents",
    "",
    "é✓ab",
    (((0, 0, "ab"),), ((0, 0, "é"),), ((1, 0, "x✓"),), ((1, 1, ""),)),
)


def test_positions_become_utf8_byte_offsets() -> None:
    assert replaymem.byte_offsets(NON_ASCII) == [
        [(0, 0, "ab")],
        [(0, 0, "é")],
        [(2, 0, "x✓")],
        [(2, 1, "")],
    ]


def test_archlab_replayer_reaches_end_content() -> None:
    doc = replaymem.archlab_replayer(NON_ASCII)()
    assert doc.text == NON_ASCII.end  # type: ignore[attr-defined]
    assert deep_size(doc) > deep_size(NON_ASCII.end)


def test_pycrdt_replayer_reaches_end_content() -> None:
    pytest.importorskip("pycrdt")
    replaymem.pycrdt_replayer(NON_ASCII)()  # raises if the text differs
    replaymem.pycrdt_replayer(traces.generated(300, seed=1))()
