"""The Typer application and what every command shares: loading a network, `--set`,
printing diagnostics, and the exit codes of CLI.md (0 ok, 1 input rejected, 2 usage)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from .. import ir
from ..compiler import Report, check_file, load
from ..evaluate import parse_set
from ..ir import Value
from ..render import print_diagnostics
from .boundary import BoundaryGroup, set_debug

app = typer.Typer(
    name="cnndsl",
    cls=BoundaryGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from ..version import __version__

        console.print(f"cnndsl {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                          help="Print cnndsl's version and exit."),
             debug: bool = typer.Option(False, "--debug",
                                        help="Print the traceback of an internal error (or set CNNDSL_DEBUG=1).")
             ) -> None:
    """Check, summarise, compile and train convolutional networks written in the .net language."""
    set_debug(debug)


console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_REJECTED = 1
EXIT_USAGE = 2

NetworkOption = typer.Option(None, "--network", "-n", help="The network to use, in files that hold several.")
SetOption = typer.Option(None, "--set", help="Override a network parameter: NAME=VALUE (repeatable).")
StrictOption = typer.Option(False, "--strict", help="Treat warnings as errors.")


def usage_error(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error[/]: {escape(message)}")
    return typer.Exit(EXIT_USAGE)


def parse_sets(sets: Optional[list[str]]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for item in sets or []:
        parsed = parse_set(item)
        if parsed is None:
            raise usage_error(f"--set expects NAME=VALUE, got `{item}`")
        values[parsed[0]] = parsed[1]
    return values


def check_path(file: Path, network: Optional[str], sets: Optional[list[str]], strict: bool,
               every: bool = False, ignore: frozenset[str] = frozenset(),
               select: frozenset[str] | None = None, allows: bool = True) -> Report:
    """Check one file; a missing file is a usage error (exit 2), any other reason it cannot be
    read (permissions, a name too long, a loop of links, a pipe) is a diagnostic."""
    try:
        if stat.S_ISDIR(file.stat().st_mode):
            raise usage_error(f"{file} is a directory, not a .net file")
    except FileNotFoundError:
        raise usage_error(f"no such file: {file}") from None
    except (OSError, ValueError):
        pass  # read_source says why, as a diagnostic
    overrides = parse_sets(sets)
    source, problems = load(file)
    if source is None:
        return Report(None, problems)
    return check_file(source, network, overrides, strict, every, how_to_pick="--network NAME", ignore=ignore,
                      select=select, allows=allows)


def load_network(file: Path, network: Optional[str], sets: Optional[list[str]], strict: bool) -> ir.Network:
    """The one network a command works on; diagnostics go to stderr, errors exit 1."""
    report = check_path(file, network, sets, strict)
    print_diagnostics(err_console, report.diagnostics)
    if not report.ok:
        raise typer.Exit(EXIT_REJECTED)
    return report.networks[0]
