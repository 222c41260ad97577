"""The training loop: batches drawn by index on the device, one optimizer step per batch.

Everything random (shuffling, augmentation, dropout) comes from generators whose states
are part of `state_dict()`, so a run resumed from a checkpoint takes exactly the steps an
uninterrupted run takes. Losses are accumulated on the device and read back only a few
times a second, which keeps a GPU from waiting on the host.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .adapt import Normaliser
from .augment import Augmenter
from .batches import DeviceSplit
from .device import DevicePlan
from .metrics import Evaluation, confusion_matrix
from .recipe import build_criterion, build_optimizer, build_schedule
from .settings import TrainSettings

# How often (seconds) the progress display is updated and the loss checked for NaN.
REFRESH_SECONDS = 0.25


class Diverged(Exception):
    """The loss became NaN or infinite; the model's weights are no longer usable."""

    def __init__(self, epoch: int, value: float, where: str) -> None:
        super().__init__(f"the {where} loss became {value} in epoch {epoch}")
        self.epoch = epoch


@dataclass(frozen=True)
class EpochStats:
    """Mean training loss and accuracy over the epoch, and the learning rate of its last step."""

    loss: float
    accuracy: float
    seconds: float
    images_per_second: float
    lr: float


# Called with (images done, images in the epoch, mean loss, accuracy, images per second).
Progress = Callable[[int, int, float, float, float], None]


def model_inputs(images: torch.Tensor, normaliser: Normaliser, plan: DevicePlan) -> torch.Tensor:
    """uint8 images at the adapted geometry -> the float tensor the model takes."""
    inputs = normaliser(images)
    return inputs.contiguous(memory_format=torch.channels_last) if plan.channels_last and inputs.ndim == 4 else inputs


def evaluate(forward: Callable[[torch.Tensor], torch.Tensor], split: DeviceSplit,
             inputs: Callable[[DeviceSplit, slice], torch.Tensor], criterion: nn.Module, plan: DevicePlan,
             classes: int, batch_size: int) -> Evaluation:
    """One pass over `split` in eval mode: mean loss, confusion matrix, predictions. The
    caller puts the model in eval mode."""
    loss_sum = torch.zeros((), device=split.labels.device)
    predictions = []
    with torch.inference_mode(), plan.autocast():
        for start in range(0, len(split), batch_size):
            batch = slice(start, start + batch_size)
            logits = forward(inputs(split, batch)).float()
            targets = split.labels[batch]
            loss_sum += criterion(logits, targets) * targets.shape[0]
            predictions.append(logits.argmax(dim=1))
    predicted = torch.cat(predictions) if predictions else split.labels.new_empty(0)
    return Evaluation(loss_sum.item() / max(len(split), 1), confusion_matrix(split.labels, predicted, classes),
                      predicted.cpu())


class Trainer:
    def __init__(self, model: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor], settings: TrainSettings,
                 train: DeviceSplit, normaliser: Normaliser, augmenter: Augmenter, plan: DevicePlan,
                 classes: int) -> None:
        self.model = model
        self.forward = forward
        self.train_split = train
        self.normaliser = normaliser
        self.augmenter = augmenter
        self.plan = plan
        self.classes = classes
        self.batch_size = min(settings.batch_size, len(train))
        self.eval_batch_size = 2 * settings.batch_size
        self.steps_per_epoch = len(train) // self.batch_size
        self.optimizer = build_optimizer(model, settings, plan.device.type)
        self.scheduler = build_schedule(self.optimizer, settings, self.steps_per_epoch)
        self.criterion = build_criterion(settings)
        self.generator = torch.Generator().manual_seed(settings.seed)

    def inputs(self, split: DeviceSplit, index: torch.Tensor | slice, positions: slice | None = None) -> torch.Tensor:
        """Normalised float inputs for the samples at `index`; augmented when `positions`
        (their places in this epoch's order) are given."""
        images = split.images_at(index)
        if positions is not None:
            images = self.augmenter(images, positions)
        return model_inputs(images, self.normaliser, self.plan)

    def train_epoch(self, epoch: int, progress: Progress | None = None) -> EpochStats:
        """One pass over the training split (the last partial batch is left out, a different
        one each epoch). Raises Diverged when the loss stops being finite."""
        self.model.train()
        split, size, steps = self.train_split, self.batch_size, self.steps_per_epoch
        order = torch.randperm(len(split), generator=self.generator).to(split.labels.device)
        if self.augmenter.augmentation.active:
            self.augmenter.draw(len(split), self.generator)
        loss_sum = torch.zeros((), device=split.labels.device)
        correct = torch.zeros((), dtype=torch.int64, device=split.labels.device)
        start = last_check = time.perf_counter()
        for step in range(steps):
            positions = slice(step * size, (step + 1) * size)
            index = order[positions]
            inputs, targets = self.inputs(split, index, positions), split.labels[index]
            with self.plan.autocast():
                logits = self.forward(inputs)
                loss = self.criterion(logits, targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            lr = self.optimizer.param_groups[0]["lr"]
            self.optimizer.step()
            self.scheduler.step()
            loss_sum += loss.detach() * targets.shape[0]
            correct += (logits.detach().argmax(dim=1) == targets).sum()
            now = time.perf_counter()
            if now - last_check >= REFRESH_SECONDS or step == steps - 1:
                last_check = now
                seen = (step + 1) * size
                mean_loss = self._finite(loss_sum.item() / seen, epoch)
                if progress is not None:
                    progress(seen, steps * size, mean_loss, correct.item() / seen, seen / max(now - start, 1e-9))
        seconds = time.perf_counter() - start
        seen = steps * size
        return EpochStats(self._finite(loss_sum.item() / seen, epoch), correct.item() / seen, seconds,
                          seen / max(seconds, 1e-9), float(lr))

    @staticmethod
    def _finite(value: float, epoch: int, where: str = "training") -> float:
        if not math.isfinite(value):
            raise Diverged(epoch, value, where)
        return value

    def evaluate(self, split: DeviceSplit, epoch: int = 0) -> Evaluation:
        """Loss (with the training criterion), predictions and confusion matrix on a split."""
        self.model.eval()
        evaluation = evaluate(self.forward, split, self.inputs, self.criterion, self.plan, self.classes,
                              self.eval_batch_size)
        self._finite(evaluation.loss, epoch, "test")
        return evaluation

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue exactly: weights, optimizer, schedule
        and every random generator. Only tensors and plain containers, so it loads with
        `torch.load(weights_only=True)`."""
        device = self.plan.device
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "mps_rng": torch.mps.get_rng_state() if device.type == "mps" else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if state.get("cuda_rng") is not None and self.plan.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self.plan.device)
        if state.get("mps_rng") is not None and self.plan.device.type == "mps":
            torch.mps.set_rng_state(state["mps_rng"].cpu())
