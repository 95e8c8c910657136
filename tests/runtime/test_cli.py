"""``archlab cluster``: the commands against a real cluster, and their one-line errors."""

from __future__ import annotations

import socket
from pathlib import Path

from archlab.runtime.cluster import ClusterSpec
from tests.conftest import run_cli


def _dir(spec: ClusterSpec) -> list[str]:
    return ["--dir", spec.directory]


def test_put_get_cas_and_status(cluster: ClusterSpec) -> None:
    assert run_cli(["cluster", "put", "cli-x", "1", *_dir(cluster)]).stdout == "cli-x = 1\n"
    assert run_cli(["cluster", "put", "cli-s", "two words", *_dir(cluster)]).exit_code == 0
    assert run_cli(["cluster", "get", "cli-s", *_dir(cluster)]).stdout == '"two words"\n'
    ok = run_cli(["cluster", "cas", "cli-x", "1", "true", *_dir(cluster)])
    assert (ok.exit_code, ok.stdout) == (0, "cli-x = true\n")
    missed = run_cli(["cluster", "cas", "cli-x", "1", "3", *_dir(cluster)])
    assert missed.exit_code == 1
    assert "cas failed: cli-x is true, not 1" in missed.stdout
    assert run_cli(["cluster", "get", "cli-missing", *_dir(cluster)]).stdout == "null\n"
    status = run_cli(["cluster", "status", *_dir(cluster)])
    assert status.exit_code == 0
    assert status.stdout.count(" up ") == 3
    assert status.stdout.count("leader") >= 2  # the column header and one node


def test_a_second_cluster_in_the_same_directory_is_refused(cluster: ClusterSpec) -> None:
    result = run_cli(["cluster", "up", "raft", *_dir(cluster)])
    assert result.exit_code == 2
    assert "already running" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_cluster_in_the_directory(tmp_path: Path) -> None:
    for args in (["get", "x"], ["status"], ["down"], ["put", "x", "1"]):
        result = run_cli(["cluster", *args, "--dir", str(tmp_path / "none")])
        assert result.exit_code == 2, args
        assert "no cluster in" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _busy_port_with_free_neighbours() -> socket.socket:
    """A listening socket whose port's neighbours are free (this machine is shared)."""
    for _ in range(50):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        if _bindable(port - 1) and _bindable(port + 1):
            busy.listen()
            return busy
        busy.close()
    raise AssertionError("found no port with free neighbours")


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    # The busy port is the cluster's second: the error must name it, not a neighbour.
    with _busy_port_with_free_neighbours() as busy:
        port = busy.getsockname()[1]
        result = run_cli(
            ["cluster", "up", "raft", "--dir", str(tmp_path), "--base-port", str(port - 1)]
        )
    assert result.exit_code == 2
    assert f"port {port}" in result.stderr and "in use" in result.stderr
    assert not (tmp_path / "cluster.json").exists()  # nothing was started or recorded


def test_every_subcommand_has_examples() -> None:
    for sub in ("up", "put", "get", "cas", "status", "kill", "start", "down"):
        result = run_cli(["cluster", sub, "--help"])
        assert result.exit_code == 0
        assert "Examples:" in result.stdout, sub
    assert "Examples:" in run_cli(["cluster", "--help"]).stdout


def test_a_failed_up_removes_the_directory_it_created(tmp_path: Path) -> None:
    target = tmp_path / "new" / "cluster"
    with _busy_port_with_free_neighbours() as busy:
        port = busy.getsockname()[1]
        result = run_cli(
            ["cluster", "up", "raft", "--dir", str(target), "--base-port", str(port - 1)]
        )
    assert result.exit_code == 2
    assert not (tmp_path / "new").exists()


def test_an_empty_key_is_refused(tmp_path: Path) -> None:
    for args in (["get", ""], ["put", "", "1"], ["cas", "", "1", "2"]):
        result = run_cli(["cluster", *args, "--dir", str(tmp_path)])
        assert result.exit_code == 2, args
        assert result.stderr.strip().splitlines() == [
            f"archlab: error: cluster {args[0]}: the key is empty; give a KEY such as x"
        ]


def test_a_running_node_and_a_lost_majority_are_named(tmp_path: Path) -> None:
    from archlab.runtime.cluster import kill_node, stop_cluster

    from .conftest import start_cluster

    spec = start_cluster(tmp_path / "c")
    try:
        node = spec.node(2)
        again = run_cli(["cluster", "start", "2", *_dir(spec)])
        assert again.exit_code == 2
        assert again.stderr.strip().splitlines() == [
            f"archlab: error: cluster start: node 2 is already running (pid {node.pid})"
        ]
        kill_node(spec, 2)
        kill_node(spec, 3)
        result = run_cli(["cluster", "get", "x", "--timeout", "1", *_dir(spec)])
        assert result.exit_code == 3  # unavailable, not bad input
        waiting, error = result.stderr.strip().splitlines()
        assert waiting.startswith("archlab: waiting for the cluster in")
        assert error.startswith("archlab: error: cluster get: ")
        assert "may or may not have taken effect" in error
    finally:
        stop_cluster(spec)


def test_the_default_cluster_directory_is_ignored_by_git() -> None:
    root = Path(__file__).resolve().parents[2]
    assert ".archlab-cluster/" in (root / ".gitignore").read_text().splitlines()
