"""Writing never destroys: `-o` of `export` and `graph` writes a regular file or a new path and
nothing else, a write that fails leaves the old file and says so, and output that stdout cannot
take (a full device) is an error, never a silent success. `--out` of `train` is in
tests/train/test_run_integrity.py."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnndsl.atomic import NotARegularFile, atomic_write_bytes, kind_of
from cnndsl.cli import app

ROOT = Path(__file__).resolve().parents[1]
LENET = ROOT / "architectures" / "lenet5.net"
COMMANDS = {"export": [], "graph": ["--format", "svg"]}
runner = CliRunner()


def invoke(*args: object):
    """Run the CLI; anything but a clean exit (a SystemExit carrying the code) fails the test."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def _fifo(folder: Path) -> Path:
    path = folder / "pipe"
    os.mkfifo(path)
    return path


def _link(folder: Path) -> Path:
    target = folder / "target.py"
    target.write_text("kept\n")
    path = folder / "link.py"
    path.symlink_to(target)
    return path


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("make", "kind", "instead"), [
    (_fifo, "a named pipe (FIFO)", "redirect stdout to write there"),
    (_link, "a symbolic link", "give the path it points to, {tmp}/target.py"),
])
def test_o_refuses_what_writing_would_destroy(tmp_path: Path, command: str, make, kind: str, instead: str) -> None:
    target = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke(command, LENET, *COMMANDS[command], "-o", target)
    assert result.exit_code == 2, result.output
    assert result.output == (f"error: -o {target} is {kind}; -o writes only a regular file or a new path "
                             f"({instead.format(tmp=tmp_path)})\n")
    assert kind_of(target) == kind and sorted(p.name for p in tmp_path.iterdir()) == before
    if kind == "a symbolic link":
        assert (tmp_path / "target.py").read_text() == "kept\n"


def test_a_device_is_recognised_without_touching_it() -> None:
    assert kind_of(Path("/dev/null")) == "a character device"
    assert kind_of(Path("/no/such/file")) is None


@pytest.mark.parametrize("make", [_fifo, _link])
def test_the_atomic_writer_itself_replaces_only_regular_files(tmp_path: Path, make) -> None:
    target = make(tmp_path)
    with pytest.raises(NotARegularFile, match="only a regular file is replaced"):
        atomic_write_bytes(target, b"new")
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(NotARegularFile, match="it is a directory"):
        atomic_write_bytes(folder, b"new")
    assert kind_of(target) is not None and folder.is_dir()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("existed", [True, False])
def test_a_write_that_fails_keeps_the_old_file_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           command: str, existed: bool) -> None:
    target = tmp_path / "out.svg"
    if existed:
        target.write_text("old\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("cnndsl.atomic.os.fsync", full)
    result = invoke(command, LENET, *COMMANDS[command], "-o", target)
    assert result.exit_code == 1, result.output
    kept = f"{target} is unchanged" if existed else "nothing was written"
    assert result.output.endswith(f"error: cannot write {target}: No space left on device; {kept}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out.svg"] if existed else [])
    if existed:
        assert target.read_text() == "old\n"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "model.py"
    target.write_text("old\n")
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = invoke("export", LENET, "-o", target)
    finally:
        tmp_path.chmod(stat.S_IRWXU)
    assert result.exit_code == 1
    assert result.output == f"error: cannot write {target}: Permission denied; {target} is unchanged\n"
    assert target.read_text() == "old\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", COMMANDS)
def test_stdout_on_a_full_device_is_an_error(command: str) -> None:
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "cnndsl", command, str(LENET)], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr == "error: cannot write to stdout: No space left on device\n"
