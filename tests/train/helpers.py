"""Running a training session in-process, quietly, for the tests."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from rich.console import Console

import cnndsl
from cnndsl.backends.torch_module import build
from cnndsl.train.commands.session import Session, TrainRequest
from cnndsl.train.loop import trainer as trainer_module
from cnndsl.train.rundir.files import RunDir
from cnndsl.settings_schema import SETTING_NAMES

DETERMINISTIC_METRICS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr")


def train(net_file: Path, out: Path, data_root: Path | None = None, limit: int | None = None,
          resume: bool = False, params: dict | None = None, console: Console | None = None, **settings) -> RunDir:
    """A run on the CPU, printing to `console` (by default, nowhere)."""
    net = cnndsl.check(net_file, **(params or {})).network()
    flags = {name: settings.get(name) for name in SETTING_NAMES}
    request = TrainRequest(net, build, flags, data_root or out.parent / "data", limit, "cpu", False, out, resume)
    return Session(request, console or Console(file=io.StringIO(), width=120)).run()


def deterministic(records: list[dict]) -> list[dict]:
    return [{key: record[key] for key in DETERMINISTIC_METRICS} for record in records]


def weights(run: RunDir) -> dict[str, torch.Tensor]:
    return torch.load(run / "weights.pt", weights_only=True)


def interrupt_at(epoch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make training raise KeyboardInterrupt (a Ctrl-C) when epoch `epoch` begins."""
    original = trainer_module.Trainer.train_epoch

    def train_epoch(self, number, progress=None):
        if number == epoch:
            raise KeyboardInterrupt
        return original(self, number, progress)

    monkeypatch.setattr(trainer_module.Trainer, "train_epoch", train_epoch)
