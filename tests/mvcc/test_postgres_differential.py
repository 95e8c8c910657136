"""archlab's MVCC engine against a real PostgreSQL: the anomaly schedules cell by cell, bloat
and freezing side by side, and engines broken on purpose that the comparison must catch.

These tests start a private server (``initdb`` in a temporary directory, a free loopback
port). ``make test`` installs the Debian package ``postgresql``; where no server can be
started they skip with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.experiments.bloat import judge_bloat
from archlab.storage.mvcc.experiments.freezing import judge_freezing
from archlab.storage.mvcc.experiments.isolation import judge_isolation
from archlab.storage.mvcc.postgres import beside, server as pg_server
from archlab.storage.mvcc.postgres.beside import PostgresBloat, PostgresFreezing, PostgresIsolation
from archlab.storage.mvcc.postgres.compare import compare
from archlab.storage.mvcc.postgres.play import ArchlabBackend, play
from archlab.storage.mvcc.postgres.schedules import (
    LOCKING_READ,
    LOST_UPDATE,
    SCHEDULES,
    WRITE_SKEW,
    Schedule,
)
from archlab.storage.mvcc.postgres.server import PostgresServer, PostgresUnavailable
from archlab.storage.mvcc.postgres.sidebyside import bloat_side_by_side, freezing_side_by_side
from archlab.storage.mvcc.transaction import Isolation
from tests.conftest import run_cli

from .broken import IgnoresInProgressList, NoFirstUpdaterWins, SerializableWithoutSsi
from .test_experiment_judges import BLOAT, FREEZING, ISOLATION

pytestmark = pytest.mark.postgres

RC, RR, SER = Isolation.READ_COMMITTED, Isolation.REPEATABLE_READ, Isolation.SERIALIZABLE

#: What PostgreSQL's documentation says each level lets through (Transaction Isolation,
#: docs/references.md §4.1–4.3): the differential must also agree with it.
DOCUMENTED = {
    "dirty-read": (False, False, False),
    "non-repeatable-read": (True, False, False),
    "lost-update": (True, False, False),
    "write-skew": (True, True, False),
    "read-only-anomaly": (True, True, False),
    "phantom": (True, False, False),
    "predicate-write-skew": (True, True, False),
    "locking-read": (False, False, False),
    "disjoint-writes": (False, False, False),
}


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as reason:
        pytest.skip(f"no PostgreSQL server here: {reason}")
    try:
        yield server
    finally:
        server.stop()


# -- the schedules, without a server ---------------------------------------------------------------


def test_the_schedules_cover_every_anomaly_the_documentation_lists() -> None:
    assert {s.name for s in SCHEDULES} == set(DOCUMENTED)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.name)
def test_archlab_lets_through_what_postgresql_documents(schedule: Schedule) -> None:
    backend = ArchlabBackend()
    seen = tuple(schedule.anomaly(play(schedule, level, backend)) for level in (RC, RR, SER))
    assert seen == DOCUMENTED[schedule.name]


def test_a_blocked_statement_waits_and_its_later_steps_queue_behind_it() -> None:
    outcome = play(LOST_UPDATE, RC, ArchlabBackend())
    # T2's write waited for T1; once T1 committed it ran, then T2 committed: x = 1, one lost
    assert outcome.committed == {"T1", "T2"} and outcome.final == {"x": 1}
    assert not outcome.stuck


# -- the differential ------------------------------------------------------------------------------


def test_every_cell_matches_postgresql(postgres: PostgresServer) -> None:
    cells = compare(postgres)
    assert len(cells) == len(SCHEDULES) * 3
    assert [c.differences() for c in cells if not c.matches] == []
    for cell in cells:
        level = (RC, RR, SER).index(cell.level)
        assert cell.postgres_anomaly == DOCUMENTED[cell.schedule.name][level], cell.schedule.name
    assert sum(s == "40001" for c in cells for s in c.postgres.failed.values()) >= 5


@pytest.mark.parametrize(
    ("broken", "schedule", "level", "anomaly_differs"),
    [
        (NoFirstUpdaterWins, LOST_UPDATE, RR, True),
        (SerializableWithoutSsi, WRITE_SKEW, SER, True),
        # the anomaly predicate agrees here; only the whole outcome shows the bug (T2 read the
        # row a transaction still running at its snapshot wrote, where PostgreSQL raised 40001)
        (IgnoresInProgressList, LOCKING_READ, RR, False),
    ],
    ids=["no-first-updater-wins", "serializable-without-ssi", "ignores-in-progress-list"],
)
def test_the_differential_catches_a_broken_engine(
    postgres: PostgresServer,
    broken: type[Engine],
    schedule: Schedule,
    level: Isolation,
    anomaly_differs: bool,
) -> None:
    cells = compare(postgres, engine_factory=broken)
    bad = {(c.schedule.name, c.level) for c in cells if not c.matches}
    assert (schedule.name, level) in bad
    caught = next(c for c in cells if (c.schedule.name, c.level) == (schedule.name, level))
    assert caught.differences()
    assert (caught.archlab_anomaly != caught.postgres_anomaly) is anomaly_differs


def test_bloat_side_by_side_counts_the_same_dead_tuples(postgres: PostgresServer) -> None:
    side = bloat_side_by_side(postgres, rows=200, updates=300, seed=3)
    assert side.held.archlab_dead == side.held.postgres_dead == 300
    assert side.released.archlab_dead == side.released.postgres_dead == 0
    assert side.no_snapshot.postgres_dead == side.no_snapshot.archlab_dead == 0
    assert side.held.postgres_pages > side.loaded.postgres_pages


def test_freezing_side_by_side_ages_agree(postgres: PostgresServer) -> None:
    side = freezing_side_by_side(postgres, rows=100, xids=300)
    for ages in (side.consumed, side.vacuumed, side.frozen, side.frozen_while_held):
        assert abs(ages.postgres - ages.archlab) <= 5
    assert side.consumed.postgres >= 300 and side.frozen.postgres <= 5
    assert side.frozen_while_held.postgres >= 300


def test_the_cli_prints_every_cell_and_exits_zero_when_all_match(postgres: PostgresServer) -> None:
    result = run_cli(["mvcc", "compare-postgres", "--schedule", "write-skew", "--json"])
    assert result.exit_code == 0, result.stderr
    assert '"matches": true' in result.stdout and '"matches": false' not in result.stdout
    assert "T2 40001" in result.stdout


def test_the_cli_names_an_unknown_schedule_and_exits_2() -> None:
    result = run_cli(["mvcc", "compare-postgres", "--schedule", "dirty-write"])
    assert result.exit_code == 2
    assert "unknown schedule 'dirty-write'" in result.stderr


# -- without a server ------------------------------------------------------------------------------


def test_no_server_gives_a_reason_and_the_experiments_say_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pg_server.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(pg_server.shutil, "which", lambda name: None)
    with pytest.raises(PostgresUnavailable, match="apt-get install postgresql"):
        pg_server.find_binaries()
    summary, table = beside.isolation_beside()
    assert not summary.available and "no PostgreSQL server is installed" in summary.reason
    assert "not measured" in str(table.rows[0][0])
    judgement = judge_isolation(replace(ISOLATION, postgres=summary))
    assert judgement.verdict == "holds"
    assert "PostgreSQL was not measured (no PostgreSQL server" in judgement.reason


# -- the judges with PostgreSQL's numbers ----------------------------------------------------------


def test_isolation_is_nuanced_when_a_cell_differs_from_postgresql() -> None:
    same = PostgresIsolation(True, "PostgreSQL 15", 27, 0, 0, 9)
    assert judge_isolation(replace(ISOLATION, postgres=same)).verdict == "holds"
    differs = replace(same, mismatched_cells=1, anomaly_disagreements=1)
    judgement = judge_isolation(replace(ISOLATION, postgres=differs))
    assert judgement.verdict == "nuanced"
    assert "does not behave as PostgreSQL does" in judgement.reason


def test_bloat_is_refuted_when_postgresql_itself_does_not_pile_up() -> None:
    piled = PostgresBloat(True, "PostgreSQL 15", 1000, 1000, 1000, 0, 0)
    assert judge_bloat(replace(BLOAT, postgres=piled)).verdict == "holds"
    judgement = judge_bloat(replace(BLOAT, postgres=replace(piled, held_postgres_dead=120)))
    assert judgement.verdict == "refuted"
    assert "did not hold cleanup back" in judgement.reason


def test_freezing_judges_postgresql_ages() -> None:
    agrees = PostgresFreezing(True, "PostgreSQL 15", 1000, 3, 0, 1000)
    assert judge_freezing(replace(FREEZING, postgres=agrees)).verdict == "holds"
    drifted = judge_freezing(replace(FREEZING, postgres=replace(agrees, largest_age_difference=80)))
    assert drifted.verdict == "nuanced"
    froze_past = replace(agrees, frozen_while_held_age_postgres=2)
    assert judge_freezing(replace(FREEZING, postgres=froze_past)).verdict == "refuted"
