"""``archlab serve`` (the dashboard) and ``archlab live`` (a live run replayed in a terminal)."""

from __future__ import annotations

import json
import threading
import webbrowser
from pathlib import Path

import click

from archlab.errors import ArchlabError
from archlab.web.live import PROTOCOLS, LiveCluster, LiveSpec, decode_actions


def _need_web() -> None:
    try:
        import starlette  # noqa: F401
    except ImportError:
        raise ArchlabError("the dashboard needs Starlette: pip install 'archlab[web]'") from None


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser.")
@click.option(
    "--results",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="The results directory the CLI writes (runs started here are saved there too).",
)
@click.option(
    "--cluster",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".archlab-cluster"),
    show_default=True,
    help="The real cluster (archlab cluster up --dir DIR) the Real cluster page shows.",
)
def serve(port: int, host: str, open_browser: bool, results: Path, cluster: Path) -> None:
    """Serve the dashboard: claims with their verdicts, runs, and a live cluster.

    \b
    Examples:
      archlab serve
      archlab serve --port 9000 --open
      archlab serve --results other-results/
      archlab cluster up && archlab serve --cluster .archlab-cluster
    """
    _need_web()
    import uvicorn

    from archlab.lab.cli import scratch_root
    from archlab.web.app import create_app

    app = create_app(results, scratch_root(), cluster)
    url = f"http://{host}:{port}/"
    click.echo(f"archlab dashboard: {url} (Ctrl-C stops it)", err=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")


@click.command("live")
@click.argument("protocol", type=click.Choice(PROTOCOLS))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--nodes", type=click.IntRange(1, 7), default=3, show_default=True)
@click.option(
    "--actions",
    default="",
    metavar="STEP:KIND[:ARG]...",
    help="Comma-separated actions, e.g. 40:isolate:n0,90:heal,95:write:k0:3.",
)
@click.option("--step", type=click.IntRange(0, None), default=500, show_default=True)
@click.option("--check", "check_it", is_flag=True, help="Check the history's linearizability.")
@click.option(
    "--timeline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the checker's timeline of the history (HTML) here; implies --check.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole state as JSON.")
def live(
    protocol: str,
    seed: int,
    nodes: int,
    actions: str,
    step: int,
    check_it: bool,
    timeline: Path | None,
    as_json: bool,
) -> None:
    """Replay a live cluster run of the dashboard to a step and print its state.

    The dashboard's "copy the command" button gives this command: same seed, same actions,
    same state (the simulation is deterministic).

    \b
    Examples:
      archlab live raft --seed 1 --step 300
      archlab live raft --seed 1 --actions 150:write:k0:3,200:isolate:n0,400:heal --step 600 --check
      archlab live zab --seed 2 --actions 200:write:k1:1,210:crash:n0 --step 500 --timeline t.html
    """
    run = LiveCluster.start(LiveSpec(protocol, seed, nodes), decode_actions(actions), step)
    state = run.snapshot()
    outcome = run.check() if check_it or timeline is not None else None
    if timeline is not None and outcome is not None:
        try:
            timeline.write_text(outcome["timeline"], encoding="utf-8")
        except OSError as exc:
            raise ArchlabError(f"--timeline {timeline}: {exc.strerror}") from None
    if as_json:
        if outcome is not None:
            state["check"] = {"valid": outcome["valid"], "summary": outcome["summary"]}
        click.echo(json.dumps(state, indent=2))
        return
    click.echo(
        f"{protocol} seed {seed}: step {state['step']}, t={state['time']:.3f} s, "
        f"leader {state['leader'] or 'none'}"
    )
    for node in state["nodes"]:
        role = node["role"] if node["status"] == "up" else node["status"]
        click.echo(
            f"  {node['address']}: {role}, term {node['term']}, commit {node['commit']}, "
            f"last {node['last']}"
        )
    for event in state["history"]:
        click.echo(
            f"  p{event['process']} {event['type']} {event['f']} {event['key']} "
            f"{json.dumps(event['value'])} at {event['time']}"
        )
    if outcome is not None:
        click.echo(outcome["summary"])
        if outcome["valid"] is False:
            raise SystemExit(1)
