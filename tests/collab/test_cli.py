"""``archlab collab``: replay checks endContent; bad traces are one line and exit 2."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from archlab.cli import main
from archlab.collab import traces


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["collab", *args])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_replay_of_a_packaged_trace_matches_its_end_content(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "replay", "sveltecomponent", "--json")
    row = json.loads(out)
    assert code == 0 and row["matches_end_content"] and row["chars"] == 18451


def test_replay_through_the_ot_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = traces.generated(300, seed=4)
    path = tmp_path / "t.json"
    txns = [{"patches": [list(p) for p in t]} for t in trace.txns]
    path.write_text(json.dumps({"startContent": "", "endContent": trace.end, "txns": txns}))
    code, out, _ = run(capsys, "replay", str(path), "--into", "ot")
    assert code == 0 and "matches endContent" in out


def test_a_wrong_end_content_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps(
            {"startContent": "", "endContent": "nope", "txns": [{"patches": [[0, 0, "yes"]]}]}
        )
    )
    code, out, _ = run(capsys, "replay", str(path))
    assert code == 1 and "DIFFERS" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not a (gzipped) JSON trace"),
        (json.dumps({"startContent": "", "txns": []}).encode(), "'endContent' is missing"),
        (
            json.dumps(
                {"startContent": "ab", "endContent": "", "txns": [{"patches": [[1, 5, ""]]}]}
            ).encode(),
            "txns[0].patches[0] edits 1..6 of a 2-character document",
        ),
        (
            json.dumps(
                {"startContent": "", "endContent": "", "txns": [{"patches": [[0, "x"]]}]}
            ).encode(),
            "txns[0].patches[0] is not [position, delete_count, text]",
        ),
        (gzip.compress(b'{"startContent": ""}', mtime=0)[:-6], "not a (gzipped) JSON trace"),
    ],
)
def test_bad_traces_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    code, _, err = run(capsys, "replay", str(path))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_sim_sweeps_and_names_failing_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sim", "--mode", "crdt", "--seeds", "0-3")
    assert code == 0 and "4/4 seeds converged" in out
    code, out, _ = run(capsys, "sim", "--mode", "ot", "--variant", "tie-broken", "--seeds", "0-9")
    assert code == 1 and "reproduce: archlab collab sim --mode ot --variant tie-broken" in out


def test_an_unknown_variant_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sim", "--mode", "crdt", "--variant", "tie-broken")
    assert code == 2 and "variant 'tie-broken' unknown" in err


@pytest.mark.parametrize("command", ["replay", "sim", "serve", "client"])
def test_every_collab_command_teaches_with_examples(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "Examples:" in out and f"archlab collab {command}" in out
