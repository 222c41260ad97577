"""The one error boundary around every command.

Each kind of mistake a user can make has its own check and message where it is found; this
is the backstop for what slips through. An error cnndsl raises on purpose prints its message
and exits with its code; an operating-system error is one line naming the path and the
reason (exit 1); anything else is a bug in cnndsl: one "internal error" line with the
command and the version, exit 3, and the traceback only with `--debug` or `CNNDSL_DEBUG=1`.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

EXIT_REJECTED = 1
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130  # as shells report a process that Ctrl-C stopped
DEBUG_VARIABLE = "CNNDSL_DEBUG"

_debug = False


def set_debug(value: bool) -> None:
    """`--debug` (the environment variable counts too, see `debugging`)."""
    global _debug
    _debug = value


def debugging() -> bool:
    return _debug or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def describe_os_error(exc: OSError) -> str:
    """`cannot use PATH: REASON`, one line, for any error the operating system reports."""
    reason = exc.strerror or type(exc).__name__
    paths = [p for p in (exc.filename, exc.filename2) if p is not None]
    where = " -> ".join(os.fsdecode(p) if isinstance(p, (str, bytes)) else str(p) for p in paths)
    return f"{where}: {reason}" if where else reason


class BoundaryGroup(TyperGroup):
    """The Typer group of `cnndsl`: its `invoke` is where every command runs."""

    def invoke(self, ctx: Any) -> Any:  # Typer's Context, which is Click's or Typer's own copy of it
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # Ctrl-C outside a training run (which says what it saved)
            _stderr().print("[bold red]error[/]: interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # the backstop: every exception ends here, and only here
            if isinstance(exc, (typer.Exit, typer.Abort)) or _is_usage_error(exc):
                raise
            _report(exc, ctx.invoked_subcommand or ctx.info_name or "cnndsl")


def _is_usage_error(exc: Exception) -> bool:
    """Click's usage errors (a bad option value...), which Typer prints and exits 2 on; Typer
    has its own copy of Click since 0.26, hence the duck typing."""
    return hasattr(exc, "exit_code") and callable(getattr(exc, "show", None))


def _report(exc: Exception, command: str) -> NoReturn:
    from ..backends.export_checks import ExportError
    from ..compiler import CompileError
    from ..render import print_diagnostics
    from ..train.errors import TrainError

    console = _stderr()
    if isinstance(exc, CompileError):
        print_diagnostics(console, exc.diagnostics)
        raise typer.Exit(EXIT_REJECTED)
    if isinstance(exc, TrainError):
        console.print(f"[bold red]error[/]: {escape(exc.message)}")
        if exc.help:
            console.print(f"  [bold cyan]help[/]: {escape(exc.help)}")
        raise typer.Exit(exc.exit_code)
    if isinstance(exc, ExportError):
        console.print(f"[bold red]error[/]: {escape(str(exc))}")
        raise typer.Exit(EXIT_REJECTED)
    if isinstance(exc, BrokenPipeError):  # `cnndsl ... | head`: the reader has all it wanted
        raise typer.Exit(EXIT_REJECTED)
    if isinstance(exc, OSError):
        console.print(f"[bold red]error[/]: {escape(describe_os_error(exc))}")
        if debugging():
            _traceback(exc)
        raise typer.Exit(EXIT_REJECTED)
    if isinstance(exc, MemoryError):
        console.print("[bold red]error[/]: out of memory")
        if debugging():
            _traceback(exc)
        raise typer.Exit(EXIT_REJECTED)
    from .. import __version__

    console.print(f"[bold red]internal error[/] in `cnndsl {escape(command)}` (cnndsl {__version__}): "
                  f"{type(exc).__name__}")
    console.print("  this is a bug in cnndsl, not in your input: please report it with the command "
                  "and its input files to the cnndsl issue tracker")
    if debugging():
        _traceback(exc)
    else:
        console.print(f"  run with `cnndsl --debug {escape(command)} ...` or {DEBUG_VARIABLE}=1 for the traceback")
    raise typer.Exit(EXIT_INTERNAL)


def _traceback(exc: BaseException) -> None:
    sys.stderr.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    sys.stderr.flush()
