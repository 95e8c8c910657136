"""Invalid design files: one error naming the file, line, field path, expected and found."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.design.parse import load_design, parse_design
from archlab.design.schema import DesignSchemaError
from archlab.design.starter import starter_text
from archlab.design.yamlsource import Lines, loads
from archlab.errors import InputFormatError
from tests.design.designs import Data, db, drop, edited, put, requirement


def error_for(data: Data) -> str:
    with pytest.raises(InputFormatError) as caught:
        parse_design(data, Lines("d.yaml"))
    return str(caught.value)


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        (edited(db(engine="lsmm")), ["components.databases[0].engine",
                                     "expected one of btree, lsm", "found 'lsmm'"]),
        (edited(db(engnie="lsm")), ["components.databases[0].engnie", "unknown field",
                                    "did you mean 'engine'"]),
        (edited(db(shards=0)), ["components.databases[0].shards", "whole number ≥ 1",
                                "found the number 0"]),
        (edited(db(shards="4")), ["shards", "found '4'"]),
        (edited(db(mvcc="yes please")), ["mvcc", "expected true or false"]),
        (edited(db(bloom_filters=False)), ["bloom_filters", "LSM only"]),
        (edited(put("architecture.regions.dns_ttl", "5min")), [
            "architecture.regions.dns_ttl", "no dns_ttl unless failover is dns"]),
        (edited(put("components.services.0.identity", "trusted")), [
            "components.services[0].identity", "expected one of unspecified, mtls"]),
        (edited(put("components.model_servers", [{"name": "m", "batching": "dynamic"}])), [
            "components.model_servers[0].batching", "static, continuous"]),
        (edited(put("components.queues", [{"name": "q", "kind": "log", "delivery": "once"}])), [
            "components.queues[0].delivery", "exactly-once"]),
        (edited(requirement(read_size="1kb")), ["requirements.read_size", "bits", "found '1kb'"]),
        (edited(requirement(retention=365)), ["requirements.retention", "duration with a unit"]),
        (edited(requirement(availability=99.99)), ["requirements.availability",
                                                   "did you mean 99.99%"]),
        (edited(drop("requirements.dau")), ["requirements.dau", "daily active users",
                                            "found nothing"]),
        (edited(put("design.endpoints.0.priority", "urgent")), [
            "design.endpoints[0].priority", "scale.priority_classes", "found 'urgent'"]),
        (edited(put("design.endpoints.0.method", "FETCH")), ["method", "GET, HEAD"]),
        (edited(put("components.load_balancers.0.layer", 5)), ["layer", "4 or 7",
                                                               "found the number 5"]),
        (edited(put("architecture.regions", {"count": 1, "mode": "active-active"})), [
            "architecture.regions.mode", "mode single for 1 region"]),
        (edited(put("components.caches", [{"name": "c", "kind": "redis"},
                                          {"name": "c", "kind": "memcached"}])), [
            "components.caches[1].name", "not used before", "components.caches[0]"]),
        (edited(put("components.caches", {"name": "c"})), ["components.caches",
                                                           "a list of mappings", "a mapping"]),
        (edited(put("scale.tracing", {"sampling": "all", "rate": "5%"})), ["scale.tracing.rate",
                                                                           "no rate"]),
        (edited(put("estimation", {"qps_peak": "lots"})), ["estimation.qps_peak", "found 'lots'"]),
        (edited(put("estimation", {"qps": 5})), ["estimation.qps", "unknown field"]),
        (edited(put("scale.rate_limits.0.limit", None)), ["scale.rate_limits[0].limit",
                                                          "100/s"]),
        (edited(put("nmae", "x")), ["nmae", "did you mean 'name'"]),
        (["a", "list"], ["(top level)", "a mapping of fields", "found a list"]),
    ],
)  # fmt: skip
def test_errors_name_the_field_and_what_was_expected(data: Data, fragments: list[str]) -> None:
    message = error_for(data)
    assert message.startswith("d.yaml")
    assert "expected" in message
    for fragment in fragments:
        assert fragment in message, message


def test_schema_errors_carry_their_parts() -> None:
    with pytest.raises(DesignSchemaError) as caught:
        parse_design(edited(db(engine="lsmm")), Lines("d.yaml"))
    assert caught.value.field_path == "components.databases[0].engine"
    assert caught.value.expected == "one of btree, lsm"
    assert caught.value.found == "'lsmm'"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "design.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_errors_point_at_the_line(tmp_path: Path) -> None:
    text = starter_text("t", "t.yaml").replace("engine: btree", "engine: bree")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "engine: bree" in t)
    with pytest.raises(InputFormatError) as caught:
        load_design(_write(tmp_path, text))
    assert str(caught.value).startswith(f"{tmp_path / 'design.yaml'}:{line}: ")


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: a\nrequirements:\n  dau: 1M\n  dau: 2M\n")
    with pytest.raises(InputFormatError, match=r":4: requirements.dau: given twice \(first on "
                       r"line 3\)"):  # fmt: skip
        load_design(path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: [unclosed\n", "invalid YAML"),
        ("", "an empty file"),
        ("a: 1\n---\nb: 2\n", "invalid YAML"),
        ("name: x\n", "requirements"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(InputFormatError, match=fragment):
        load_design(_write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="no such file"):
        load_design(tmp_path / "nope.yaml")


def test_products_imply_engines() -> None:
    data = edited(db(engine=None, product="Cassandra", mvcc=None))
    design = parse_design(data, Lines("<t>"))
    (database,) = design.databases
    assert (database.engine, database.compaction, database.mvcc) == ("lsm", "tiered", False)
    data = edited(db(engine=None, product="postgres", mvcc=None))
    (database,) = parse_design(data, Lines("<t>")).databases
    assert (database.engine, database.mvcc, database.compaction) == ("btree", True, None)
    with pytest.raises(InputFormatError, match="engine"):
        parse_design(edited(db(engine=None, product="somedb")), Lines("<t>"))


def test_yaml_lines_are_indexed_per_field() -> None:
    data, lines = loads("a:\n  b: 1\n  c:\n    - d: 2\n")
    assert data == {"a": {"b": 1, "c": [{"d": 2}]}}
    assert lines.line(("a", "b")) == 2
    assert lines.line(("a", "c", 0, "d")) == 4
    assert lines.line(("a", "missing")) == 1
