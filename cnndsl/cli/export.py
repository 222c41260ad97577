"""`cnndsl export`: write a checked network as a standalone PyTorch source file.

Without `-o` the source goes to stdout, so nothing on disk changes unless asked. With `-o`
the file is written to a temporary file beside the target and renamed over it, so a reader
never sees half a file and an interrupted export leaves the old one intact.
"""

from __future__ import annotations

import os
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ..compiler import CompileError
from ..render import print_diagnostics
from .app import EXIT_REJECTED, NetworkOption, SetOption, StrictOption, app, err_console, load_network, usage_error


class Target(str, Enum):
    python = "python"


@app.command()
def export(
    file: Path = typer.Argument(..., help="The .net file.", show_default=False),
    to: Target = typer.Option(Target.python, "--to", help="What to export to: a standalone PyTorch .py file."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", show_default=False,
                                          help="Write here (replacing any file there) instead of to stdout."),
    network: Optional[str] = NetworkOption,
    set_: Optional[list[str]] = SetOption,
    strict: bool = StrictOption,
) -> None:
    """Write the network as a PyTorch source file that needs only torch; its module names
    are those of cnndsl.compile, so weights load in either."""
    if output is not None:
        _check_output(output, file)
    net = load_network(file, network, set_, strict)
    from ..backends.python_source import python_source  # imports torch: only when exporting

    try:
        source = python_source(net, file.name)
    except CompileError as exc:
        print_diagnostics(err_console, exc.diagnostics)
        raise typer.Exit(EXIT_REJECTED) from None
    if output is None:
        sys.stdout.write(source)
        return
    try:
        write_atomically(output, source)
    except OSError as exc:
        raise usage_error(f"cannot write {output}: {exc.strerror or exc}") from None
    err_console.print(f"wrote {output} ({net.name}, {len(source.splitlines())} lines)")


def _check_output(output: Path, source: Path) -> None:
    """Refuse, before any work, targets that cannot be meant: a folder, or the .net file."""
    if output.is_dir():
        raise usage_error(f"{output} is a directory; give a file name, e.g. {output / (source.stem + '.py')}")
    if output.exists() and source.exists() and output.resolve() == source.resolve():
        raise usage_error(f"-o {output} would overwrite the network file itself")
    if not output.parent.is_dir():
        raise usage_error(f"cannot write {output}: no directory {output.parent}")


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename.

    The new file keeps the permissions of the one it replaces, or gets the usual ones for a
    new file (the temporary file's own are private to the owner)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
