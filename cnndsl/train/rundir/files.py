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

from ...atomic import atomic_torch_save, atomic_write_text
from ...source import SourceFile
from ..errors import TrainError, UsageError

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

RUNNING, COMPLETE, DIVERGED, INTERRUPTED = "running", "complete", "diverged", "interrupted"


def source_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
        """A new run directory; an existing non-empty folder is never overwritten."""
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            hint = "add --resume to continue it" if (path / STATUS).is_file() else "empty it first"
            raise TrainError(f"{path} already exists and is not empty",
                             help=f"choose another --out, or {hint}")
        path.mkdir(parents=True, exist_ok=True)
        return RunDir(path)

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

    def _read_json(self, name: str) -> Any:
        try:
            return json.loads((self.path / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TrainError(f"cannot read {self.path / name}: {exc}") from None

    def _write_json(self, name: str, data: Any) -> None:
        atomic_write_text(self.path / name, json.dumps(data, indent=2) + "\n")

    def write_config(self, config: dict) -> None:
        self._write_json(CONFIG, config)

    def read_config(self) -> dict:
        config = self._read_json(CONFIG)
        if not isinstance(config, dict) or "network" not in config or "adaptation" not in config:
            raise TrainError(f"{self.path / CONFIG} is not a cnndsl run configuration")
        return config

    def write_status(self, state: str, epochs_done: int, epochs: int, message: str | None = None) -> None:
        self._write_json(STATUS, {"state": state, "epochs_completed": epochs_done, "epochs": epochs,
                                  "message": message, "updated": datetime.now(timezone.utc).isoformat()})

    def read_status(self) -> dict:
        status = self._read_json(STATUS)
        if not isinstance(status, dict) or "state" not in status:
            raise TrainError(f"{self.path / STATUS} is not a cnndsl run status")
        return status

    def write_metrics(self, records: list[dict]) -> None:
        atomic_write_text(self.path / METRICS, "".join(json.dumps(record) + "\n" for record in records))

    def read_metrics(self) -> list[dict]:
        path = self.path / METRICS
        if not path.is_file():
            return []
        try:
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TrainError(f"cannot read {path}: {exc}") from None

    def write_evaluation(self, evaluation: dict) -> None:
        self._write_json(EVALUATION, evaluation)

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
        state = safe_load(self.path / CHECKPOINT, device)
        if not isinstance(state, dict) or not {"model", "optimizer", "scheduler", "epoch"} <= set(state):
            raise TrainError(f"{self.path / CHECKPOINT} is not a cnndsl checkpoint")
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
        raise TrainError(f"cannot read {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
