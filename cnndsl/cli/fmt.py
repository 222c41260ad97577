"""`cnndsl fmt`: rewrite `.net` files in the canonical layout of `cnndsl.formatter`.

Files are rewritten in place through a temporary file and a rename, so an interrupted run
leaves each file whole, old or new. A file that does not parse is reported and left as it is.
"""

from __future__ import annotations

import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.text import Text

from ..atomic import atomic_write_text
from ..formatter import format_source
from .. import limits
from ..parser import decode_source, read_bounded, read_source
from ..render import print_diagnostics
from .app import EXIT_REJECTED, app, console, err_console, usage_error

STDIN = Path("-")


@dataclass
class _Tally:
    """What `fmt` did to the files it was given, for its closing line."""

    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    rejected: int = 0


@app.command()
def fmt(
    files: list[Path] = typer.Argument(..., readable=False, show_default=False,
                                       help="The .net files, or folders to search for them; `-` reads standard input."),
    check: bool = typer.Option(False, "--check", help="Change nothing; list the files that would change and exit 1 "
                                                      "if there are any."),
    stdout: bool = typer.Option(False, "--stdout", help="Print the formatted text instead of rewriting the files."),
) -> None:
    """Rewrite .net files in the one canonical layout, keeping their comments and meaning."""
    if check and stdout:
        raise usage_error("--check and --stdout do not go together")
    if STDIN in files and len(files) > 1:
        raise usage_error("`-` (standard input) must be the only file")
    printing = stdout or files == [STDIN]
    tally = _Tally()
    for path in _expand(files):
        _format(path, check, printing, tally)
    if check or not printing:
        _report(tally, check)
    raise typer.Exit(EXIT_REJECTED if tally.rejected or (check and tally.changed) else 0)


def _expand(files: list[Path]) -> list[Path]:
    """The files named, and the `.net` files under the folders named (hidden ones skipped)."""
    found: list[Path] = []
    for path in files:
        if path == STDIN or _is_file(path):
            found.append(path)
        elif _is_dir(path):
            found += sorted(p for p in path.rglob("*.net")
                            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            raise usage_error(f"no such file: {path}")
    return found


def _is_file(path: Path) -> bool:
    """Not a folder, and there: a pipe or a device is refused by `read_source` with its reason."""
    try:
        return not stat.S_ISDIR(path.stat().st_mode)
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True  # unreadable: read_source says why


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _format(path: Path, check: bool, to_stdout: bool, tally: _Tally) -> None:
    """Format one file. Its text is compared as decoded (LF line ends, no byte order mark),
    so line ends alone are never a reason to rewrite a file: they are git's business."""
    name = "<stdin>" if path == STDIN else str(path)
    source, problems = (decode_source(read_bounded(sys.stdin.buffer.read, limits.MAX_FILE_BYTES), name)
                        if path == STDIN else read_source(path, name))
    formatted, problems = format_source(source) if source is not None else (None, problems)
    if source is None or formatted is None:
        print_diagnostics(err_console, problems)
        tally.rejected += 1
        return
    changed = formatted != source.text
    if to_stdout and not check:
        _print_source(formatted)
    elif changed and not check:
        try:
            atomic_write_text(path.resolve(), formatted)
        except OSError as exc:
            err_console.print(Text.assemble(("error", "bold red"), f": cannot write {name}: {exc.strerror or exc}"))
            tally.rejected += 1
            return
    if changed:
        tally.changed.append(name)
    else:
        tally.unchanged += 1


def _print_source(text: str) -> None:
    """Highlighted on a terminal; byte for byte otherwise, so that it can be redirected."""
    if console.is_terminal:
        from ..highlight import highlight  # Pygments, loaded only when it colours something

        console.print(highlight(text), end="")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _report(tally: _Tally, check: bool) -> None:
    """The files that changed (or would) on stdout, one a line; the counts on stderr."""
    for name in tally.changed:
        console.print(f"{'would reformat' if check else 'reformatted'} {name}", markup=False)
    changed = len(tally.changed)
    counts = [f"{changed} {'file' if changed == 1 else 'files'} {'would be ' if check else ''}reformatted",
              f"{tally.unchanged} unchanged"]
    if tally.rejected:
        counts.append(f"{tally.rejected} rejected")
    err_console.print(", ".join(counts), markup=False)

