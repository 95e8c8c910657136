"""``archlab case``: start the chapter 10 case-study systems (codex 10.1-10.5).

Each case is a subgroup; its command imports the case's code only when it runs.
"""

from __future__ import annotations

import asyncio

import click

from archlab.errors import ConfigError


@click.group("case")
def case() -> None:
    """Run the codex's case studies (chapter 10) as small real systems.

    \b
    Examples:
      archlab case whatsapp serve --port 5222
      archlab case discord serve --instances 3
      archlab case haystack serve --dir /tmp/haystack --port 8080
      archlab case open-connect simulate --cache-share 0.3 --noise 0.5
      archlab case ringpop serve --nodes 5 --duration 10
    """


@case.group("whatsapp")
def whatsapp() -> None:
    """WhatsApp (10.1): an actor per connection under a supervisor, offline messages durable."""


@whatsapp.command("serve")
@click.option("--dir", "directory", required=True, help="Directory of the message store.")
@click.option("--port", default=5222, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--intensity",
    default=20,
    show_default=True,
    help="Restarts allowed within --period before the supervisor gives up.",
)
@click.option("--period", default=5.0, show_default=True, help="Seconds (see --intensity).")
def whatsapp_serve(directory: str, port: int, intensity: int, period: float) -> None:
    """Serve the chat protocol: length-prefixed JSON frames, one actor per connection.

    Frames: {"t":"login","user":"alice"}, {"t":"send","to":"bob","id":1,"payload":"<base64>"},
    {"t":"ack","seq":N}. Messages for users who are not connected wait, durable, in the LSM
    and arrive in order when they log in; each one triggers a push tickle (printed).

    \b
    Examples:
      archlab case whatsapp serve --dir /tmp/chat --port 5222
    """
    if not 0 < port < 65536 or intensity < 0 or period <= 0:
        raise ConfigError("--port must be 1-65535, --intensity >= 0 and --period > 0")
    from pathlib import Path

    from archlab.cases.whatsapp.server import ChatServer

    async def serve() -> None:
        server = ChatServer(
            Path(directory),
            intensity,
            period,
            on_tickle=lambda user: click.echo(f"push tickle -> {user}"),
        )
        await server.start(port)
        click.echo(f"chat server on 127.0.0.1:{server.port}, messages in {directory}")
        try:
            while server.supervisor.failed is None:
                await asyncio.sleep(1.0)
            click.echo(f"the supervisor gave up: {server.supervisor.failed}")
        finally:
            await server.stop()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot serve on 127.0.0.1:{port}: {exc}") from None


@case.group("discord")
def discord() -> None:
    """Discord (10.2): data services that coalesce reads of hot channels."""


@discord.command("serve")
@click.option("--instances", default=3, show_default=True, help="Data-service instances.")
@click.option("--base-port", default=0, help="First port (0: any free ports).")
@click.option("--read-ms", default=5.0, show_default=True, help="Cost of one store read (ms).")
@click.option("--no-coalesce", is_flag=True, help="Send every read to the store.")
@click.option("--duration", default=0.0, help="Seconds to run (0: until Ctrl-C).")
def discord_serve(
    instances: int, base_port: int, read_ms: float, no_coalesce: bool, duration: float
) -> None:
    """Serve 100 channels from the LSM through coalescing data services on 127.0.0.1.

    The protocol is one line per read, 'GET channel:N', answered 'OK <length>' and the
    value. Every 5 seconds it prints the reads, the store queries, and the reads that
    joined a query already in flight.

    \b
    Examples:
      archlab case discord serve --instances 3 --base-port 7000
      printf 'GET channel:7\n' | nc -q1 127.0.0.1 7000
    """
    if not 1 <= instances <= 64:
        raise ConfigError(f"--instances must be 1-64, not {instances}")
    if read_ms < 0 or duration < 0 or not 0 <= base_port < 65536 - instances:
        raise ConfigError("--read-ms and --duration must be >= 0 and --base-port a free port")
    from archlab.cases.discord.serve import run_services

    try:
        asyncio.run(
            run_services(instances, base_port, read_ms, not no_coalesce, duration, click.echo)
        )
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{base_port}: {exc}") from None


@case.group("haystack")
def haystack() -> None:
    """Facebook Haystack (10.4): photos as needles in one volume file, served over HTTP."""


@haystack.command("serve")
@click.option("--dir", "directory", required=True, help="Directory of the volume (created).")
@click.option("--port", default=8080, show_default=True, help="Port on 127.0.0.1.")
@click.option("--sync", is_flag=True, help="fdatasync every write before answering.")
def haystack_serve(directory: str, port: int, sync: bool) -> None:
    """Serve one Haystack volume: PUT, GET and DELETE /photo/<key>/<alt>[/<cookie>].

    A PUT answers the photo's URL, with a random cookie; a GET or DELETE with a wrong cookie
    is a 404. Stop with Ctrl-C; a restart rebuilds the index and cuts a torn tail.

    \b
    Examples:
      archlab case haystack serve --dir /tmp/hay --port 8080
      curl -X PUT --data-binary @cat.jpg http://127.0.0.1:8080/photo/42/1
      curl -o cat.jpg http://127.0.0.1:8080/photo/42/1/<cookie>
    """
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be 1-65535, not {port}")
    from archlab.cases.haystack.server import HaystackServer

    try:
        server = HaystackServer(directory, port, sync=sync)
    except OSError as exc:
        raise ConfigError(f"cannot serve on 127.0.0.1:{port} from {directory}: {exc}") from None
    recovery = server.volume.recovery
    click.echo(
        f"serving {len(server.volume.index)} photos from {directory} on {server.url} "
        f"({recovery.from_index_file} from the index file, {recovery.from_volume_scan} from "
        f"the volume, {recovery.torn_bytes_cut} torn bytes cut)"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@case.group("open-connect")
def open_connect() -> None:
    """Netflix Open Connect (10.3): predictive off-peak fill of ISP-embedded caches."""


@open_connect.command("simulate")
@click.option(
    "--cache-share",
    default=0.3,
    show_default=True,
    help="Appliance size as a share of the catalogue's bytes.",
)
@click.option(
    "--noise", default=0.5, show_default=True, help="Forecast error: log-normal sigma (0: perfect)."
)
@click.option("--titles", default=2000, show_default=True, help="Titles in the catalogue.")
@click.option("--views", default=20000, show_default=True, help="Views per day.")
@click.option("--days", default=6, show_default=True, help="Days (the first two warm up).")
@click.option("--window-hours", default=12, show_default=True, help="Fill window length.")
@click.option("--seed", default=0, show_default=True)
def open_connect_simulate(
    cache_share: float,
    noise: float,
    titles: int,
    views: int,
    days: int,
    window_hours: int,
    seed: int,
) -> None:
    """Simulate one appliance filled on demand (LRU pull) and by off-peak push, side by side.

    Prints the byte hit ratio, the upstream bytes per hour of the day for each strategy,
    and how much of the peak-hour upstream push avoids.

    \b
    Examples:
      archlab case open-connect simulate
      archlab case open-connect simulate --cache-share 0.1 --noise 2
    """
    from archlab.cases.openconnect.model import DIURNAL, PEAK_HOURS, FillConfig, simulate

    try:
        config = FillConfig(
            titles=titles,
            views_per_day=views,
            days=days,
            cache_share=cache_share,
            noise=noise,
            window_hours=window_hours,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if titles < 10 or views < 1:
        raise ConfigError("--titles must be at least 10 and --views at least 1")
    pull = simulate(config, "pull", seed)
    push = simulate(config, "push", seed)
    click.echo(
        f"appliance: {cache_share:.0%} of a {titles}-title catalogue; {views} views a "
        f"day ({max(DIURNAL):.1%} of them in the busiest hour); forecast sigma {noise}"
    )
    for result in (pull, push):
        click.echo(
            f"  {result.strategy:5} byte hit ratio {result.hit_ratio:6.1%}   upstream per day "
            f"{result.total_upstream / result.viewed:6.1%} of viewed, at peak "
            f"({PEAK_HOURS.start}:00-{PEAK_HOURS.stop}:00) "
            f"{result.peak_upstream / result.viewed:6.1%}, "
            f"in the fill window {result.off_peak_share:6.1%} of it"
        )
    cut = pull.peak_upstream / push.peak_upstream if push.peak_upstream else float("inf")
    click.echo(f"in the peak hours pull fetched {cut:.2f}x the upstream bytes push did")


@case.group("ringpop")
def ringpop() -> None:
    """Uber Ringpop (10.5): SWIM membership, a hash ring and request forwarding."""


@ringpop.command("serve")
@click.option("--nodes", default=4, show_default=True, help="Members to start on 127.0.0.1.")
@click.option("--duration", default=10.0, show_default=True, help="Seconds to run.")
@click.option("--period", default=0.2, show_default=True, help="SWIM protocol period (s).")
@click.option(
    "--crash-after",
    default=4.0,
    show_default=True,
    help="Stop one member after this many seconds (0: never).",
)
def ringpop_serve(nodes: int, duration: float, period: float, crash_after: float) -> None:
    """Start a SWIM cluster on loopback UDP, crash a member, and route keys through it.

    Every second it prints each member's view and where a few keys are handled, reached
    from a random member through handle_or_forward.

    \b
    Examples:
      archlab case ringpop serve
      archlab case ringpop serve --nodes 8 --period 0.1 --duration 5 --crash-after 2
    """
    if nodes < 2 or nodes > 64:
        raise ConfigError(f"--nodes must be between 2 and 64, not {nodes}")
    if period <= 0 or duration <= 0:
        raise ConfigError("--period and --duration must be positive")
    from archlab.cases.ringpop.serve import run_cluster

    asyncio.run(run_cluster(nodes, duration, period, crash_after, click.echo))
