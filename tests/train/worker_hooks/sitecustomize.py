"""Test hooks for the processes of a distributed training run, installed by putting this
folder on PYTHONPATH and configured by CNNDSL_TEST_HOOKS (JSON):

    guard  a folder in which ranks other than 0 must not create, change or remove anything
    dump   a folder into which every rank saves its model's state after each evaluation
    fail   {"rank": r, "epoch": e}: rank r raises at the start of epoch e
    stall  {"rank": r, "epoch": e}: rank r stops responding at the start of epoch e

The launcher gives a worker its rank (RANK) after the process has started, so every hook
reads it when it fires, and does nothing outside a distributed worker.
"""

import json
import os
import sys
import time

CONFIG = json.loads(os.environ.get("CNNDSL_TEST_HOOKS", "{}"))
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def rank() -> int:
    return int(os.environ.get("RANK", "-1"))


def _writes(event: str, args: tuple) -> list:
    """The paths an audited operation would create, change or remove."""
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & WRITE_FLAGS)
        return [path] if writing else []
    if event in ("os.mkdir", "os.remove", "os.rmdir", "os.truncate"):
        return [args[0]]
    if event == "os.rename":
        return [args[0], args[1]]
    return []


def _guard(folder: str) -> None:
    guarded = os.path.realpath(folder) + os.sep

    def audit(event: str, args: tuple) -> None:
        if rank() <= 0:
            return
        for path in _writes(event, args):
            if isinstance(path, (str, bytes, os.PathLike)):
                real = os.path.realpath(os.fsdecode(path))
                if real.startswith(guarded):
                    raise PermissionError(f"rank {rank()} must not write {real} ({event})")

    sys.addaudithook(audit)


def _patch_trainer() -> None:
    import torch

    from cnndsl.train.loop import trainer

    train_epoch, evaluate = trainer.Trainer.train_epoch, trainer.Trainer.evaluate

    def hooked_train_epoch(self, epoch, progress=None):
        for name in ("fail", "stall"):
            hook = CONFIG.get(name)
            if hook and hook["rank"] == rank() and hook["epoch"] == epoch:
                if name == "fail":
                    raise RuntimeError(f"injected failure in rank {rank()}, epoch {epoch}")
                time.sleep(600)
        return train_epoch(self, epoch, progress)

    def hooked_evaluate(self, split, epoch=0):
        result = evaluate(self, split, epoch)
        if "dump" in CONFIG and rank() >= 0:
            state = {key: value.detach().cpu().clone() for key, value in self.model.state_dict().items()}
            torch.save(state, os.path.join(CONFIG["dump"], f"rank{rank()}.pt"))
        return result

    trainer.Trainer.train_epoch = hooked_train_epoch
    trainer.Trainer.evaluate = hooked_evaluate


if "guard" in CONFIG:
    _guard(CONFIG["guard"])
if {"dump", "fail", "stall"} & set(CONFIG):
    _patch_trainer()
