"""The ``archlab`` command.

The root group holds the lab's commands (``list``, ``run``, ``report``, ``compare``,
``bench``) and loads each chapter's commands only when they are invoked, so ``archlab --help``
stays fast. Every user error ends as one line on stderr, in one style for every command::

    archlab: error: <command>: <what is wrong>

click's usage errors and every :class:`~archlab.errors.ArchlabError` are caught in :func:`main`;
the exit code is 2 for bad input, or the error's own code (e.g. 3 for a cluster that cannot
answer, see :class:`~archlab.errors.UnavailableError`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence

import click

import archlab
from archlab.errors import ArchlabError
from archlab.lab.cli import LAB_COMMANDS

#: Chapter commands, imported on first use: name -> "module:attribute".
CHAPTER_COMMANDS: dict[str, str] = {
    "sim": "archlab.sim.cli:sim",
    "check": "archlab.check.cli:check",
    "id": "archlab.ids.cli:id_command",
    "estimate": "archlab.design.cli:estimate",
    "review": "archlab.design.cli:review",
    "design": "archlab.design.cli:design",
    "cluster": "archlab.runtime.cli:cluster",
    "collab": "archlab.runtime.collab.cli:collab",
    "exchange": "archlab.streaming.routing.cli:exchange",
    "tiered": "archlab.streaming.tiered.cli:tiered",
    "limits": "archlab.resilience.cli:limits",
    "traces": "archlab.observability.cli:traces",
    "vector": "archlab.vector.cli:vector",
    "mvcc": "archlab.storage.mvcc.cli:mvcc",
    "zero-trust": "archlab.security.cli:zero_trust",
    "security": "archlab.security.cli:security",
    "serve": "archlab.web.cli:serve",
    "live": "archlab.web.cli:live",
    "lb": "archlab.net.cli:lb",
    "case": "archlab.cases.cli:case",
    "stream": "archlab.streaming.cli:stream",
    "llm": "archlab.llm.cli:llm",
}


class ArchlabGroup(click.Group):
    """A group whose chapter commands are imported lazily; absent chapters are not listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [name for name, target in CHAPTER_COMMANDS.items() if _module_exists(target)]
        return [*super().list_commands(ctx), *lazy]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in CHAPTER_COMMANDS:
            return command
        target = CHAPTER_COMMANDS[cmd_name]
        if not _module_exists(target):
            return None
        module_name, attribute = target.split(":")
        loaded = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(loaded, click.Command):
            raise TypeError(f"{target} is not a click command")
        _whole_summaries(loaded)
        return loaded

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list with each summary's whole first sentence, wrapped, never cut."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _whole_summaries(command: click.Command) -> None:
    """Give a group's subcommands their whole first sentence as summary (click cuts it)."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            if not sub.short_help:
                sub.short_help = sub.get_short_help_str(limit=1000)
            _whole_summaries(sub)


def _module_exists(target: str) -> bool:
    try:
        return importlib.util.find_spec(target.split(":", maxsplit=1)[0]) is not None
    except ModuleNotFoundError:
        return False


@click.group(
    cls=ArchlabGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(archlab.__version__, prog_name="archlab")
def cli() -> None:
    """archlab: the system-design codex, executable.

    Every mechanism of the codex is a real implementation, and every claim is an experiment
    whose verdict is computed from measurements.

    \b
    Start here:
      archlab list                            the claims, in codex order
      archlab run storage.compaction_styles   measure one claim and see its verdict
      archlab report                          measure them all, write one HTML report
      archlab bench                           archlab against real peers, as ratios
    """


for _command in LAB_COMMANDS:
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI and turn user errors into one ``archlab: error:`` line."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="archlab", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message())
        code = 0
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "archlab"
        _fail(where, f"{_sentence(exc.format_message())} (see '{where} --help')", 2)
    except click.ClickException as exc:
        _fail(invoked_command(args), _sentence(exc.format_message()), exc.exit_code or 2)
    except ArchlabError as exc:
        _fail(invoked_command(args), str(exc), exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("archlab: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        code = 0
    sys.exit(code if isinstance(code, int) else 0)


def invoked_command(args: Sequence[str]) -> str:
    """The command path ``args`` name (``archlab cluster get``), for error messages.

    archlab's groups take no option with a value, so the first word that is not an option is
    the subcommand at every level; the walk stops at the first word that is not a command.
    """
    path = ["archlab"]
    command: click.Command = cli
    ctx = click.Context(cli, info_name="archlab")
    for word in args:
        if word.startswith("-"):
            continue
        if not isinstance(command, click.Group):
            break
        try:
            sub = command.get_command(ctx, word)
        except Exception:  # an import error here must not hide the error being reported
            sub = None
        if sub is None:
            break
        path.append(word)
        command = sub
    return " ".join(path)


def _sentence(message: str) -> str:
    """click's messages start with a capital and end with a full stop; ours do neither."""
    message = message.strip().rstrip(".")
    return message[:1].lower() + message[1:] if message[1:2].islower() else message


def _fail(where: str, message: str, code: int) -> None:
    command = where.removeprefix("archlab").strip()
    prefix = f"archlab: error: {command}: " if command else "archlab: error: "
    click.echo(" ".join((prefix + message).split()), err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
