"""The Typer application and what every command shares: loading a network, `--set`,
printing diagnostics, and the exit codes of CLI.md (0 ok, 1 input rejected, 2 usage)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .. import ir
from ..compiler import Report, check_file, load
from ..ir import Value
from ..render import print_diagnostics

app = typer.Typer(
    name="cnndsl",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        console.print(f"cnndsl {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                          help="Print cnndsl's version and exit.")) -> None:
    """Check, summarise, compile and train convolutional networks written in the .net language."""


console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_REJECTED = 1
EXIT_USAGE = 2

NetworkOption = typer.Option(None, "--network", "-n", help="The network to use, in files that hold several.")
SetOption = typer.Option(None, "--set", help="Override a network parameter: NAME=VALUE (repeatable).")
StrictOption = typer.Option(False, "--strict", help="Treat warnings as errors.")


def usage_error(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error[/]: {message}")
    return typer.Exit(EXIT_USAGE)


def parse_value(text: str) -> Value:
    """A `--set` value: an integer, a number, true/false, a tuple, or else a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(value, (int, float, str)) or (
            isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value)):
        return value
    return text


def parse_sets(sets: Optional[list[str]]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for item in sets or []:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise usage_error(f"--set expects NAME=VALUE, got `{item}`")
        values[name.strip()] = parse_value(raw)
    return values


def check_path(file: Path, network: Optional[str], sets: Optional[list[str]], strict: bool,
               every: bool = False, ignore: frozenset[str] = frozenset(),
               select: frozenset[str] | None = None, allows: bool = True) -> Report:
    """Check one file; a missing file is a usage error (exit 2)."""
    if not file.exists():
        raise usage_error(f"no such file: {file}")
    if file.is_dir():
        raise usage_error(f"{file} is a directory, not a .net file")
    overrides = parse_sets(sets)
    source, problems = load(file)
    if source is None:
        return Report(None, problems)
    return check_file(source, network, overrides, strict, every, ignore, select, allows)


def load_network(file: Path, network: Optional[str], sets: Optional[list[str]], strict: bool) -> ir.Network:
    """The one network a command works on; diagnostics go to stderr, errors exit 1."""
    report = check_path(file, network, sets, strict)
    print_diagnostics(err_console, report.diagnostics)
    if not report.ok:
        raise typer.Exit(EXIT_REJECTED)
    return report.networks[0]
