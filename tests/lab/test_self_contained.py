"""The repository stands on its own: nothing it ships points at files outside it.

A clone has no ``../shared``; a reader of the report or the README must be able to follow every
reference. Published sources are cited in ``docs/references.md`` and linked by their address.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Names of files that live outside the repository (the steering documents).
OUTSIDE = re.compile(r"\.\./shared|\b(?:REFERENCES|ARCHITECTURE)\.md\b|\bCODEX\.txt\b")
SHIPPED = ("src", "tests", "docs", "scripts", "README.md", "BENCHMARKS.md", "Makefile",
           "pyproject.toml", ".ci")  # fmt: skip


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", *SHIPPED], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    me = Path(__file__).resolve()
    return [ROOT / p for p in out.splitlines() if (ROOT / p).resolve() != me]


def test_no_shipped_file_cites_a_path_outside_the_repository() -> None:
    offenders = []
    for path in _tracked():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:90]}")
    assert not offenders, "references outside the repository:\n" + "\n".join(offenders)


def test_every_relative_link_in_the_docs_resolves_inside_the_repository() -> None:
    link = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")
    broken = []
    for doc in [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in link.findall(doc.read_text(encoding="utf-8")):
            resolved = (doc.parent / target.split("#", 1)[0]).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{doc.name}: {target}")
    assert not broken, "links that lead nowhere in a clone:\n" + "\n".join(broken)
