"""The run directory: everything a training run leaves behind, and reading it back.

    source/...           the network file(s) the run was trained from
    config.json          the resolved configuration (network, data, adaptation, settings)
    weights.pt           the model's state_dict (tensors only)
    checkpoint.pt        weights, optimizer, schedule and generator states of the last epoch
    metrics.jsonl        one JSON object per finished epoch
    evaluation.json      test loss, accuracy, per-class accuracy, confusion matrix
    loss.png, accuracy.png, confusion_matrix.png, samples.png
    status.json          `running`, `complete`, `diverged` or `interrupted`

Every file is written atomically, and `status.json` says `complete` only once everything
else is in place, so a run that was cut short never looks finished. Weights and
checkpoints are read with `torch.load(weights_only=True)`: a file that would need to run
code to load (a crafted pickle) is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from ...atomic import atomic_torch_save, atomic_write_text, kind_of
from ...source import SourceFile
from ..errors import TrainError, UsageError
from . import schema
from .schema import COMPLETE, DIVERGED, FAILED, INTERRUPTED, RUNNING, Invalid

__all__ = ["COMPLETE", "DIVERGED", "FAILED", "INTERRUPTED", "RUNNING", "RunDir", "safe_load"]

CONFIG = "config.json"
STATUS = "status.json"
WEIGHTS = "weights.pt"
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
EVALUATION = "evaluation.json"
SOURCE_DIR = "source"
LOSS_PLOT = "loss.png"
ACCURACY_PLOT = "accuracy.png"
CONFUSION_PLOT = "confusion_matrix.png"
SAMPLES_PLOT = "samples.png"

# The files status.json records the SHA-256 of, and under which names.
DIGESTS = ((WEIGHTS, "weights_sha256"), (METRICS, "metrics_sha256"))
# The most a JSON file of a run directory may hold: far more than any run writes, and a
# bound on what a crafted file (or a link to /dev/zero) can make a reader load.
MAX_JSON_BYTES = 64 * 2**20


def source_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _relative_sources(files: Iterable[SourceFile]) -> list[tuple[str, SourceFile]]:
    """Each file's path relative to the folder holding them all, so `use "../x.net"` still
    resolves once the files are copied side by side. Text without a path (source given as
    a string, a notebook cell) is `network.net` in the working directory, where its own
    `use` paths start."""
    files = list(files)
    paths = [(f.path if f.path is not None else Path.cwd() / "network.net").resolve() for f in files]
    base = Path(os.path.commonpath([p.parent for p in paths]))
    return [(path.relative_to(base).as_posix(), file) for path, file in zip(paths, files)]


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # creating and opening

    @staticmethod
    def create(path: Path) -> "RunDir":
        """A new run directory; an existing non-empty folder is never overwritten, and
        anything else standing at `path` (a file, a link, a device) is refused."""
        RunDir.check_new(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a parent that is a file, no permission
            raise TrainError(f"cannot create the run directory {path}: {exc.strerror or exc}",
                             help="give --out a path in a folder you can write") from None
        return RunDir(path)

    @staticmethod
    def check_new(path: Path) -> None:
        """Refuse `path` as a new run directory unless it is a new path or an empty folder
        (checked before any work, and again when the folder is made)."""
        try:
            kind = kind_of(path)
            if kind is None and path.exists():
                kind = "a file"
            if kind is not None and kind != "a directory":
                raise TrainError(f"--out {path} is {kind}, not a folder",
                                 help="give a new path or an empty folder for the run directory")
            if kind == "a directory" and any(path.iterdir()):
                hint = "add --resume to continue it" if (path / STATUS).is_file() else "empty it first"
                raise TrainError(f"{path} already exists and is not empty",
                                 help=f"choose another --out, or {hint}")
        except OSError as exc:  # a parent that is a file, a path too long, a loop of links
            raise TrainError(f"cannot create the run directory {path}: {exc.strerror or exc}",
                             help="give --out a path in a folder you can write") from None

    @staticmethod
    def open(path: Path) -> "RunDir":
        """An existing run directory; anything else gets a clear message."""
        if not path.is_dir():
            raise UsageError(f"no such run directory: {path}")
        run = RunDir(path)
        for name in (CONFIG, STATUS):
            if not (path / name).is_file():
                raise TrainError(f"{path} is not a run directory: {name} is missing",
                                 help="give the folder `cnndsl train` wrote (its --out)")
        return run

    @staticmethod
    def default_path(network: str, parent: Path = Path("runs")) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        candidate = parent / f"{network}-{stamp}"
        suffix = 2
        while candidate.exists():
            candidate = parent / f"{network}-{stamp}-{suffix}"
            suffix += 1
        return candidate

    # network source

    def write_sources(self, files: Iterable[SourceFile]) -> tuple[str, dict[str, str]]:
        """Copy the network's files into `source/`; returns the main file's path in the run
        directory and each copied file's SHA-256."""
        digests = {}
        named = _relative_sources(files)
        for relative, file in named:
            atomic_write_text(self.path / SOURCE_DIR / relative, file.text)
            digests[relative] = source_digest(file.text)
        return f"{SOURCE_DIR}/{named[0][0]}", digests

    @staticmethod
    def source_digests(files: Iterable[SourceFile]) -> dict[str, str]:
        return {relative: source_digest(file.text) for relative, file in _relative_sources(files)}

    # json files

    def _read_text(self, name: str) -> str:
        """A file of the run directory as text: a regular file, read up to MAX_JSON_BYTES."""
        path = self.path / name
        try:
            if kind_of(path) is not None:
                raise TrainError(f"{path} is {kind_of(path)}, not a file written by cnndsl")
            with path.open("rb") as stream:
                data = stream.read(MAX_JSON_BYTES + 1)
            if len(data) > MAX_JSON_BYTES:
                raise TrainError(f"{path} is larger than {MAX_JSON_BYTES // 2**20} MiB, which no run writes")
            return data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TrainError(f"cannot read {path}: {exc}") from None

    def _parse(self, name: str, text: str, check: schema.Check, line: int | None = None) -> Any:
        where = f"{self.path / name}" + (f", line {line}" if line is not None else "")
        try:
            data = json.loads(text)
        except ValueError as exc:  # not JSON, or an integer past Python's 4,300 digits
            # resume rebuilds the metrics from the checkpoint; the configuration and status
            # describe what the checkpoint belongs to, so nothing can rebuild them
            repair = ("the run directory is damaged; `--resume` repairs it from checkpoint.pt" if name == METRICS else
                      f"the run directory is damaged, and {name} cannot be rebuilt: start a new run with another --out")
            raise TrainError(f"cannot read {where}: {exc}", help=repair) from None
        except RecursionError:
            raise TrainError(f"cannot read {where}: it is nested too deeply to be a cnndsl file") from None
        try:
            schema.validate(check, data)
        except Invalid as exc:
            raise TrainError(f"{where}: {exc}", help="this file was not written by cnndsl, or was edited") from None
        return data

    def _read_json(self, name: str, check: schema.Check) -> Any:
        return self._parse(name, self._read_text(name), check)

    def _write_json(self, name: str, data: Any) -> None:
        atomic_write_text(self.path / name, json.dumps(data, indent=2) + "\n")

    def write_config(self, config: dict) -> None:
        self._write_json(CONFIG, config)

    def read_config(self) -> dict:
        return self._read_json(CONFIG, schema.CONFIG)

    def write_status(self, state: str, epochs_done: int, epochs: int, message: str | None = None) -> None:
        """The run's state, with the SHA-256 of `weights.pt` and `metrics.jsonl` (null when
        there are none yet): the status names the very files it describes, so a reader can
        tell when a kill between two writes left one of them ahead of the status."""
        digests = {key: file_digest(self.path / name) if (self.path / name).is_file() else None
                   for name, key in DIGESTS}
        self._write_json(STATUS, {"state": state, "epochs_completed": epochs_done, "epochs": epochs,
                                  "message": message, **digests, "updated": datetime.now(timezone.utc).isoformat()})

    def read_status(self) -> dict:
        status = self._read_json(STATUS, schema.STATUS)
        if status["epochs_completed"] > status["epochs"]:  # each field is valid; together they are not
            raise TrainError(f"{self.path / STATUS}: epochs_completed is {status['epochs_completed']}, more than "
                             f"the run's {status['epochs']} epochs", help="this file was not written by cnndsl, "
                                                                          "or was edited")
        return status

    def write_metrics(self, records: list[dict]) -> None:
        atomic_write_text(self.path / METRICS, "".join(json.dumps(record) + "\n" for record in records))

    def read_metrics(self) -> list[dict]:
        if not (self.path / METRICS).exists():
            return []
        lines = self._read_text(METRICS).splitlines()
        return [self._parse(METRICS, line, schema.METRICS_RECORD, number)
                for number, line in enumerate(lines, 1) if line.strip()]

    def write_evaluation(self, evaluation: dict) -> None:
        self._write_json(EVALUATION, evaluation)

    # integrity

    def check_sources(self, config: dict) -> list[str]:
        """The stored network files whose SHA-256 differs from the one config.json records
        (or that are missing, or lie outside the run directory)."""
        changed = []
        root = self.path.resolve()
        for relative, digest in config["network"]["sources"].items():
            path = (self.path / SOURCE_DIR / relative).resolve()
            try:
                text = path.read_text(encoding="utf-8") if path.is_relative_to(root) and path.is_file() else None
            except (OSError, UnicodeDecodeError):
                text = None
            if text is None or source_digest(text) != digest:
                changed.append(f"{SOURCE_DIR}/{relative}")
        return changed

    def mismatch(self, status: dict) -> str | None:
        """Why `weights.pt` or `metrics.jsonl` is not the file `status.json` describes, or
        None when both are (a status from an older cnndsl records no digests: not checked)."""
        for name, key in DIGESTS:
            if key not in status:
                continue
            path = self.path / name
            digest = file_digest(path) if path.is_file() else None
            if digest != status[key]:
                if digest is None:
                    return f"{name} is missing"
                if status[key] is None:
                    return f"{name} is there, but status.json records no finished epoch"
                return f"{name} is not the one status.json records for epoch {status['epochs_completed']}"
        return None

    def damage(self, status: dict) -> str | None:
        """What is wrong with a run that says it is complete, or None: the weights must be
        the recorded ones, metrics.jsonl must hold every epoch, the evaluation must exist."""
        problem = self.mismatch(status)
        if problem is not None:
            return problem
        try:
            epochs = [record["epoch"] for record in self.read_metrics()]
        except TrainError as exc:
            return exc.message
        if epochs != list(range(1, status["epochs_completed"] + 1)):
            return f"{METRICS} holds epochs {epochs or 'none'}, not 1 to {status['epochs_completed']}"
        if not (self.path / EVALUATION).is_file():
            return f"{EVALUATION} is missing"
        return None

    def save_epoch(self, checkpoint: dict, epochs: int) -> None:
        """Everything an epoch leaves, in an order that never lies: the checkpoint first (it
        is what `--resume` and `restore` read, so it decides which epoch is saved), then the
        weights and metrics taken from it, then the status, which names the weights' digest."""
        self.save_checkpoint(checkpoint)
        self.save_weights(checkpoint["model"])
        self.write_metrics(checkpoint["metrics"])
        self.write_status(RUNNING, checkpoint["epoch"], epochs)

    def restore(self, state: str, epochs: int, message: str | None = None) -> list[dict]:
        """Make weights, metrics and status describe the last epoch the checkpoint holds (the
        checkpoint is written first, so it is the last epoch saved whole); returns that
        epoch's metrics records. With no checkpoint no epoch is saved: weights and metrics
        are removed."""
        if (self.path / CHECKPOINT).is_file():
            checkpoint = self.load_checkpoint("cpu")
            self.save_weights(checkpoint["model"])
            records = list(checkpoint["metrics"])
            self.write_metrics(records)
        else:
            for name in (WEIGHTS, METRICS):
                (self.path / name).unlink(missing_ok=True)
            records = []
        self.write_status(state, len(records), epochs, message)
        return records

    # tensors

    def save_weights(self, state_dict: dict) -> None:
        atomic_torch_save(self.path / WEIGHTS, state_dict)

    def save_checkpoint(self, state: dict) -> None:
        atomic_torch_save(self.path / CHECKPOINT, state)

    def load_weights(self, device: Any) -> dict:
        weights = safe_load(self.path / WEIGHTS, device)
        if not isinstance(weights, dict) or not all(isinstance(k, str) for k in weights):
            raise TrainError(f"{self.path / WEIGHTS} does not hold a state_dict (names mapped to tensors)")
        return weights

    def load_checkpoint(self, device: Any) -> dict:
        path = self.path / CHECKPOINT
        state = safe_load(path, device)
        if not isinstance(state, dict) or not {"model", "optimizer", "scheduler", "epoch", "metrics"} <= set(state):
            raise TrainError(f"{path} is not a cnndsl checkpoint")
        try:
            schema.validate(schema.CHECKPOINT, state)
        except Invalid as exc:
            raise TrainError(f"{path}: {exc}") from None
        if [r["epoch"] for r in state["metrics"]] != list(range(1, state["epoch"] + 1)):
            raise TrainError(f"{path}: its metrics do not run from epoch 1 to its epoch {state['epoch']}")
        return state


def safe_load(path: Path, device: Any) -> Any:
    """`torch.load` that only accepts tensors and plain containers, never code."""
    import torch

    if not path.is_file():
        raise TrainError(f"{path} is missing", help="the run has no finished epoch to load")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsupported content"
        raise TrainError(f"refusing to load {path}: it holds more than tensors, and loading it could run code",
                         help=f"only files written by cnndsl are accepted ({detail[:200]})") from None
    except Exception as exc:  # a truncated or foreign file: zip, EOF and pickle errors of many types
        silent = "it ends before its contents do" if isinstance(exc, EOFError) else "no detail given"
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else silent
        raise TrainError(f"cannot read {path}: {type(exc).__name__}: {detail}",
                         help="the file is damaged: cut short, or not written by cnndsl") from None
