"""The registry: ids, sections, profiles, discovery and parameter overrides."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from archlab.errors import ConfigError, UnknownNameError
from archlab.lab import Context, Outcome, holds, registry
from archlab.lab.registry import PROFILES, experiment


def _judge(values: object) -> object:
    return holds("fine")


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    fresh: dict[str, object] = {}
    monkeypatch.setattr(registry, "_REGISTRY", fresh)
    monkeypatch.setattr(registry, "discover", lambda: None)
    yield fresh


def _register(exp_id: str = "demo.thing", section: str = "4.2", **profiles: dict[str, object]):
    return experiment(
        id=exp_id,
        section=section,
        title="t",
        claim="c  spread\n over lines",
        method="m",
        judge=_judge,  # type: ignore[arg-type]
        profiles=profiles
        or {
            "quick": {"n": 1, "rate": 0.5, "on": True, "sizes": [1, 2]},
            "full": {"n": 10, "rate": 0.5, "on": True, "sizes": [1, 2]},
        },
    )


def run_nothing(ctx: Context) -> Outcome:
    return Outcome({"x": 1}, "x=1")


def test_discovery_finds_the_chapter_experiments() -> None:
    ids = [e.id for e in registry.all_experiments()]
    assert "streaming.sequential_io" in ids
    assert "streaming.zero_copy" in ids
    assert len(ids) == len(set(ids))


def test_experiments_come_in_codex_order(scratch_registry: dict[str, object]) -> None:
    for exp_id, section in [
        ("a.late", "10.1"),
        ("b.early", "2.2"),
        ("c.mid", "4.10"),
        ("d.mid", "4.2"),
    ]:
        _register(exp_id, section)(run_nothing)
    assert [e.section for e in registry.all_experiments()] == ["2.2", "4.2", "4.10", "10.1"]


def test_claims_are_normalised_to_one_line(scratch_registry: dict[str, object]) -> None:
    _register()(run_nothing)
    assert registry.get("demo.thing").claim == "c spread over lines"


@pytest.mark.parametrize("bad_id", ["nodot", "Upper.case", "a..b", "1a.b", "a.b-c"])
def test_malformed_ids_are_rejected(bad_id: str) -> None:
    with pytest.raises(ValueError, match="chapter.name"):
        _register(bad_id)


def test_malformed_section_is_rejected() -> None:
    with pytest.raises(ValueError, match="section"):
        _register("a.b", "four")


def test_both_profiles_are_required() -> None:
    with pytest.raises(ValueError, match="full"):
        _register(quick={"n": 1})


def test_registering_a_different_function_under_a_used_id_fails(
    scratch_registry: dict[str, object],
) -> None:
    _register()(run_nothing)

    def other(ctx: Context) -> Outcome:
        return Outcome({}, "")

    with pytest.raises(ValueError, match="twice"):
        _register()(other)


def test_unknown_id_suggests_close_names(scratch_registry: dict[str, object]) -> None:
    _register("storage.compaction")(run_nothing)
    with pytest.raises(UnknownNameError, match="did you mean 'storage.compaction'"):
        registry.get("storage.compactoin")


def test_overrides_take_the_type_of_the_default(scratch_registry: dict[str, object]) -> None:
    _register()(run_nothing)
    exp = registry.get("demo.thing")
    params = exp.params("quick", {"n": "7", "rate": "0.25", "on": "no", "sizes": "3,4"})
    assert params == {"n": 7, "rate": 0.25, "on": False, "sizes": [3, 4]}
    assert exp.params("full")["n"] == 10


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nope": "1"}, "has no parameter 'nope'"),
        ({"n": "many"}, "expects int"),
        ({"on": "maybe"}, "expects bool"),
    ],
)
def test_bad_overrides_name_the_parameter(
    scratch_registry: dict[str, object],
    overrides: dict[str, str],
    message: str,
) -> None:
    _register()(run_nothing)
    with pytest.raises(ConfigError, match=message):
        registry.get("demo.thing").params("quick", overrides)


def test_every_registered_experiment_is_well_formed() -> None:
    for exp in registry.all_experiments():
        assert set(PROFILES) <= set(exp.profiles), exp.id
        assert exp.claim and exp.method and exp.title, exp.id
        assert exp.id.split(".")[0].isidentifier()


def test_overrides_outside_the_default_range_are_refused(
    scratch_registry: dict[str, object],
) -> None:
    _register()(run_nothing)
    exp = registry.get("demo.thing")
    with pytest.raises(ConfigError, match=r"--set n=-5: parameter n of demo.thing must be ≥ 1"):
        exp.params("quick", {"n": "-5"})
    with pytest.raises(ConfigError, match="must be > 0, got 0"):
        exp.params("quick", {"rate": "0"})
    with pytest.raises(ConfigError, match="got inf"):
        exp.params("quick", {"rate": "inf"})
    with pytest.raises(ConfigError, match="sizes=1,0: .* got 0"):
        exp.params("quick", {"sizes": "1,0"})
    assert exp.params("quick", {"n": "1", "rate": "0.01", "sizes": "3"})["sizes"] == [3]


def test_a_profile_value_of_zero_or_less_lowers_the_default_range() -> None:
    from archlab.lab.params import ParamRange, default_range

    assert default_range([0, 5]) == ParamRange(0)
    assert default_range([[0.0, 50.0]]) == ParamRange(0)
    assert default_range([[-2.0, 1.0]]) == ParamRange(-2)
    assert default_range([4, 8]) == ParamRange(1)
    assert default_range([0.5, 2.0]) == ParamRange(0, low_open=True)
    assert default_range(["3,5,7"]) == ParamRange()
    assert str(ParamRange(0, low_open=True)) == "> 0"
    assert str(ParamRange(0, 1, low_open=True)) == "> 0 and ≤ 1"
    assert str(ParamRange(8, 32)) == "between 8 and 32"


def test_declared_ranges_are_checked(scratch_registry: dict[str, object]) -> None:
    experiment(
        id="demo.bits",
        section="4.3",
        title="t",
        claim="c",
        method="m",
        judge=_judge,  # type: ignore[arg-type]
        profiles={"quick": {"bits": 14}, "full": {"bits": 18}},
        ranges={"bits": (8, 32)},
    )(run_nothing)
    exp = registry.get("demo.bits")
    with pytest.raises(ConfigError, match="bits must be between 8 and 32, got 40"):
        exp.params("quick", {"bits": "40"})
    assert exp.params("quick", {"bits": "32"}) == {"bits": 32}
    with pytest.raises(ValueError, match="ranges name no parameter: nope"):
        experiment(
            id="demo.other",
            section="4.3",
            title="t",
            claim="c",
            method="m",
            judge=_judge,  # type: ignore[arg-type]
            profiles={"quick": {"bits": 14}, "full": {"bits": 18}},
            ranges={"nope": (1, None)},
        )


def test_every_experiment_judges_a_typed_measurement_by_a_stated_rule() -> None:
    import dataclasses

    from archlab.lab.judging import measurement_type

    for exp in registry.all_experiments():
        kind = measurement_type(exp.judge)
        assert dataclasses.is_dataclass(kind), f"{exp.id}: its judge reads {kind}, not a dataclass"
        assert kind.__dataclass_params__.frozen, f"{exp.id}: {kind.__name__} is not frozen"  # type: ignore[attr-defined]
        assert exp.rule, f"{exp.id}: no rule= text saying what the judge compares"
