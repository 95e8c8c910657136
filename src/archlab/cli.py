"""The ``archlab`` command.

The root group holds the lab's commands (``list``, ``run``, ``report``, ``compare``,
``bench``) and loads each chapter's commands only when they are invoked, so ``archlab --help``
stays fast. Every user error ends as one line on stderr and exit code 2: click's usage errors
and every :class:`~archlab.errors.ArchlabError` are caught in :func:`main`.
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
    "vector": "archlab.vector.cli:vector",
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
        return loaded


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
    """Entry point: run the CLI and turn user errors into one line and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="archlab", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message())
        code = 0
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "archlab"
        hint = f" (see '{where} --help')"
        _fail(f"{where}: {exc.format_message()}{hint}", 2)
    except click.ClickException as exc:
        _fail(f"archlab: {exc.format_message()}", exc.exit_code or 2)
    except ArchlabError as exc:
        _fail(f"archlab: error: {exc}", exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        _fail("archlab: interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        code = 0
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(" ".join(message.split()), err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
