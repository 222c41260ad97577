"""Optimizer, learning-rate schedule and loss, built from the resolved settings.

Weight decay is applied to weights only, not to biases and normalisation parameters
(tensors of one dimension), which would otherwise be pulled towards zero for no gain.
The schedule steps once per batch, so its shape does not depend on the epoch count.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.optim import SGD, Adam, AdamW, Optimizer
from torch.optim.lr_scheduler import ConstantLR, CosineAnnealingLR, LRScheduler, OneCycleLR

from ...settings_schema import TrainSettings

# One-cycle: warm up over this fraction of the steps, then anneal.
ONECYCLE_WARMUP = 0.25
# OneCycleLR needs a warm-up of at least one step and an annealing phase after it.
ONECYCLE_MIN_STEPS = 4


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return [group for group in ({"params": decay, "weight_decay": weight_decay},
                                {"params": no_decay, "weight_decay": 0.0}) if group["params"]]


def build_optimizer(model: nn.Module, settings: TrainSettings) -> Optimizer:
    """SGD with (classic) momentum, Adam or AdamW; for Adam, `momentum` is beta1."""
    groups = parameter_groups(model, settings.weight_decay)
    if settings.optimizer == "sgd":
        return _fused(SGD, groups, lr=settings.lr, momentum=settings.momentum)
    betas = (settings.momentum, 0.999)
    return _fused(Adam if settings.optimizer == "adam" else AdamW, groups, lr=settings.lr, betas=betas)


def _fused(kind: type[SGD | Adam | AdamW], groups: list[dict], **options: Any) -> Optimizer:
    """The optimizer with its update fused into one kernel per step, where this PyTorch has
    that kernel for the parameters' device (recent releases do on CPU and CUDA, for all three
    optimizers); otherwise one batched `foreach` update per step."""
    try:
        return kind(groups, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel here: the constructor says so
        return kind(groups, foreach=True, **options)


def schedule_used(settings: TrainSettings, steps_per_epoch: int) -> str:
    """The schedule a run gets: its `schedule`, except that a run too short for a one-cycle
    warm-up (a smoke test on a few images) anneals with `cosine` instead; the run's plan
    says so."""
    if settings.schedule == "onecycle" and settings.epochs * steps_per_epoch < ONECYCLE_MIN_STEPS:
        return "cosine"
    return settings.schedule


def build_schedule(optimizer: Optimizer, settings: TrainSettings, steps_per_epoch: int) -> LRScheduler:
    """`onecycle` (warm-up to `lr`, then cosine annealing), `cosine` (from `lr` to 0) or
    `constant`, as `schedule_used` says."""
    total = settings.epochs * steps_per_epoch
    schedule = schedule_used(settings, steps_per_epoch)
    if schedule == "onecycle":
        warmup = max(ONECYCLE_WARMUP, 2 / total)
        return OneCycleLR(optimizer, max_lr=settings.lr, total_steps=total, pct_start=warmup, cycle_momentum=False)
    if schedule == "cosine":
        return CosineAnnealingLR(optimizer, T_max=total)
    return ConstantLR(optimizer, factor=1.0, total_iters=0)


def build_criterion(settings: TrainSettings) -> nn.Module:
    return nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
