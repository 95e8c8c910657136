"""``archlab design new``: a commented PEDALS starter holding every schema field, reviewed clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archlab.design.parse import SCHEMA, load_design
from archlab.design.review import review
from archlab.design.starter import starter_text, write_starter
from archlab.errors import ConfigError


def test_starter_mentions_every_schema_field_with_a_comment() -> None:
    text = starter_text("shop", "shop.yaml")
    keys = set(re.findall(r"^[\s#-]*([a-z_]+):", text, flags=re.M))
    keys |= set(re.findall(r"[{,]\s*([a-z_]+):", text))  # flow mappings in comments
    for section, fields in SCHEMA.items():
        if section == "estimation":
            continue  # the hand estimates are listed in a comment, not all as keys
        missing = set(fields) - keys
        assert not missing, f"{section or 'top level'}: {sorted(missing)} not in the starter"
    lines = text.splitlines()
    fields = {f for section, names in SCHEMA.items() if section != "estimation" for f in names}
    for field in fields:
        explained = [
            i for i, line in enumerate(lines)
            if re.search(rf"(^|[\s#{{,-]){field}:", line)
            and ("#" in line or lines[i - 1].startswith("#"))
        ]  # fmt: skip
        assert explained, f"{field} has no comment in the starter"


def test_starter_follows_pedals_order() -> None:
    text = starter_text("shop", "shop.yaml")
    order = ["requirements:", "estimation:", "design:", "architecture:", "components:", "scale:"]
    positions = [text.index(f"\n{key}") for key in order]
    assert positions == sorted(positions)
    for step in ("P: Process", "E: Estimation", "D: Design", "A: Architecture", "L: List",
                 "S: Scale"):  # fmt: skip
        assert step in text


def test_starter_is_valid_and_reviews_clean(tmp_path: Path) -> None:
    path = write_starter("shop", tmp_path / "shop.yaml")
    design = load_design(path)
    assert design.name == "shop"
    assert review(design).findings == ()


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="already exists; use --force"):
        write_starter("shop", path)
    assert path.read_text(encoding="utf-8") == "mine"
    write_starter("shop", path, force=True)
    assert path.read_text(encoding="utf-8").startswith("# shop:")


def test_default_path_and_bad_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert write_starter("chat") == Path("chat.yaml")
    assert write_starter("other.yaml") == Path("other.yaml")
    assert "name: other" in Path("other.yaml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="expected letters"):
        starter_text("bad name!", "x.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        write_starter("x", tmp_path / "missing" / "x.yaml")
