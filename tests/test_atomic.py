"""cnndsl/atomic.py, through which every file cnndsl writes goes: a reader sees the old file or
the new one, the new one has the permissions a user expects, and a failure leaves no debris."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

import pytest

from cnndsl.atomic import atomic_write, atomic_write_bytes, atomic_write_text


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_new_file_gets_the_permissions_the_umask_allows(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "model.onnx", b"\x00\x01")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "model.onnx").stat().st_mode) == 0o640  # not the 0600 of a temporary file
    assert _names(tmp_path) == ["model.onnx"]


def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "net.net"
    target.write_text("old")
    target.chmod(0o604)
    atomic_write_text(target, "new\n")
    assert target.read_bytes() == f"new{os.linesep}".encode()  # the platform's line ends, as open(..., "w")
    assert stat.S_IMODE(target.stat().st_mode) == 0o604


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "weights.pt"
    target.write_bytes(b"old")

    def half_then_fail(stream: BinaryIO) -> None:
        stream.write(b"half a file")
        raise KeyboardInterrupt  # an interrupt is cleaned up too, not only errors

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["weights.pt"]


def test_missing_folders_are_made(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "runs" / "a" / "config.json", "{}")
    assert (tmp_path / "runs" / "a" / "config.json").read_text() == "{}"


@pytest.mark.skipif(os.geteuid() == 0 and __import__("shutil").which("setpriv") is None,
                    reason="root may write any file; setpriv is needed to run as another user")
def test_a_read_only_file_is_not_replaced() -> None:
    """The rename that makes a write atomic needs only the folder's permission; a file its
    user may not write is refused all the same (fmt and check --fix go through here)."""
    import subprocess
    import sys
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="cnndsl-read-only-"))
    target = folder / "net.net"
    try:
        folder.chmod(0o777)
        target.write_text("network A {  input 4   linear(2) }\n")
        target.chmod(0o444)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, sys.executable, "-m", "cnndsl", "fmt", str(target)], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert done.returncode == 1 and "read-only" in done.stderr, done
        assert target.read_text() == "network A {  input 4   linear(2) }\n" and _names(folder) == ["net.net"]
    finally:
        target.unlink(missing_ok=True)
        folder.rmdir()


def test_a_ctrl_c_during_a_torch_save_is_raised_as_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyTorch's writer, closing after the interrupted write, raises a RuntimeError of its own
    ("unexpected pos"); the caller must see the Ctrl-C, and the old file must stay."""
    import torch

    from cnndsl import atomic

    target = tmp_path / "checkpoint.pt"
    atomic.atomic_torch_save(target, {"x": torch.zeros(3)})
    real_write, calls = atomic._ErrorRecordingStream.write, []

    def write(self, data: bytes) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_write(self, data)

    monkeypatch.setattr(atomic._ErrorRecordingStream, "write", write)
    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_torch_save(target, {"x": torch.ones(3)})
    assert torch.equal(torch.load(target, weights_only=True)["x"], torch.zeros(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
