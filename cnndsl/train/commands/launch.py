"""Starting training processes, and reporting how they ended.

`cnndsl train --nproc N` starts N workers on this machine through torch.distributed's
elastic launcher, the machinery behind torchrun: a c10d rendezvous on a free port of the
loopback interface, then one spawned process per worker with RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT set. `torchrun ... -m cnndsl train ...` runs the same worker
code through the command line instead.

When a worker fails, the launcher stops the others (no restarts: a failed epoch is not
retried). Each worker records its failure, with the time, in the error file the launcher
gave it (TORCHELASTIC_ERROR_FILE, which torchrun's report prints) and, under `--nproc`, in
a folder the launcher reads: it then prints the first failure in the worker's own words,
rather than the lost contact that the other workers report after it.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import tempfile
import time
import traceback
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from rich.console import Console
from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from ... import ir
from ...atomic import atomic_write_text
from ...settings_schema import check_option
from ..distributed.cluster import Cluster, running_distributed
from ..errors import Interrupted, TrainError, UsageError
from ..rundir.files import RunDir
from .session import Session, TrainRequest, checked_settings
from .signals import terminated_as_interrupted

ERROR_FILE = "TORCHELASTIC_ERROR_FILE"
# The rendezvous of `--nproc`: a TCP store on a free port of the loopback interface, as
# torchrun's --standalone does.
LOCAL_ENDPOINT = "127.0.0.1:0"
# How often (seconds) the launcher checks on its workers.
MONITOR_SECONDS = 0.1
# Workers are forked from a fresh server process that has imported torch and cnndsl once,
# rather than each importing them again (seconds per worker); where there is no fork
# server (Windows), they are spawned.
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
PRELOAD = [__name__, "torch._dynamo"]
# The launcher's own loggers, which would repeat a worker's failure as a traceback.
LAUNCHER_LOGGERS = ("torch.distributed.elastic", "torch.multiprocessing")


class WorkerFailed(TrainError):
    """A worker's failure, as the launcher reports it, with the worker's exit code."""

    family_code = "T0004"  # a failure without a worker's own error: a worker that died

    def __init__(self, message: str, help: str | None = None, exit_code: int = 1, code: str | None = None) -> None:
        super().__init__(message, help, code=code)
        self.exit_code = exit_code


def failure_record(exc: BaseException, rank: int) -> dict:
    """A worker's failure as its launcher reads it: torchelastic's error-file format (a
    message, with the traceback of an unexpected exception, which torchrun prints), plus
    cnndsl's own fields: the message and help to print, the exit code, and when it failed
    (to tell the first failure from the others' lost contact)."""
    now = time.time()
    if isinstance(exc, TrainError):
        message: str | dict = exc.message + (f" (help: {exc.help})" if exc.help else "")
        ours = {"message": exc.message, "help": exc.help, "exit_code": exc.exit_code, "code": exc.code}
    else:
        problem = f"{type(exc).__name__}: {exc}"
        message = {"message": problem, "extraInfo": {"py_callstack": traceback.format_exc(), "timestamp": str(int(now))}}
        ours = {"message": problem, "help": None, "exit_code": 1, "unexpected": True}
    return {"message": message, "timestamp": int(now),
            "cnndsl": {**ours, "rank": rank, "time": now, "error_file": os.environ.get(ERROR_FILE)}}


@contextmanager
def failures_recorded(rank: int, report: Path | None = None) -> Iterator[None]:
    """Write a failure of this worker to the error file its launcher gave it (when it has
    one) and to `report`, then let it go on. The files are written whole or not at all: the
    launcher may stop this worker while it writes."""
    try:
        yield
    except Exception as exc:
        record = json.dumps(failure_record(exc, rank))
        for path in (os.environ.get(ERROR_FILE), report):
            if path:
                atomic_write_text(Path(path), record)
        raise


def train_network(net: ir.Network, flags: Mapping[str, Any], console: Console, *, data_root: Path,
                  limit: int | None, device: str, compile: bool, out: Path | None, resume: bool,
                  nproc: int | None, timeout: float | None, init: Path | None = None,
                  fresh: tuple[str, ...] = (), follow_links: bool = False) -> Path:
    """`cnndsl train` and `cnndsl.train` from the checked network on: train in this process,
    or in `nproc` of them, and return the run directory. Both faces come through here, so
    an option means the same and is checked by the same rules on either."""
    for name, value in (("limit", limit), ("nproc", nproc), ("dist_timeout", timeout)):
        if value is not None and (problem := check_option(name, value)) is not None:
            raise UsageError(problem.message, problem.help)
    from ...backends.torch_module import build

    # The default run directory is named here, once, so that the caller learns it even
    # when other processes do the training.
    run = out if out is not None or resume else RunDir.default_path(net.name)
    request = TrainRequest(net, build, flags, data_root, limit, device, compile, run, resume, init, fresh,
                           follow_links)
    if nproc is not None and nproc > 1:
        launch(request, nproc, timeout)
    else:
        train_here(request, console, timeout)
    assert run is not None, "a resumed session without a run directory stops with an error"
    return run


def train_here(request: TrainRequest, console: Console, timeout: float | None = None,
               reports: Path | None = None) -> None:
    """Train in this process: alone, or as one of several (only rank 0 prints). A failure
    is recorded for the launcher, in `reports/rank{RANK}.json` too when given."""
    cluster = Cluster.from_environment(timeout)
    if not cluster.is_main:
        console = Console(quiet=True)
    with failures_recorded(cluster.rank, reports / f"rank{cluster.rank}.json" if reports else None), \
            terminated_as_interrupted(not cluster.distributed):
        Session(request, console, cluster).run()


def _worker(request: TrainRequest, timeout: float | None, reports: Path) -> None:
    """What each process started by `--nproc` runs. Its failure is recorded for the
    launcher, which prints it; the worker leaves with the exit code alone."""
    try:
        train_here(request, Console(highlight=False, soft_wrap=True), timeout, reports)
    except TrainError as exc:
        raise SystemExit(exc.exit_code) from None
    except Exception:
        raise SystemExit(1) from None


def launch(request: TrainRequest, nproc: int, timeout: float | None = None) -> None:
    """Train with `nproc` processes on this machine; raises a TrainError describing the
    first worker that failed."""
    if running_distributed():
        raise UsageError("--nproc starts its own processes; under torchrun, leave it out")
    resolved, _ = checked_settings(request)  # a bad flag is reported before any process starts
    Cluster(world_size=nproc).share(resolved.settings.batch_size)
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint=LOCAL_ENDPOINT, local_addr="127.0.0.1",
                          max_restarts=0, monitor_interval=MONITOR_SECONDS, start_method=START_METHOD)
    if START_METHOD == "forkserver":
        multiprocessing.set_forkserver_preload(PRELOAD)
    with _quiet_launcher(), tempfile.TemporaryDirectory(prefix="cnndsl-workers-") as folder:
        reports = Path(folder)
        try:
            elastic_launch(config, _worker)(request, timeout, reports)
        except ChildFailedError as exc:
            records = [json.loads(path.read_text(encoding="utf-8")) for path in reports.glob("rank*.json")]
            raise worker_failure(*exc.get_first_failure(), records, nproc) from None
        except SignalException as exc:
            raise Interrupted(f"interrupted ({exc.sigval.name}); the epochs finished so far are saved", request.out,
                              help="continue with the same command plus --resume --out RUN_DIR") from None


def worker_failure(rank: int, failure: ProcessFailure, records: list[dict], world_size: int) -> WorkerFailed:
    """What to say about a failed job. A worker killed by a signal recorded nothing, and
    is the cause; otherwise the first recorded failure is (when a worker fails, the others
    fail later, having lost contact with it)."""
    if failure.exitcode < 0:
        return WorkerFailed(f"worker {rank} of {world_size} was stopped by {failure.signal_name()}; the others "
                            "were stopped too",
                            help="SIGKILL often means the machine ran out of memory (try a smaller --batch-size or "
                                 "fewer processes); NCCL stops a worker with SIGABRT when it waited longer than "
                                 "--dist-timeout for the others")
    if not records:
        return WorkerFailed(f"worker {rank} of {world_size} exited with code {failure.exitcode}; the others were "
                            "stopped")
    first = min((record["cnndsl"] for record in records), key=lambda record: record["time"])
    if not first.get("unexpected"):
        return WorkerFailed(first["message"], first["help"], first["exit_code"], first.get("code"))
    waited = ("it waited longer than --dist-timeout for the others, one of which stopped responding; "
              if "timed out" in first["message"].lower() else "")
    where = f"its traceback is in {first['error_file']}" if first["error_file"] else "it recorded no traceback"
    return WorkerFailed(f"worker {first['rank']} of {world_size} failed: {first['message']}; the others were stopped",
                        help=waited + where)


@contextmanager
def _quiet_launcher() -> Iterator[None]:
    """Silence the launcher's logging while it runs: a failure is reported once, by us."""
    loggers = [logging.getLogger(name) for name in LAUNCHER_LOGGERS]
    saved = [(logger.propagate, list(logger.handlers)) for logger in loggers]
    for logger in loggers:
        logger.propagate = False
        logger.handlers = [logging.NullHandler()]
    try:
        yield
    finally:
        for logger, (propagate, handlers) in zip(loggers, saved):
            logger.propagate, logger.handlers = propagate, handlers
