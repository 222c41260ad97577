"""The `-o FILE` of the commands that write one file (`export`, `graph`), and their stdout.

Targets that cannot be meant (a folder, the `.net` file being read, a file in a directory
that does not exist) and targets that writing would destroy (a device such as /dev/null, a
named pipe, a symbolic link) are refused before any work is done, so a mistake costs
nothing: `-o` writes a regular file or a new path, nothing else. The file is then written
atomically, so a reader never sees half of it, and a write that fails (a full disk, a
read-only folder) leaves the old file as it was and says so (exit 1). Output to stdout is
flushed before the command reports success, so a full device is an error, not a silent loss.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

import typer
from rich.markup import escape

from ..atomic import atomic_write_bytes, atomic_write_text, kind_of
from ..source import SourceFile
from .app import EXIT_REJECTED, err_console, usage_error


def check_output(output: Path, source: Path, suffix: str) -> None:
    """Refuse `output` unless it can be written; `suffix` makes the example file name."""
    try:
        kind = kind_of(output)
    except OSError as exc:  # a path too long, a parent that is a file, a loop of links
        raise usage_error(f"cannot write {output}: {exc.strerror or exc}") from None
    if kind == "a directory":
        example = output / (source.stem + suffix)
        raise usage_error(f"{output} is a directory; give a file name, e.g. {example}")
    if kind is not None:
        instead = (f"give the path it points to, {output.resolve()}" if kind == "a symbolic link"
                   else "redirect stdout to write there")
        raise usage_error(f"-o {output} is {kind}; -o writes only a regular file or a new path "
                          f"({instead})")
    if output.exists() and source.exists() and output.resolve() == source.resolve():
        raise usage_error(f"-o {output} would overwrite the network file itself")
    if not output.parent.is_dir():
        raise usage_error(f"cannot write {output}: no directory {output.parent}")


def check_not_a_source(output: Path, files: Sequence[SourceFile]) -> None:
    """Refuse an `output` that is one of the files the network was read from: the main file
    is refused before it is read (check_output), a `use`d one once the files are known."""
    if not output.exists():
        return
    target = output.resolve()
    for file in files:
        if file.path is not None and file.path.resolve() == target:
            raise usage_error(f"-o {output} would overwrite {file.path}, which the network uses")


def write_output(output: Path, data: str | bytes) -> None:
    """Text as UTF-8 with the platform's line ends, bytes as they are. An error the
    operating system reports (a full disk, no permission) is a message and exit 1, saying
    that the old file, if any, is unchanged."""
    existed = output.exists()
    try:
        if isinstance(data, str):
            atomic_write_text(output, data)
        else:
            atomic_write_bytes(output, data)
    except OSError as exc:
        kept = f"{output} is unchanged" if existed else "nothing was written"
        err_console.print(f"[bold red]error[/]: {escape(f'cannot write {output}: {exc.strerror or exc}; {kept}')}")
        raise typer.Exit(EXIT_REJECTED) from None


def write_stdout(data: str | bytes) -> None:
    """Write to stdout and flush, so that a failed write (a full device, a closed pipe) is
    reported here (exit 1) rather than lost, or claimed as success, at exit."""
    try:
        if isinstance(data, str):
            sys.stdout.write(data)
            sys.stdout.flush()
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
    except OSError as exc:
        _discard_stdout()
        err_console.print(f"[bold red]error[/]: cannot write to stdout: {escape(exc.strerror or str(exc))}")
        raise typer.Exit(EXIT_REJECTED) from None


def _discard_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's own flush at exit does not
    fail again on what is still buffered (and print a traceback about it)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # no file descriptor behind stdout (a test's capture): nothing to discard
        pass
