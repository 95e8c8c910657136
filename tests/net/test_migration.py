"""Connection migration on the virtual-clock link, and the judge of net.connection_migration."""

from __future__ import annotations

import dataclasses

from archlab.lab.judging import flatten, rejudge
from archlab.net.experiments import (
    MigrationMeasurement,
    MigrationPoint,
    judge_connection_migration,
)
from archlab.net.migration import download_with_address_change


def test_quic_survives_the_address_change_and_tcp_needs_a_reconnect() -> None:
    quic = download_with_address_change("quic", total=256 * 1024)
    assert quic.completed and quic.reconnects == 0 and quic.stall_ms > 0
    broken = download_with_address_change(
        "tcp", total=256 * 1024, reconnect=False, give_up_after=5.0
    )
    assert not broken.completed and broken.refused_datagrams >= 1
    tcp = download_with_address_change("tcp", total=256 * 1024)
    assert tcp.completed and tcp.reconnects == 1
    assert quic.stall_ms < tcp.stall_ms


#: The quick profile's measurement.
MEASURED = MigrationMeasurement(
    quic_completed=True,
    quic_reconnects=0,
    tcp_completed_without_reconnect=False,
    tcp_refused_datagrams=1,
    points=[
        MigrationPoint(10.0, 22.6, 31.9, 483.0, 500.0),
        MigrationPoint(40.0, 82.6, 121.9, 685.0, 814.0),
        MigrationPoint(100.0, 201.5, 301.9, 1184.0, 1633.0),
    ],
    worst_stall_ratio=0.708,
)


def test_measured_holds_and_round_trips() -> None:
    judgement = judge_connection_migration(MEASURED)
    assert judgement.verdict == "holds"
    assert rejudge(judge_connection_migration, flatten(MEASURED)) == judgement


def test_survival_with_an_equally_long_stall_is_nuanced() -> None:
    m = dataclasses.replace(MEASURED, worst_stall_ratio=0.97)
    assert judge_connection_migration(m).verdict == "nuanced"


def test_quic_needing_a_reconnect_is_refuted() -> None:
    assert (
        judge_connection_migration(dataclasses.replace(MEASURED, quic_reconnects=1)).verdict
        == "refuted"
    )
    assert (
        judge_connection_migration(
            dataclasses.replace(MEASURED, tcp_completed_without_reconnect=True)
        ).verdict
        == "refuted"
    )
