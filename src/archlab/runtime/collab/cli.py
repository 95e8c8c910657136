"""``archlab collab``: replay real editing traces, run the simulated sweep, serve and edit live.

Codex 5.4. ``replay`` checks a trace rebuilds its final text through the text CRDT (or the
OT server); ``sim`` sweeps seeds of editors under faults and checks convergence; ``serve`` and
``client`` run the protocols over WebSockets.
"""

from __future__ import annotations

import asyncio
import json
import time
import types
from dataclasses import replace

import click

from archlab.errors import ArchlabError, ConfigError


@click.group("collab")
def collab() -> None:
    """Collaborative editing: CRDTs and operational transformation (codex 5.4).

    \b
    Examples:
      archlab collab replay sveltecomponent
      archlab collab sim --mode ot --variant tie-broken --seeds 0-20
      archlab collab serve --mode crdt --port 8765
      archlab collab client ws://127.0.0.1:8765 --mode crdt --edits 50
    """


@collab.command("replay")
@click.argument("trace")
@click.option(
    "--into",
    type=click.Choice(["crdt", "ot"]),
    default="crdt",
    show_default=True,
    help="Replay into the text CRDT or through the OT server.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the replay's numbers.")
def replay_command(trace: str, into: str, as_json: bool) -> None:
    """Replay TRACE (a packaged trace's name or a file) and check the final text.

    TRACE is gzipped or plain JSON with startContent, endContent and txns of
    [position, delete_count, text] patches. The packaged traces are sveltecomponent and
    rustcode (Joseph Gentle's editing-traces, CC BY 4.0). Exits 1 if the replayed text
    differs from endContent, 2 on a malformed trace.

    \b
    Examples:
      archlab collab replay sveltecomponent
      archlab collab replay rustcode --into ot --json
      archlab collab replay my-trace.json.gz
    """
    from archlab.collab import traces
    from archlab.collab.crdt import codec

    loaded = traces.load(trace)
    started = time.perf_counter()
    extra: dict[str, object] = {}
    if into == "crdt":
        doc = traces.replay_into_crdt(loaded)
        text = doc.text
        extra = {
            "runs": doc.run_count,
            "tombstones": doc.tombstones,
            "snapshot_bytes": len(codec.snapshot(doc)),
        }
    else:
        from archlab.collab.ot import ops
        from archlab.collab.ot.jupiter import OTServer, Submit

        server = OTServer(loaded.start)
        for pos, dels, ins in loaded.each_patch():
            server.receive(
                Submit("trace", server.revision, ops.edit(len(server.doc), pos, dels, ins))
            )
        text = server.doc
        extra = {"revisions": server.revision}
    seconds = time.perf_counter() - started
    ok = text == loaded.end
    row = {
        "trace": loaded.name,
        "into": into,
        "patches": loaded.patches,
        "chars": len(text),
        "seconds": round(seconds, 3),
        "matches_end_content": ok,
        **extra,
    }
    if as_json:
        click.echo(json.dumps(row))
    else:
        verdict = "matches endContent" if ok else "DIFFERS from endContent"
        click.echo(
            f"{loaded.name}: {loaded.patches:,} patches into the {into} in {seconds:.2f} s; "
            f"final text ({len(text):,} chars) {verdict}"
        )
        if loaded.name in traces.PACKAGED:
            click.echo(traces.ATTRIBUTION)
    if not ok:
        raise SystemExit(1)


@collab.command("sim")
@click.option("--mode", type=click.Choice(["crdt", "ot"]), default="crdt", show_default=True)
@click.option(
    "--variant",
    default="correct",
    show_default=True,
    help="correct; ot: tie-broken; crdt: non-idempotent.",
)
@click.option("--seeds", default="0-19", show_default=True, help="A seed or a range A-B.")
@click.option("--editors", type=click.IntRange(2, 64), default=4, show_default=True)
@click.option("--loss", type=click.FloatRange(0, 0.5), default=0.05, show_default=True)
@click.option(
    "--offline",
    "offline_periods",
    type=click.IntRange(0, 100),
    default=2,
    show_default=True,
    help="Offline periods per run.",
)
def sim_command(
    mode: str, variant: str, seeds: str, editors: int, loss: float, offline_periods: int
) -> None:
    """Sweep seeds of editors typing through the faulty simulated network; check convergence.

    Every run: editors type for 4 s of virtual time through links with loss, duplication and
    reordering, some go offline for a second; then the network heals and the checker asserts
    every replica holds the same text (OT: equal to the server and synchronized) and the
    edit counter equals the edits made. Exits 1 if any seed fails, printing its command.

    \b
    Examples:
      archlab collab sim --mode crdt --seeds 0-99
      archlab collab sim --mode ot --variant tie-broken --seeds 0-20
    """
    from archlab.collab import simulate
    from archlab.lab.progress import for_terminal

    seed_list = _parse_seeds(seeds)
    cfg = simulate.CollabConfig(
        mode=mode,  # type: ignore[arg-type]
        variant=variant,
        replicas=editors,
        loss=loss,
        offline_periods=offline_periods,
    )
    failed = 0
    with for_terminal() as progress, progress.task(f"{mode} {variant}", len(seed_list)) as task:
        for seed in seed_list:
            problems = simulate.check(simulate.run(replace(cfg, seed=seed)))
            task.advance()
            if problems:
                failed += 1
                command = (
                    f"archlab collab sim --mode {mode} --variant {variant} --seeds {seed} "
                    f"--editors {editors} --loss {loss} --offline {offline_periods}"
                )
                click.echo(f"seed {seed}: FAIL {'; '.join(problems)}  reproduce: {command}")
    click.echo(f"{mode} ({variant}): {len(seed_list) - failed}/{len(seed_list)} seeds converged")
    if failed:
        raise SystemExit(1)


def _net() -> types.ModuleType:
    try:
        from archlab.runtime.collab import net
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"live editing needs the {exc.name!r} package: pip install websockets"
        ) from None
    return net


def _parse_seeds(text: str) -> list[int]:
    try:
        if "-" in text:
            a, b = (int(x) for x in text.split("-", 1))
            if b < a:
                raise ValueError
            return list(range(a, b + 1))
        return [int(text)]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give a seed or a range A-B with A <= B") from None


@collab.command("serve")
@click.option("--mode", type=click.Choice(["ot", "crdt"]), default="ot", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
def serve_command(mode: str, host: str, port: int) -> None:
    """Run a collaborative-editing WebSocket server until interrupted.

    OT: the central Jupiter server that orders and transforms every edit. CRDT: a relay peer
    that integrates and forwards updates (peers can also connect to each other directly).

    \b
    Examples:
      archlab collab serve --mode ot --port 8765
      archlab collab serve --mode crdt --port 8766
    """
    net = _net()
    try:
        asyncio.run(net.run_server(mode, host, port))
    except OSError as exc:
        raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


@collab.command("client")
@click.argument("url")
@click.option("--mode", type=click.Choice(["ot", "crdt"]), default="ot", show_default=True)
@click.option(
    "--replica",
    type=click.IntRange(1, 2**31),
    default=None,
    help="CRDT replica id (default: from the process id).",
)
@click.option(
    "--edits", type=click.IntRange(0), default=0, show_default=True, help="Random edits to make."
)
@click.option(
    "--interval",
    type=click.FloatRange(0.0),
    default=0.05,
    show_default=True,
    help="Seconds between edits.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--type", "typed", multiple=True, help="Text to append (repeatable), e.g. from a terminal."
)
@click.option(
    "--replay",
    "trace",
    default=None,
    help="Type a trace's patches, one edit each, on an empty document.",
)
@click.option("--wait-stdin", is_flag=True, help="After editing, keep syncing until stdin closes.")
@click.option(
    "--linger",
    type=click.FloatRange(0.0),
    default=1.0,
    show_default=True,
    help="Seconds to keep syncing before printing the result.",
)
@click.option(
    "--listen",
    type=click.IntRange(1, 65535),
    default=None,
    help="CRDT: also accept peers directly on this port.",
)
def client_command(
    url: str,
    mode: str,
    replica: int | None,
    edits: int,
    interval: float,
    seed: int,
    typed: tuple[str, ...],
    trace: str | None,
    wait_stdin: bool,
    linger: float,
    listen: int | None,
) -> None:
    """Edit a shared document at URL; print status lines, then the final text as JSON.

    \b
    Examples:
      archlab collab client ws://127.0.0.1:8765 --type "hello " --type "world"
      archlab collab client ws://127.0.0.1:8766 --mode crdt --edits 100 --seed 3
      archlab collab client ws://127.0.0.1:8766 --mode crdt --listen 9001
    """
    import os

    if not url.startswith(("ws://", "wss://")):
        raise ConfigError(f"client URL {url!r}: give a ws:// or wss:// address")
    net = _net()
    lines = list(typed)
    patches: list[tuple[int, int, str]] = []
    if trace is not None:
        from archlab.collab import traces

        loaded = traces.load(trace)
        if loaded.start:
            lines.insert(0, loaded.start)
        patches = list(loaded.each_patch())
    plan = net.ClientPlan(
        url=url,
        mode=mode,
        replica=replica or (os.getpid() % 2**31) or 1,
        edits=edits,
        interval=interval,
        seed=seed,
        wait_stdin=wait_stdin,
        linger=linger,
        listen=listen,
        lines=lines,
        patches=patches,
    )
    try:
        result = asyncio.run(net.run_client(plan))
    except (ConnectionError, TimeoutError) as exc:
        raise ArchlabError(f"{url}: {exc}") from None
    click.echo(json.dumps(result))
