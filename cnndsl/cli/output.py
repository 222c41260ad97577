"""The `-o FILE` of the commands that write one file (`export`, `graph`).

Targets that cannot be meant (a folder, the `.net` file being read, a file in a directory
that does not exist) are refused before any work is done, so a mistake costs nothing; the
file is then written atomically, so a reader never sees half of it and a failed write leaves
the old file intact.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_write_bytes, atomic_write_text
from .app import usage_error


def check_output(output: Path, source: Path, suffix: str) -> None:
    """Refuse `output` unless it can be written; `suffix` makes the example file name."""
    if output.is_dir():
        raise usage_error(f"{output} is a directory; give a file name, e.g. {output / (source.stem + suffix)}")
    if output.exists() and source.exists() and output.resolve() == source.resolve():
        raise usage_error(f"-o {output} would overwrite the network file itself")
    if not output.parent.is_dir():
        raise usage_error(f"cannot write {output}: no directory {output.parent}")


def write_output(output: Path, data: str | bytes) -> None:
    """Text as UTF-8 with the platform's line ends, bytes as they are; an error the
    operating system reports (a full disk, no permission) is a usage error, not a traceback."""
    try:
        if isinstance(data, str):
            atomic_write_text(output, data)
        else:
            atomic_write_bytes(output, data)
    except OSError as exc:
        raise usage_error(f"cannot write {output}: {exc.strerror or exc}") from None
