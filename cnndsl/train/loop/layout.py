"""Which memory layout a CPU run computes in: measured on the run's own network and batch.

Why measure: whether channels-last beats PyTorch's default layout on the CPU depends on the
processor and on the network, by a lot and both ways. On a two-core AMD EPYC (Zen 3, AVX2) a
LeNet-5 step took 0.72-0.81x the default layout's time in channels-last (a piece of 32 images on
one thread, as the warm-up times it), on a Xeon with AVX-512 12-25% less, while an earlier
machine measured it 2-3x slower. No rule read from the instruction set held on all three; the
step itself, timed in both layouts, does.

What it costs: a few steps of a throwaway copy of the network in each layout, taken by the
warm-up thread while the data loads (loop/warmup.py), so only for networks whose step is cheap
(`warmup.takes_a_step`); the others keep the rule (`device.channels_last_on_cpu`).

Why not always: timings are noisy, so a choice between close layouts can differ from one run to
the next, and the two layouts round differently. A run that asks for a seed wants the same bits
every time, so it keeps the rule, as CUDA turns its autotuner off for one; a resumed run keeps the
layout its `config.json` records.
"""

from __future__ import annotations

import copy
import statistics
import threading
import time
from dataclasses import dataclass, replace

import torch
from torch import nn

from ...settings_schema import TrainSettings
from .device import DevicePlan
from .recipe import build_optimizer

# Rounds of one step in each layout: at least MIN_ROUNDS, then more until BUDGET_SECONDS have
# been spent or MAX_ROUNDS taken (a LeNet-5 piece takes 5-10 ms a step; a network at the warm-up's
# limit a tenth of a second or more).
MIN_ROUNDS, MAX_ROUNDS = 3, 9
BUDGET_SECONDS = 1.0
# Channels-last is chosen when its step takes at most this fraction of the default layout's:
# where the two are within noise, the default layout stays.
CHANNELS_LAST_AT_MOST = 0.95


@dataclass(frozen=True)
class LayoutTiming:
    """A channels-last step's time over a default-layout step's: the median over `rounds`
    rounds, each timing one step in each layout."""

    ratio: float
    rounds: int

    @property
    def channels_last(self) -> bool:
        """Decided on the ratio as the run prints it (two decimals), so that the printed figure
        and the choice agree at the threshold."""
        return round(self.ratio, 2) <= CHANNELS_LAST_AT_MOST

    def applied(self, plan: DevicePlan) -> DevicePlan:
        """`plan` in the layout this timing chose, with the timing for the plan's description."""
        return replace(plan, channels_last=self.channels_last, layout_ratio=self.ratio)


def time_layouts(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, criterion: nn.Module,
                 settings: TrainSettings, stop: threading.Event) -> LayoutTiming | None:
    """Time training steps (forward, backward, optimizer update, and the batch's conversion to
    the layout, as the trainer does it) of `model` and of a channels-last copy, alternately, on
    the calling thread with its thread setting. `model` is trained by the steps: pass a
    throwaway. The first step in each layout creates its kernels and is not timed. None when
    `stop` is set before the rounds are done (the run failed or was interrupted: a step of a
    large network takes a tenth of a second or more, and the run waits for this thread)."""
    sides = []
    for layout, copy_of in ((torch.contiguous_format, model),
                            (torch.channels_last, copy.deepcopy(model).to(memory_format=torch.channels_last))):
        sides.append((layout, copy_of, build_optimizer(copy_of, settings)))

    def step(layout: torch.memory_format, net: nn.Module, optimizer: torch.optim.Optimizer) -> float:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        criterion(net(inputs.contiguous(memory_format=layout)), targets).backward()
        optimizer.step()
        return time.perf_counter() - start

    for side in sides:
        if stop.is_set():
            return None
        step(*side)
    ratios: list[float] = []
    started = time.perf_counter()
    while len(ratios) < MAX_ROUNDS and (len(ratios) < MIN_ROUNDS or time.perf_counter() - started < BUDGET_SECONDS):
        # each round in the other order, so that neither layout always runs on a cache the other warmed
        seconds = {}
        for layout, net, optimizer in sides if len(ratios) % 2 == 0 else sides[::-1]:
            if stop.is_set():
                return None
            seconds[layout] = step(layout, net, optimizer)
        ratios.append(seconds[torch.channels_last] / max(seconds[torch.contiguous_format], 1e-9))
    return LayoutTiming(statistics.median(ratios), len(ratios))


def recorded_layout(plan: DevicePlan, config: dict) -> DevicePlan:
    """`plan` in the CPU layout a run's `config.json` (schema-checked) records: a resumed run goes
    on in it (so that it ends to the bit where an uninterrupted run would), and `eval` and
    `predict` compute in it, as the run's own test passes did. Runs from before it was recorded
    trained by the rule, which `plan` applies already."""
    device = config.get("device", {})
    if plan.device.type != "cpu" or device.get("used") != "cpu" or device.get("channels_last") is None:
        return plan  # a layout chosen for another device (a GPU's is always channels-last) says nothing here
    return replace(plan, channels_last=device["channels_last"])
