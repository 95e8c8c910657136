"""Long sweeps (opt in: ``pytest -m slow``): every protocol over hundreds of faulty seeds."""

from __future__ import annotations

import pytest

from tests.txn.scenarios import run

FAULTS = "partition,crash,pause,loss,dup,reorder,clock-skew"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("twopc", {}),
        ("spanner", {}),
        ("saga", {"design": "orchestration"}),
        ("saga", {"design": "choreography"}),
    ],
)
def test_soak(name: str, options: dict[str, str]) -> None:
    faults = FAULTS if name != "spanner" else FAULTS.replace(",clock-skew", "")
    failures = []
    for seed in range(1, 301):
        _, outcome = run(name, seed, faults, **options)
        if outcome.valid is not True:
            failures.append((seed, outcome.summary))
    assert not failures, failures[:3]
