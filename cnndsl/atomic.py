"""Writing files so that a reader sees the old content or the new one, never half of it.

Every file cnndsl writes (exports, diagrams, formatted sources, run directories, data caches)
goes through here: the data is written to a temporary file in the destination's directory,
flushed to disk, given the permissions the destination should have, then renamed over it
with `os.replace`, which is atomic on POSIX and Windows. An interrupted write leaves the old
file as it was and no temporary file behind. Only a regular file is ever replaced: renaming
over a device, a named pipe, a symbolic link or a folder would destroy it (as root, `-o
/dev/null` would replace the system's /dev/null), so such a target is refused with
`NotARegularFile` before anything is written; a file its user may not write (mode 444) is
refused too, since the rename would otherwise go around its mode. Torch is imported only to save tensors.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


class NotARegularFile(OSError):
    """The target exists and is not a regular file (a device, a pipe, a link, a folder)."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(errno.EEXIST, f"it is {kind}, and only a regular file is replaced", str(path))
        self.kind = kind


_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind_of(path: Path) -> str | None:
    """What stands at `path` when it is not a regular file ("a symbolic link", "a named pipe
    (FIFO)", ...); None for a regular file or nothing at all. The link itself is looked at,
    not what it points to."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write(stream)` on a temporary file beside `path`, then move it to `path`.

    The new file keeps the permissions of the one it replaces, or gets the usual ones for a
    new file: a temporary file starts private to its owner, which a user would not expect of
    a model or a picture they asked for. Raises NotARegularFile, before writing anything,
    when something other than a regular file stands at `path`."""
    kind = kind_of(path)
    if kind is not None:
        raise NotARegularFile(path, kind)
    if path.exists() and not os.access(path, os.W_OK):  # the rename would go around the file's own mode
        raise PermissionError(errno.EACCES, "the file is read-only", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # name the file asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from None
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
    """`torch.save` through `atomic_write`. PyTorch reports a failed write of its own (a
    full disk) as a RuntimeError; the operating system's error is raised instead, so that
    callers see an OSError naming the reason, as for every other file. A Ctrl-C during the
    save is raised as itself too (PyTorch's writer, closing after it, reports a RuntimeError of
    its own)."""
    import torch

    def save(stream: BinaryIO) -> None:
        recording = _ErrorRecordingStream(stream)
        try:
            torch.save(contents, recording)  # type: ignore[arg-type]
        except RuntimeError as exc:
            if recording.error is not None:
                raise recording.error from None
            if isinstance(exc.__context__, KeyboardInterrupt):  # raised by the writer while it closed
                raise exc.__context__ from None
            raise

    atomic_write(path, save)


class _ErrorRecordingStream:
    """A binary stream that remembers the OSError its last write raised."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.stream.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.stream.flush()


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
