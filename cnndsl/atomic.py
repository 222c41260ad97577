"""Writing files so that a reader sees the old content or the new one, never half of it.

Every file cnndsl writes (exports, diagrams, formatted sources, run directories, data caches)
goes through here: the data is written to a temporary file in the destination's directory,
flushed to disk, given the permissions the destination should have, then renamed over it
with `os.replace`, which is atomic on POSIX and Windows. An interrupted write leaves the old
file as it was and no temporary file behind. Torch is imported only to save tensors.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write(stream)` on a temporary file beside `path`, then move it to `path`.

    The new file keeps the permissions of the one it replaces, or gets the usual ones for a
    new file: a temporary file starts private to its owner, which a user would not expect of
    a model or a picture they asked for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda stream: stream.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 with the platform's line ends, as `open(path, "w")` would write it."""
    atomic_write_bytes(path, text.replace("\n", os.linesep).encode("utf-8"))


def atomic_torch_save(path: Path, contents: object) -> None:
    import torch

    atomic_write(path, lambda stream: torch.save(contents, stream))


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
