"""A run directory never lies and writing it never destroys: `--out` takes only a new path or
an empty folder; faults and signals at every write of an epoch leave weights, metrics and
status describing the same epoch; resume repairs or refuses a damaged run; every read of a
run directory is checked against its schema and its recorded network source."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnndsl.train.commands.session import Interrupted
from cnndsl.train.errors import TrainError, epochs_saved
from cnndsl.train.rundir import files, plots
from cnndsl.train.rundir.files import RunDir

from cli_runner import invoke

from .conftest import TINY_NET
from .helpers import deterministic, interrupt_at, train, weights


def cnndsl(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m cnndsl ...` as a real process: exit code and stderr as a user sees them."""
    done = subprocess.run([sys.executable, "-m", "cnndsl", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture()
def net(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.net"
    path.write_text(TINY_NET)
    return path


def _file(tmp: Path) -> Path:
    (tmp / "notes.txt").write_text("kept\n")
    return tmp / "notes.txt"


def _link(tmp: Path) -> Path:
    (tmp / "elsewhere").mkdir()
    (tmp / "link").symlink_to(tmp / "elsewhere")
    return tmp / "link"


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "pipe")
    return tmp / "pipe"


@pytest.mark.parametrize(("make", "message", "help"), [
    (_file, "--out {out} is a file, not a folder", "give a new path or an empty folder for the run directory"),
    (_link, "--out {out} is a symbolic link, not a folder", "give a new path or an empty folder for the run directory"),
    (_fifo, "--out {out} is a named pipe (FIFO), not a folder",
     "give a new path or an empty folder for the run directory"),
    (lambda tmp: _file(tmp) / "run", "cannot create the run directory {out}: Not a directory",
     "give --out a path in a folder you can write"),
])
def test_out_takes_only_a_new_path_or_an_empty_folder(tmp_path: Path, net: Path, make, message: str,
                                                      help: str) -> None:
    out = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    done = cnndsl("train", net, "--data", "fake", "--epochs", "1", "--out", out)
    assert done.returncode == 1
    assert done.stderr == f"error: {message.format(out=out)}\n  help: {help}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path / "elsewhere").exists() or list((tmp_path / "elsewhere").iterdir()) == []


# ---- faults at every write of a run ----------------------------------------------------

SETTINGS = dict(data="digits", epochs=2, batch_size=50, seed=3, limit=300)
# (module, function): by module object, since `cnndsl.train` names the function in a dotted path
WRITERS = ((files, "atomic_write_text"), (files, "atomic_torch_save"), (plots, "atomic_write"))


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (the test copies the run directory first)."""


def _count_writes(net: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    with monkeypatch.context() as patch:
        for target in WRITERS:
            original = _resolve(target)

            def write(path: Path, *args, _original=original, **kwargs):
                names.append(Path(path).name)
                return _original(path, *args, **kwargs)

            patch.setattr(*target, write)
        train(net, out, **SETTINGS)
    return names


def _resolve(target: tuple[object, str]):
    return getattr(*target)


def _fault_at(index: int, fault: BaseException, snapshot: Path | None, patch: pytest.MonkeyPatch) -> None:
    """Make write number `index` (0-based, over all writers) fail with `fault`, once; with
    `snapshot`, copy the run directory as it stands just before that write."""
    count = [0]
    for target in WRITERS:
        original = _resolve(target)

        def write(path: Path, *args, _original=original, **kwargs):
            count[0] += 1
            if count[0] - 1 == index:
                if snapshot is not None:
                    shutil.copytree(Path(path).parent if Path(path).parent.name != "source" else
                                    Path(path).parent.parent, snapshot)
                raise fault
            return _original(path, *args, **kwargs)

        patch.setattr(*target, write)


def _consistent(run: RunDir) -> int:
    """The run directory's files describe one epoch; returns it."""
    status = run.read_status()
    assert status["state"] != "running"
    done = status["epochs_completed"]
    assert [r["epoch"] for r in run.read_metrics()] == list(range(1, done + 1))
    if done:
        assert run.mismatch(status) is None and status["weights_sha256"] is not None
        assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == done
    else:
        assert not (run / "weights.pt").exists()
    return done


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunDir, list[str]]:
    """The network, an uninterrupted run, and the names of the files it writes, in order."""
    folder = tmp_path_factory.mktemp("reference")
    net = folder / "tiny.net"
    net.write_text(TINY_NET)
    with pytest.MonkeyPatch.context() as patch:
        names = _count_writes(net, folder / "counted", patch)
    return net, train(net, folder / "whole", **SETTINGS), names


def _same_run(run: RunDir, whole: RunDir) -> None:
    assert run.read_status()["state"] == "complete" and run.damage(run.read_status()) is None
    assert deterministic(run.read_metrics()) == deterministic(whole.read_metrics())
    expected, got = weights(whole), weights(run)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_the_writes_of_a_run_are_known(reference) -> None:
    _, _, names = reference
    epoch = ["checkpoint.pt", "weights.pt", "metrics.jsonl", "status.json"]
    assert names[-6:] == ["loss.png", "accuracy.png", "confusion_matrix.png", "samples.png", "evaluation.json",
                          "status.json"]  # `complete` is the last write, after everything it vouches for
    assert names[-14:-6] == epoch * 2


@pytest.mark.parametrize("fault", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_a_fault_at_any_write_leaves_one_epoch_and_resume_finishes_the_run(reference, tmp_path: Path, fault,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    net, whole, names = reference
    first = len(names) - 14  # the writes of the two epochs and of the end
    for index in range(first, len(names)):
        out = tmp_path / f"run{index}"
        with monkeypatch.context() as patch:
            _fault_at(index, fault, None, patch)
            with pytest.raises((TrainError, Interrupted)) as caught:
                train(net, out, **SETTINGS)
        run = RunDir(out)
        done = _consistent(run)
        expected = f"{epochs_saved(done, 2)} in {out}"
        assert expected in caught.value.message, (index, names[index], caught.value.message)
        _same_run(train(net, out, resume=True, **SETTINGS), whole)


def test_a_kill_at_any_write_is_repaired_by_resume(reference, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill leaves the directory as it was before the write: eval refuses it or finds
    weights that match its status, and resume always ends with the uninterrupted run."""
    net, whole, names = reference
    for index in range(len(names) - 14, len(names)):
        snapshot = tmp_path / f"killed{index}"
        with monkeypatch.context() as patch:
            _fault_at(index, Killed(), snapshot, patch)
            with pytest.raises(Killed):
                train(net, tmp_path / f"run{index}", **SETTINGS)
        run = RunDir(snapshot)
        status = run.read_status()
        problem = run.mismatch(status)
        if problem is None:
            assert [r["epoch"] for r in run.read_metrics()] == list(range(1, status["epochs_completed"] + 1))
        else:  # a file written after the status: a reader is told, not misled
            done = cnndsl("eval", snapshot)
            assert done.returncode == 1 and done.stderr.startswith(f"error: {snapshot}: {problem}\n")
        _same_run(train(net, snapshot, resume=True, **SETTINGS), whole)


def test_resume_repairs_damaged_metrics_of_a_complete_run(reference, tmp_path: Path) -> None:
    net, whole, _ = reference
    out = tmp_path / "run"
    shutil.copytree(whole.path, out)
    (out / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": 0.5\n')
    done = cnndsl("train", net, *_flags(), "--out", out, "--resume")
    assert done.returncode == 0, done.stderr
    assert (f"{out} says complete, but metrics.jsonl is not the one status.json records for epoch 2; repairing it "
            "from checkpoint.pt") in done.stdout
    _same_run(RunDir(out), whole)


def test_resume_refuses_a_damaged_run_it_cannot_repair(reference, tmp_path: Path) -> None:
    net, whole, _ = reference
    out = tmp_path / "run"
    shutil.copytree(whole.path, out)
    (out / "weights.pt").write_bytes(b"tampered")
    (out / "checkpoint.pt").unlink()
    done = cnndsl("train", net, *_flags(), "--out", out, "--resume")
    assert done.returncode == 1
    assert done.stderr == (f"error: cannot resume {out}: it says 2 epochs are done, but checkpoint.pt is missing\n"
                           "  help: start a new run with another --out\n")


def test_resume_refuses_another_networks_checkpoint_and_leaves_the_run_as_it_was(
        net: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    with monkeypatch.context() as patch:
        interrupt_at(2, patch)
        for out, width in ((mine, 8), (other, 4)):
            with pytest.raises(Interrupted):
                train(net, out, params={"width": width}, **SETTINGS)
    shutil.copy(other / "checkpoint.pt", mine / "checkpoint.pt")
    before = {name: (mine / name).read_bytes() for name in ("status.json", "weights.pt", "metrics.jsonl")}
    done = cnndsl("train", net, *_flags(), "--out", mine, "--resume")
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"error: {mine / 'checkpoint.pt'} does not fit the network Tiny: size mismatch "
                                  "for "), done.stderr
    assert "help: resume with the file and settings the run was trained with" in done.stderr
    assert {name: (mine / name).read_bytes() for name in before} == before  # still `interrupted`, resumable
    (mine / "checkpoint.pt").write_bytes(b"")
    done = cnndsl("train", net, *_flags(), "--out", mine, "--resume")
    assert done.returncode == 1 and done.stderr == (
        f"error: cannot read {mine / 'checkpoint.pt'}: EOFError: it ends before its contents do\n"
        "  help: the file is damaged: cut short, or not written by cnndsl\n"), done.stderr


def test_a_run_from_before_recipes_had_names_is_read_as_fast(reference, tmp_path: Path) -> None:
    net, whole, _ = reference
    out = tmp_path / "run"
    shutil.copytree(whole.path, out)
    _edit(out, "config.json", lambda c: c["settings"].pop("recipe"))
    evaluated = invoke(["eval", out])
    assert evaluated.exception is None and evaluated.exit_code == 0, evaluated.output
    resumed = cnndsl("train", net, *_flags(), "--out", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr


def test_a_second_ctrl_c_while_the_first_is_answered_does_not_leave_the_run_running(
        net: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Users press Ctrl-C more than once: one that lands while the run directory is being
    brought back to its last epoch is held, and the run still ends `interrupted`."""
    import signal

    restore = RunDir.restore

    def pressed_again(run: RunDir, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # delivered at once: the handler runs before the next line
        return restore(run, *args, **kwargs)

    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        interrupt_at(2, patch)
        patch.setattr(RunDir, "restore", pressed_again)
        with pytest.raises(Interrupted, match="interrupted; 1 of 2 epochs is saved"):
            train(net, out, **SETTINGS)
    assert _consistent(RunDir(out)) == 1 and RunDir(out).read_status()["state"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C answered again afterwards


def _flags() -> list[str]:
    return ["--data", "digits", "--epochs", "2", "--batch-size", "50", "--seed", "3", "--limit", "300"]


# ---- reading a run: schema, source digest, weights digest --------------------------------

def _edit(run: Path, name: str, change) -> None:
    data = json.loads((run / name).read_text())
    change(data)
    (run / name).write_text(json.dumps(data))


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("name", "change", "message"), [
    ("config.json", lambda c: c.pop("source", None) or c["network"].pop("source"),
     "config.json: network.source is missing"),
    ("config.json", lambda c: c.pop("data"), "config.json: data is missing"),
    ("config.json", lambda c: c.pop("settings"), "config.json: settings is missing"),
    ("config.json", lambda c: c.__setitem__("network", [1, 2]), "config.json: network must be a mapping, not a list"),
    ("config.json", lambda c: c["network"].__setitem__("params", []),
     "config.json: network.params must be a mapping, not a list"),
    ("config.json", lambda c: c["settings"].__setitem__("epochs", "3"),
     "config.json: settings.epochs is not a valid setting: `epochs` must be a whole number, not \"3\""),
    ("config.json", lambda c: c["adaptation"].__setitem__("mean", [float("nan")]),
     "config.json: adaptation.mean[0] must be a finite number"),
    # fields that are each valid, but do not fit the network the run stores
    ("config.json", lambda c: c["adaptation"].__setitem__("mean", [0.5, 0.5]),
     "config.json: adaptation.mean and adaptation.std need 1 value, one a channel"),
    ("config.json", lambda c: c["adaptation"].__setitem__("std", [0.0]),
     "config.json: adaptation.std must be above 0 (it divides every pixel)"),
    ("config.json", lambda c: c["adaptation"].__setitem__("target", [3, 8, 8]),
     "config.json: adaptation.target is 3x8x8, but the network takes 1x8x8"),
    ("config.json", lambda c: c["adaptation"].__setitem__("source", [3, 100000, 100000]),
     "config.json: adaptation.source 3x100000x100000 has more than the 67,108,864 pixels an image may have"),
    ("config.json", lambda c: c["data"].__setitem__("classes", ["a", "b"]),
     "config.json: data.classes names 2 classes, but the network outputs 10"),
    ("status.json", lambda s: s.__setitem__("state", "finished"),
     "status.json: state must be one of running, complete, diverged, interrupted, failed"),
    ("status.json", lambda s: s.pop("epochs_completed"), "status.json: epochs_completed is missing"),
    ("status.json", lambda s: s.__setitem__("epochs_completed", s["epochs"] + 3),
     "status.json: epochs_completed is 5, more than the run's 2 epochs"),
])
def test_a_malformed_run_file_is_one_message_naming_the_file_and_field(reference, tmp_path: Path, name: str,
                                                                       change, message: str) -> None:
    _, whole, _ = reference
    out = tmp_path / "run"
    shutil.copytree(whole.path, out)
    _edit(out, name, change)
    for command in (["eval", out], ["predict", out, out / "samples.png"]):  # in-process: a real one below
        done = invoke(command)
        assert done.exit_code == 1, done.output
        assert done.stderr.startswith(f"error: {out}/{message}\n"), done.stderr


@pytest.mark.parametrize(("name", "repair"), [
    ("config.json", "the run directory is damaged, and config.json cannot be rebuilt: start a new run with another "
                    "--out"),
    ("status.json", "the run directory is damaged, and status.json cannot be rebuilt: start a new run with another "
                    "--out"),
])
def test_a_truncated_config_or_status_is_not_promised_a_repair(reference, tmp_path: Path, name: str,
                                                              repair: str) -> None:
    net, whole, _ = reference
    out = tmp_path / "run"
    shutil.copytree(whole.path, out)
    (out / name).write_text((out / name).read_text()[:40])
    for done in (cnndsl("eval", out), cnndsl("train", net, *_flags(), "--out", out, "--resume")):
        assert done.returncode == 1 and done.stderr.startswith(f"error: cannot read {out / name}: "), done.stderr
        assert done.stderr.endswith(f"  help: {repair}\n"), done.stderr


def test_a_deeply_nested_config_is_refused(reference, tmp_path: Path) -> None:
    _, whole, _ = reference
    out = tmp_path / "run"
    shutil.copytree(whole.path, out)
    (out / "config.json").write_text(_nested(100_000))
    done = cnndsl("eval", out)
    assert done.returncode == 1
    assert done.stderr == (f"error: cannot read {out / 'config.json'}: it is nested too deeply to be a cnndsl "
                           "file\n")


def test_a_parameter_named_like_a_keyword_of_compile(tmp_path: Path) -> None:
    net = tmp_path / "kw.net"
    net.write_text(TINY_NET.replace("classes = 10", "network = 10").replace("linear(classes)", "linear(network)"))
    done = invoke(["train", net, *_flags(), "--epochs", "1", "--out", tmp_path / "run"])
    assert done.exit_code == 0, done.output
    evaluated = invoke(["eval", tmp_path / "run", "--format", "json"])
    assert evaluated.exit_code == 0 and json.loads(evaluated.stdout)["samples"] > 0


def test_an_edited_source_is_refused_or_with_a_flag_warned_about(reference, tmp_path: Path) -> None:
    _, whole, _ = reference
    out = tmp_path / "run"
    shutil.copytree(whole.path, out)
    stored = out / "source" / "tiny.net"
    stored.write_text(stored.read_text().replace("relu", "sigmoid"))
    done = cnndsl("eval", out)
    assert done.returncode == 1
    assert done.stderr == (f"error: {out}: source/tiny.net changed after training (its SHA-256 is not the one "
                           "config.json records)\n  help: the weights belong to the network as it was trained: "
                           "restore the file, or pass --allow-changed-source to use it anyway\n")
    allowed = cnndsl("eval", out, "--allow-changed-source")
    assert allowed.returncode == 0
    assert allowed.stderr.startswith(f"warning: {out}: source/tiny.net changed after training")


def test_weights_that_are_not_the_recorded_ones_are_refused(reference, tmp_path: Path) -> None:
    _, whole, _ = reference
    out = tmp_path / "run"
    shutil.copytree(whole.path, out)
    weights_of_epoch_1 = torch.load(out / "checkpoint.pt", weights_only=True)["model"]
    weights_of_epoch_1 = {k: v + 1 for k, v in weights_of_epoch_1.items()}
    torch.save(weights_of_epoch_1, out / "weights.pt")
    done = cnndsl("predict", out, out / "samples.png")
    assert done.returncode == 1
    assert done.stderr == (f"error: {out}: weights.pt is not the one status.json records for epoch 2\n"
                           f"  help: `cnndsl train ... --resume --out {out}` repairs the run from its checkpoint\n")
