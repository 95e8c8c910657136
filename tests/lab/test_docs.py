"""The README and the help texts name only claims that exist, and every claim is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from archlab.cli import cli
from archlab.lab.registry import all_experiments, discover

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RUN_MENTION = re.compile(r"archlab run ([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+)")


def registered() -> dict[str, str]:
    discover()
    return {exp.id: exp.section for exp in all_experiments()}


def measured_table() -> dict[str, str]:
    section = README.split("## What is measured", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([\d.]+) \| `([^`]+)` \|", section, flags=re.MULTILINE)
    return {exp_id: sec for sec, exp_id in rows}


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.lower())
    return kept.replace(" ", "-")


def test_every_claim_is_in_the_readme_table_under_its_section() -> None:
    assert measured_table() == registered()


def test_the_table_is_in_codex_order() -> None:
    sections = [tuple(int(p) for p in s.split(".")) for s in measured_table().values()]
    assert sections == sorted(sections)


@pytest.mark.parametrize("name", ["README.md", "BENCHMARKS.md"])
def test_documents_run_only_claims_that_exist(name: str) -> None:
    mentioned = set(RUN_MENTION.findall((ROOT / name).read_text(encoding="utf-8")))
    assert mentioned - set(registered()) == set()


def test_help_texts_run_only_claims_that_exist() -> None:
    runner = CliRunner()
    texts = [runner.invoke(cli, [*cmd, "--help"]).output for cmd in ([], ["compare"], ["run"])]
    mentioned = {m.removesuffix(".json") for t in texts for m in RUN_MENTION.findall(t)}
    mentioned |= set(re.findall(r"results/([a-z_.]+)\.json", texts[1]))
    assert mentioned, "the help texts are expected to show an example claim"
    assert mentioned - set(registered()) == set()


def test_readme_links_point_at_its_headings() -> None:
    anchors = {github_slug(h) for h in re.findall(r"^#+ (.+)$", README, flags=re.MULTILINE)}
    links = set(re.findall(r"\]\(#([^)]+)\)", README))
    assert links and links - anchors == set()


def test_readme_keeps_exactly_two_setup_commands() -> None:
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert [c for c in commands if c] == ["make report", "make test"]
