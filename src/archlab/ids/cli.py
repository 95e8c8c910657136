"""``archlab id``: make identifiers of the five kinds of codex 6.2, and take them apart."""

from __future__ import annotations

import json

import click

from archlab.ids.generators import KINDS, make_generator
from archlab.ids.inspection import inspect_id
from archlab.ids.snowflake import TWITTER


@click.group("id")
def id_command() -> None:
    """Generate and inspect ULID, KSUID, UUIDv7, UUIDv4 and Snowflake IDs (codex 6.2).

    \b
    Examples:
      archlab id new ulid -n 3
      archlab id new snowflake --machine 17
      archlab id inspect 01ARZ3NDEKTSV4RRFFQ69G5FAV
      archlab id inspect 1541815603606036480 --json
    """


@id_command.command("new")
@click.argument("kind", type=click.Choice(KINDS))
@click.option(
    "-n",
    "count",
    type=click.IntRange(1, 1_000_000),
    default=1,
    show_default=True,
    help="How many IDs, one per line, in generation order.",
)
@click.option(
    "--machine",
    type=click.IntRange(0, 1023),
    default=0,
    show_default=True,
    help="Snowflake only: the 10-bit machine id.",
)
@click.option(
    "--epoch",
    "epoch_ms",
    type=click.IntRange(0),
    default=TWITTER.epoch_ms,
    show_default=True,
    help="Snowflake only: the epoch, in Unix milliseconds.",
)
def new_command(kind: str, count: int, machine: int, epoch_ms: int) -> None:
    """Print COUNT new IDs of KIND, from the system clock and the kernel's CSPRNG.

    ULIDs and UUIDv7s printed together are strictly increasing (monotonic within a
    millisecond); Snowflakes are strictly increasing for one machine id.

    \b
    Examples:
      archlab id new uuid7
      archlab id new ksuid -n 5
      archlab id new snowflake -n 3 --machine 5 --epoch 1420070400000
    """
    generator = make_generator(kind, machine=machine, epoch_ms=epoch_ms)
    new = generator.new_str
    click.echo("\n".join(new() for _ in range(count)))


@id_command.command("inspect")
@click.argument("value")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object: kind, timestamp_ms, time and the kind's fields.",
)
@click.option(
    "--epoch",
    "epoch_ms",
    type=click.IntRange(0),
    default=TWITTER.epoch_ms,
    show_default=True,
    help="Epoch for reading a Snowflake, in Unix milliseconds.",
)
def inspect_command(value: str, as_json: bool, epoch_ms: int) -> None:
    """Detect VALUE's kind from its shape and print its parts.

    26 characters: ULID; 27: KSUID; 36 (or 32 hex): UUID, versions 4 and 7; a decimal
    integer of up to 19 digits: a Snowflake under --epoch (a number cannot say which epoch
    made it: the output says whether the decoded time is plausible). KSUID time is in whole
    seconds; timestamp_ms is that second × 1000.

    \b
    Examples:
      archlab id inspect 0ujtsYcgvSTl8PAuAdqWYSMnLOv
      archlab id inspect 017F22E2-79B0-7CC3-98C4-DC0C0C07398F --json
      archlab id inspect 175928847299117063 --epoch 1420070400000
    """
    result = inspect_id(value, epoch_ms=epoch_ms)
    data = result.as_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    width = max(len(k) for k in data)
    for key, item in data.items():
        if key == "notes":
            continue
        click.echo(f"{key:>{width}}  {'-' if item is None else item}")
    for note in result.notes:
        click.echo(f"note: {note}")
