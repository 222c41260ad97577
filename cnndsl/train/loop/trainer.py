"""The training loop: batches drawn by index on the device, one optimizer step per batch.

Everything random (shuffling, augmentation, dropout) comes from generators whose states
are part of `state_dict()`, so a run resumed from a checkpoint takes exactly the steps an
uninterrupted run takes. Losses are accumulated on the device and read back only a few
times a second, which keeps a GPU from waiting on the host.

With several processes (a `Cluster`), each trains on its share of every batch and
evaluates its part of the test set; the shuffling and augmentation draws are the same on
every rank, and the epoch's figures are summed over the ranks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, cast

import torch
from torch import nn

from ...settings_schema import TrainSettings
from ..data.adapt import Normaliser
from ..data.augment import Augmenter
from ..data.batches import DeviceSplit
from ..distributed.cluster import Cluster
from .cores import Cores
from .device import DevicePlan
from .metrics import Evaluation, confusion_matrix
from .recipe import build_criterion, build_optimizer, build_schedule

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


def effective_batch_size(settings: TrainSettings, samples: int) -> int:
    """The global batch: `batch_size`, or all the training images when there are fewer."""
    return min(settings.batch_size, samples)


def evaluate(forward: Callable[[torch.Tensor], torch.Tensor], split: DeviceSplit,
             inputs: Callable[[DeviceSplit, slice], torch.Tensor], criterion: nn.Module, plan: DevicePlan,
             classes: int, batch_size: int, cluster: Cluster = Cluster(), cores: Cores = Cores()) -> Evaluation:
    """One pass over `split` in eval mode: mean loss, confusion matrix, predictions. Each
    rank of `cluster` evaluates its part, shared among `cores` (batches of `batch_size` in
    all), and the results are combined. The caller puts the model in eval mode."""
    part = cluster.part(len(split))
    batch = max(batch_size // cores.size, 1)

    def run(piece: slice) -> tuple[torch.Tensor, list[torch.Tensor]]:
        loss_sum, predictions = torch.zeros((), device=split.device), []
        with torch.inference_mode(), plan.autocast():
            for start in range(part.start + piece.start, part.start + piece.stop, batch):
                samples = slice(start, min(start + batch, part.start + piece.stop))
                logits = forward(inputs(split, samples)).float()
                targets = split.labels_at(samples)
                loss_sum += criterion(logits, targets) * targets.shape[0]
                predictions.append(logits.argmax(dim=1))
        return loss_sum, predictions

    results = cores.map(run, cores.pieces(len(part))) if len(part) else []
    loss_sum = sum((loss for loss, _ in results), torch.zeros((), device=split.device))
    predictions = [logits for _, batches in results for logits in batches]
    predicted = torch.cat(predictions) if predictions else split.labels.new_empty(0, device=split.device)
    confusion = cluster.sum(confusion_matrix(split.labels_at(slice(part.start, part.stop)), predicted, classes))
    if cluster.distributed:
        predicted = torch.tensor([p for ps in cluster.gather(predicted.tolist()) for p in ps], dtype=torch.int64)
    return Evaluation(cluster.sum(loss_sum).item() / max(len(split), 1), confusion, predicted.cpu())


class Trainer:
    def __init__(self, model: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor], settings: TrainSettings,
                 train: DeviceSplit, normaliser: Normaliser, augmenter: Augmenter, plan: DevicePlan,
                 classes: int, cluster: Cluster = Cluster(), cores: Cores = Cores()) -> None:
        self.model = model
        self.forward = forward
        self.train_split = train
        self.normaliser = normaliser
        self.augmenter = augmenter
        self.plan = plan
        self.classes = classes
        self.cluster = cluster
        self.cores = cores  # the test pass is always shared among them, a training step when `cores.steps`
        self.parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
        self.batch_size = effective_batch_size(settings, len(train))
        self.share = cluster.share(self.batch_size)
        self.share_size = self.share.stop - self.share.start
        # DDP averages the ranks' gradients; weighting each rank's mean loss by its share
        # of the batch makes that average the gradient of the whole batch's mean loss, even
        # when the batch does not divide evenly (1.0, exactly, for a single process).
        self.loss_weight = self.share_size * cluster.world_size / self.batch_size
        self.eval_batch_size = 2 * max(settings.batch_size // cluster.world_size, 1)
        self.steps_per_epoch = len(train) // self.batch_size
        self.optimizer = build_optimizer(model, settings)
        self.scheduler = build_schedule(self.optimizer, settings, self.steps_per_epoch)
        self.criterion = build_criterion(settings)
        self.generator = torch.Generator().manual_seed(settings.seed)
        # fp16 autocast (GPUs without native bf16) scales the loss so that small gradients
        # survive; elsewhere the scaler does nothing.
        self.scaler = torch.amp.GradScaler(plan.device.type, enabled=plan.scales_gradients)

    def inputs(self, split: DeviceSplit, index: torch.Tensor | slice, positions: slice | None = None) -> torch.Tensor:
        """Normalised float inputs for the samples at `index`; augmented when `positions`
        (their places in this epoch's order) are given."""
        images = split.images_at(index)
        if positions is not None:
            images = self.augmenter(images, positions)
        return model_inputs(images, self.normaliser, self.plan)

    def train_epoch(self, epoch: int, progress: Progress | None = None) -> EpochStats:
        """One pass over the training split (the last partial batch is left out, a different
        one each epoch). Raises Diverged when the loss stops being finite: within the epoch
        for a single process; at its end, on the loss summed over the ranks, for several
        (so that all ranks stop at the same step)."""
        self.model.train()
        split, size, steps, share = self.train_split, self.batch_size, self.steps_per_epoch, self.share
        order = torch.randperm(len(split), generator=self.generator).to(split.labels.device)
        if self.augmenter.augmentation.active:
            self.augmenter.draw(len(split), self.generator)
        loss_sum = torch.zeros((), device=split.device)
        correct = torch.zeros((), dtype=torch.int64, device=split.device)
        start = last_check = time.perf_counter()
        for step in range(steps):
            positions = slice(step * size + share.start, step * size + share.stop)
            batch_loss, batch_correct = self._step(order, positions)
            lr = self.optimizer.param_groups[0]["lr"]
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            loss_sum += batch_loss
            correct += batch_correct
            now = time.perf_counter()
            if now - last_check >= REFRESH_SECONDS or step == steps - 1:
                last_check = now
                mine = (step + 1) * self.share_size
                mean_loss = loss_sum.item() / mine
                if not self.cluster.distributed:
                    self._finite(mean_loss, epoch)
                if progress is not None:  # this rank's loss and accuracy, all ranks' images
                    done = (step + 1) * size
                    progress(done, steps * size, mean_loss, correct.item() / mine, done / max(now - start, 1e-9))
        self.cluster.average_buffers(self.model)
        seconds = time.perf_counter() - start
        seen = steps * size
        loss_sum, correct = self.cluster.sum(loss_sum), self.cluster.sum(correct)
        return EpochStats(self._finite(loss_sum.item() / seen, epoch), correct.item() / seen, seconds,
                          seen / max(seconds, 1e-9), float(lr))

    def _step(self, order: torch.Tensor, positions: slice) -> tuple[torch.Tensor, torch.Tensor]:
        """The gradients of one batch (the samples at `positions` of the epoch's `order`),
        computed on one thread or shared among the cores; returns the batch's summed loss and
        its count of correct predictions."""
        self.optimizer.zero_grad(set_to_none=True)
        count = positions.stop - positions.start
        parts = self.cores.step_pieces(count)
        if len(parts) == 1:
            loss, loss_sum, correct = self._loss(order, positions, self.loss_weight)
            self.scaler.scale(loss).backward()
            return loss_sum, correct

        def gradients(part: slice) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor | None, ...]]:
            piece = slice(positions.start + part.start, positions.start + part.stop)
            loss, loss_sum, correct = self._loss(order, piece, self.loss_weight * (part.stop - part.start) /
                                                 self.share_size)
            return loss_sum, correct, torch.autograd.grad(self.scaler.scale(loss), self.parameters, allow_unused=True)

        results = self.cores.map(gradients, parts)
        # The pieces run the same graph, so the same parameters have no gradient in each.
        first = results[0][2]
        used = [index for index, grad in enumerate(first) if grad is not None]
        totals = [cast(torch.Tensor, first[index]) for index in used]
        for _, _, grads in results[1:]:
            totals = list(torch._foreach_add(totals, [cast(torch.Tensor, grads[index]) for index in used]))
        for index, total in zip(used, totals):
            self.parameters[index].grad = total
        loss_sum, correct = results[0][0], results[0][1]
        for loss, right, _ in results[1:]:
            loss_sum, correct = loss_sum + loss, correct + right
        return loss_sum, correct

    def _loss(self, order: torch.Tensor, positions: slice, weight: float) -> tuple[torch.Tensor, ...]:
        """The loss of the samples at `positions` (augmented as drawn for those places)
        scaled by `weight`, with their summed loss and correct count for the epoch's figures."""
        index = order[positions]
        inputs, targets = self.inputs(self.train_split, index, positions), self.train_split.labels_at(index)
        with self.plan.autocast():
            logits = self.forward(inputs)
            loss = self.criterion(logits, targets)
        detached = loss.detach()
        return (loss if weight == 1.0 else loss * weight, detached * targets.shape[0],
                (logits.detach().argmax(dim=1) == targets).sum())

    @staticmethod
    def _finite(value: float, epoch: int, where: str = "training") -> float:
        if not math.isfinite(value):
            raise Diverged(epoch, value, where)
        return value

    def evaluate(self, split: DeviceSplit, epoch: int = 0) -> Evaluation:
        """Loss (with the training criterion), predictions and confusion matrix on a split."""
        self.model.eval()
        evaluation = evaluate(self.forward, split, self.inputs, self.criterion, self.plan, self.classes,
                              self.eval_batch_size, self.cluster, self.cores)
        self._finite(evaluation.loss, epoch, "test")
        return evaluation

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue exactly: weights, optimizer, schedule
        and every random generator. Only tensors and plain containers, so it loads with
        `torch.load(weights_only=True)`. The shuffling generator is the same on every rank;
        the process's own generators (`rng_state`) are this rank's."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "scaler": self.scaler.state_dict(),
            **self.rng_state(),
        }

    def rng_state(self) -> dict:
        """The process's generators, which dropout draws from."""
        device = self.plan.device
        return {
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "mps_rng": torch.mps.get_rng_state() if device.type == "mps" else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"].cpu())
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.set_rng_state(state)

    def set_rng_state(self, state: dict) -> None:
        torch.set_rng_state(state["torch_rng"].cpu())
        if state.get("cuda_rng") is not None and self.plan.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self.plan.device)
        if state.get("mps_rng") is not None and self.plan.device.type == "mps":
            torch.mps.set_rng_state(state["mps_rng"].cpu())
