"""Data-parallel training with two CPU processes on gloo, over the loopback interface.

The processes are real: `cnndsl train --nproc 2` and torchrun, each in a subprocess with
a time limit, so a hang fails the test instead of stalling the suite. The hooks in
worker_hooks/ (on PYTHONPATH) make a worker fail or stall, forbid ranks other than 0 to
write in the working folder, and dump every rank's final weights.

Tolerance. Two processes against one, same global batch and seed: the losses agree within
TOLERANCE (absolute), the test accuracies within one test image, the weights within
TOLERANCE. Only the order of floating-point sums differs: each process reduces its share
of the batch, and DDP's all-reduce adds the shares' averaged gradients, where one process
reduces the whole batch at once. Networks with batch normalisation are not compared with
one process: their batch statistics are per process (see docs/distributed.md).

A plain `pytest` runs one `--nproc 2` job (the tiny pair below); torchrun, a failing worker with
the resumed run, and a stalled worker (four more jobs, one waiting out its timeout) are marked
slow and run with `pytest --slow`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cli_runner import invoke
from cnndsl.train.commands.launch import failure_record, worker_failure
from cnndsl.train.commands.session import _mismatch
from cnndsl.train.distributed.cluster import Cluster
from cnndsl.train.errors import TrainError, UsageError
from cnndsl.train.rundir.files import RunDir
from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

from .conftest import TINY_NET
from .helpers import deterministic, train, weights

HOOKS = Path(__file__).parent / "worker_hooks"
# Measured differences are about 1e-7 (see the module docstring); this leaves room for
# other CPUs' kernels without letting a wrong gradient through.
TOLERANCE = 1e-5
# A run that has not ended by then is hanging.
PROCESS_LIMIT_SECONDS = 240
NORM_NET = """\
network Norm(classes = 10) {
    input 1x8x8
    conv(8, 3, padding = 1)
    batchnorm
    relu
    dropout2d(0.1)
    maxpool(2)
    flatten
    dropout(0.2)
    linear(classes)
}
"""
# An odd global batch: the processes train on 22 and 23 images of each batch.
TINY_RUN = ("--data", "fake", "--epochs", "2", "--batch-size", "45", "--seed", "3")
NORM_RUN = ("--data", "fake", "--epochs", "3", "--batch-size", "40", "--limit", "400", "--seed", "4",
            "--augment", "crop")
TORCHRUN = ("-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2", "--rdzv-backend", "c10d",
            "--rdzv-endpoint", "127.0.0.1:0", "--local-addr", "127.0.0.1", "--max-restarts", "0", "-m", "cnndsl")


def cnndsl_train(folder: Path, *args: object, hooks: dict | None = None,
                 launcher: tuple[str, ...] = ("-m", "cnndsl")) -> subprocess.CompletedProcess:
    """`cnndsl train ARGS` in a subprocess (its own session, killed whole when it runs past
    the limit), one thread per process so that the processes' kernels are the same in
    every run; ranks other than 0 may not write in `folder/work`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HOOKS), os.environ.get("PYTHONPATH")])),
           "CNNDSL_TEST_HOOKS": json.dumps({"guard": str(folder / "work"), **(hooks or {})})}
    process = subprocess.Popen([sys.executable, *launcher, "train", *map(str, args), "--device", "cpu"],
                               cwd=folder / "work", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=PROCESS_LIMIT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"`cnndsl train {' '.join(map(str, args))}` hung")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def workspace(folder: Path, net: str) -> Path:
    (folder / "work").mkdir(parents=True)
    (folder / "dump").mkdir()
    (folder / "work" / "net.net").write_text(net)
    return folder / "work" / "net.net"


def rank_weights(folder: Path) -> list[dict[str, torch.Tensor]]:
    return [torch.load(folder / "dump" / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]


def assert_identical(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunDir, RunDir]:
    """The same run by one process (in this one) and by two (`--nproc 2`), which print
    their plan and progress once."""
    folder = tmp_path_factory.mktemp("tiny")
    net = workspace(folder, TINY_NET)
    single = train(net, folder / "single", data="fake", epochs=2, batch_size=45, seed=3)
    result = cnndsl_train(folder, net, *TINY_RUN, "--out", "run", "--nproc", "2",
                          hooks={"dump": str(folder / "dump")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("network Tiny") == result.stdout.count("epoch 2/2") == 1, result.stdout
    assert "global batch 45 = 22 or 23 per process" in result.stdout
    return folder, single, RunDir(folder / "work" / "run")


def test_two_processes_match_one_within_the_tolerance(tiny_pair: tuple[Path, RunDir, RunDir]) -> None:
    _, single, double = tiny_pair
    one, two = single.read_metrics(), double.read_metrics()
    assert [r["epoch"] for r in two] == [1, 2]
    for a, b in zip(one, two):
        assert a["lr"] == b["lr"]
        for key in ("train_loss", "test_loss"):
            assert abs(a[key] - b[key]) <= TOLERANCE, (key, a[key], b[key])
        assert abs(a["test_accuracy"] - b["test_accuracy"]) <= 1 / 128 + 1e-12
        assert abs(a["train_accuracy"] - b["train_accuracy"]) <= 1 / 495 + 1e-12
    expected, got = weights(single), weights(double)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.allclose(expected[key], got[key], rtol=0, atol=TOLERANCE), key
    config = double.read_config()
    assert config["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert single.read_config()["distributed"] == {"world_size": 1, "backend": None}


def test_the_processes_end_with_identical_weights(tiny_pair: tuple[Path, RunDir, RunDir]) -> None:
    folder, _, double = tiny_pair
    first, second = rank_weights(folder)
    assert_identical(first, second)
    assert_identical(first, weights(double))


def test_only_rank_0_writes_and_prints(tiny_pair: tuple[Path, RunDir, RunDir]) -> None:
    """The hooks forbid rank 1 any write in the working folder (the run would have failed);
    the run directory holds what a single process writes, and the plan is printed once."""
    folder, single, double = tiny_pair

    def files(run: RunDir) -> set[str]:
        return {p.relative_to(run.path).as_posix() for p in run.path.rglob("*") if p.parent.name != "source"}

    assert files(double) == files(single)
    assert sorted(p.name for p in (folder / "work").iterdir()) == ["net.net", "run"]
    assert double.read_status()["state"] == "complete"


@pytest.fixture(scope="module")
def norm_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A network with batch normalisation and dropout, trained by torchrun without
    interruption, into work/whole."""
    folder = tmp_path_factory.mktemp("norm")
    net = workspace(folder, NORM_NET)
    result = cnndsl_train(folder, net, *NORM_RUN, "--out", "whole", hooks={"dump": str(folder / "dump")},
                          launcher=TORCHRUN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "epoch 3/3" in result.stdout and result.stdout.count("network Norm") == 1
    return folder


@pytest.mark.slow
def test_torchrun_runs_the_same_command_and_buffers_agree(norm_runs: Path) -> None:
    first, second = rank_weights(norm_runs)
    assert_identical(first, second)
    assert any("running_mean" in key for key in first)
    run = RunDir(norm_runs / "work" / "whole")
    assert run.read_status()["state"] == "complete" and len(run.read_metrics()) == 3
    assert_identical(first, weights(run))


@pytest.mark.slow
def test_a_failing_worker_stops_the_job_and_the_run_resumes_exactly(norm_runs: Path) -> None:
    net = norm_runs / "work" / "net.net"
    failed = cnndsl_train(norm_runs, net, *NORM_RUN, "--out", "cut", "--nproc", "2",
                          hooks={"fail": {"rank": 1, "epoch": 2}})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "worker 1 of 2 failed: RuntimeError: injected failure in rank 1, epoch 2" in failed.stderr
    assert "Traceback" not in failed.stderr + failed.stdout
    cut = RunDir(norm_runs / "work" / "cut")
    status = cut.read_status()  # `failed`, or `running` when the launcher stopped rank 0 before it could say so
    assert len(cut.read_metrics()) == 1 and status["state"] in ("failed", "running") and cut.mismatch(status) is None

    resumed = cnndsl_train(norm_runs, net, *NORM_RUN, "--out", "cut", "--nproc", "2", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming after epoch 1 of 3" in resumed.stdout
    whole = RunDir(norm_runs / "work" / "whole")
    assert deterministic(cut.read_metrics()) == deterministic(whole.read_metrics())
    assert_identical(weights(cut), weights(whole))


@pytest.mark.slow
def test_a_stalled_worker_is_given_up_after_the_timeout(tmp_path: Path) -> None:
    net = workspace(tmp_path, TINY_NET)
    result = cnndsl_train(tmp_path, net, "--data", "fake", "--epochs", "1", "--out", "run", "--nproc", "2",
                          "--dist-timeout", "4", hooks={"stall": {"rank": 1, "epoch": 1}})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "worker 0 of 2 failed: RuntimeError:" in result.stderr and "--dist-timeout" in result.stderr
    assert RunDir(tmp_path / "work" / "run").read_status()["state"] in ("failed", "running")


def test_the_cluster_comes_from_torchrun_s_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert Cluster.from_environment(5) == Cluster(timeout=5)
    for name, value in (("RANK", "3"), ("WORLD_SIZE", "4"), ("LOCAL_RANK", "1")):
        monkeypatch.setenv(name, value)
    cluster = Cluster.from_environment()
    assert (cluster.rank, cluster.world_size, cluster.local_rank, cluster.cuda_index) == (3, 4, 1, 1)
    assert not cluster.is_main and cluster.distributed and cluster.timeout == 600
    with pytest.raises(TrainError, match="MASTER_ADDR and MASTER_PORT are not set") as caught:
        with cluster.connected(torch.device("cpu")):
            pass
    assert "torchrun" in caught.value.help
    monkeypatch.setenv("WORLD_SIZE", "1")  # torchrun with one process: nothing to share
    assert not Cluster.from_environment().distributed


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_every_batch_is_shared_out_whole_and_evenly(world: int) -> None:
    for batch in range(world, 12):
        shares = [Cluster(rank, world).share(batch) for rank in range(world)]
        assert [i for share in shares for i in range(batch)[share]] == list(range(batch))
        assert max(s.stop - s.start for s in shares) - min(s.stop - s.start for s in shares) <= 1
        parts = [Cluster(rank, world).part(batch - world) for rank in range(world)]
        assert [i for part in parts for i in part] == list(range(batch - world))


def test_a_batch_smaller_than_the_number_of_processes_is_refused() -> None:
    with pytest.raises(TrainError, match="a batch of 2 images cannot be shared by 3 processes") as caught:
        Cluster(0, 3).share(2)
    assert "--batch-size 3" in caught.value.help


def test_resuming_needs_the_same_number_of_processes() -> None:
    config = {"network": {"name": "N"}, "distributed": {"world_size": 2, "backend": "gloo"}}
    assert _mismatch(config, {**config, "distributed": {"world_size": 4, "backend": "gloo"}}) == \
        "distributed.world_size was 2, now 4"
    older = {"network": {"name": "N"}}  # written before distributed training: one process
    assert _mismatch(older, {**older, "distributed": {"world_size": 1, "backend": None}}) is None


def _exited(exitcode: int) -> ProcessFailure:
    return ProcessFailure(local_rank=1, pid=123, exitcode=exitcode, error_file="<N/A>")


def _record(rank: int, seconds: float, problem: Exception) -> dict:
    try:
        raise problem
    except Exception as exc:
        record = failure_record(exc, rank)
    record["cnndsl"]["time"] = seconds
    return record


def test_the_first_recorded_failure_is_reported_in_the_worker_s_words() -> None:
    lost = _record(0, 20.0, RuntimeError("Connection closed by peer"))
    own = _record(1, 10.0, UsageError("unknown data set `nope`", help="known: ..."))
    failure = worker_failure(0, _exited(1), [lost, own], 2)
    assert (failure.message, failure.help, failure.exit_code) == ("unknown data set `nope`", "known: ...", 2)
    assert own["message"] == "unknown data set `nope` (help: known: ...)"  # what torchrun prints


def test_an_unexpected_failure_points_to_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", "/tmp/run/attempt_0/1/error.json")
    crash = _record(1, 10.0, ValueError("boom"))
    assert "Traceback" in crash["message"]["extraInfo"]["py_callstack"]
    failure = worker_failure(1, _exited(1), [crash, _record(0, 11.0, RuntimeError("Timed out"))], 4)
    assert failure.message == "worker 1 of 4 failed: ValueError: boom; the others were stopped"
    assert failure.help == "its traceback is in /tmp/run/attempt_0/1/error.json" and failure.exit_code == 1
    stalled = worker_failure(0, _exited(1), [_record(0, 11.0, RuntimeError("Timed out waiting 3000ms"))], 2)
    assert "--dist-timeout" in stalled.help


def test_a_worker_killed_by_a_signal_is_the_cause() -> None:
    killed = worker_failure(3, _exited(-9), [_record(0, 11.0, RuntimeError("Connection reset by peer"))], 4)
    assert killed.message.startswith("worker 3 of 4 was stopped by SIGKILL") and "memory" in killed.help
    assert worker_failure(2, _exited(7), [], 4).message.startswith("worker 2 of 4 exited with code 7")


def test_nproc_usage_errors_are_reported_before_any_process_starts(tiny_net: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke(["train", str(tiny_net), "--data", "digits", "--nproc", "0"]).exit_code == 2
    result = invoke(["train", str(tiny_net), "--data", "nope", "--nproc", "2"])
    assert result.exit_code == 2 and "unknown data set `nope`" in result.output
    result = invoke(["train", str(tiny_net), "--data", "digits", "--batch-size", "1", "--nproc", "2"])
    assert result.exit_code == 1 and "a batch of 1 image cannot be shared by 2 processes" in result.output
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    result = invoke(["train", str(tiny_net), "--data", "digits", "--nproc", "2"])
    assert result.exit_code == 2 and "under torchrun, leave it out" in result.output
