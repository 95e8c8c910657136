"""Every registered experiment runs on its quick profile and yields a computed verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.lab import Result, registry, runner
from archlab.lab.judging import rejudge
from archlab.lab.plotlayout import hidden_by_legend
from archlab.lab.plots import drawn
from archlab.lab.result import VERDICTS

EXPERIMENTS = [e.id for e in registry.all_experiments()]


@pytest.mark.parametrize("experiment_id", EXPERIMENTS)
def test_quick_profile_yields_a_computed_verdict(experiment_id: str, tmp_path: Path) -> None:
    exp = registry.get(experiment_id)
    result = runner.run(exp, profile="quick", seed=1, scratch_root=tmp_path, catch=False)
    assert result.verdict in VERDICTS
    assert result.values, "the verdict must rest on stored measurements"
    # The stored verdict is exactly what the judge says of the stored values.
    again = rejudge(exp.judge, result.values)
    assert (again.verdict, again.reason) == (result.verdict, result.reason)
    assert [e.to_dict() for e in again.evidence] == result.evidence
    assert result.summary and (result.tables or result.figures)
    assert Result.from_dict(result.to_dict()) == result
    for figure in result.figures:  # as the report draws it: no legend over the data
        with drawn(figure) as (_fig, ax):
            legend = ax.get_legend()
            assert legend is None or hidden_by_legend(ax, legend) == [], figure.title
