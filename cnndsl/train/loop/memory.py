"""Will it fit? The memory a run needs, from the static summary, against what the device has.

`train` and `predict` compare, before allocating anything, the memory their model and
batches will take with what the device has free, and refuse with both figures, rather than
fail deep inside PyTorch's allocator (or make the machine swap). The estimate is the one
`cnndsl summary` prints, scaled:

- parameters: float32 weights, plus for training their gradients and the optimizer's state
  (one value per weight for SGD's momentum, two for Adam's moments);
- activations: the input and every layer's output for each sample (the forward pass keeps
  them all for the backward pass), times the batch size, and for training times
  TRAINING_ACTIVATION_FACTOR: the kept activations, their gradients, and as much again for
  the temporaries of the kernels.

It is an estimate, not a bound: it is meant to catch the network that needs ten times the
memory there is, not to cut it fine. What the device has: on the CPU, the memory the kernel
calls available (MemAvailable of /proc/meminfo; not checked where there is none); on CUDA,
the free memory `torch.cuda.mem_get_info` reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ... import ir
from ...counting import summarize
from ..errors import TrainError

TRAINING_ACTIVATION_FACTOR = 3
# Values kept per weight besides the weight itself, while training: its gradient and the
# optimizer's state.
TRAINING_VALUES_PER_WEIGHT = {"sgd": 2, "adam": 3, "adamw": 3}
MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class Need:
    """Bytes a run needs: for its parameters (and their training state), and for the
    activations of one batch."""

    parameters: int
    activations: int
    batch: int

    @property
    def total(self) -> int:
        return self.parameters + self.activations


def training_need(net: ir.Network, batch: int, optimizer: str) -> Need:
    summary = summarize(net)
    return Need(summary.param_bytes * (1 + TRAINING_VALUES_PER_WEIGHT[optimizer]),
                summary.activation_bytes * batch * TRAINING_ACTIVATION_FACTOR, batch)


def inference_need(net: ir.Network, batch: int) -> Need:
    summary = summarize(net)
    return Need(summary.param_bytes, summary.activation_bytes * batch, batch)


def available_bytes(device: torch.device) -> int | None:
    """Free memory on `device`, or None where it cannot be told (then nothing is checked)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type == "cpu":
        return _meminfo_available()
    return None


def _meminfo_available() -> int | None:
    try:
        lines = MEMINFO.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name == "MemAvailable" and value.split() and value.split()[0].isdigit():
            return int(value.split()[0]) * 1024
    return None


def check_fits(need: Need, device: torch.device, what: str, help: str) -> None:
    """Refuse, with the figures, a `need` larger than what `device` has free."""
    free = available_bytes(device)
    if free is None or need.total <= free:
        return
    raise TrainError(f"{what} needs about {size(need.total)} of memory ({size(need.parameters)} for the parameters, "
                     f"{size(need.activations)} for the activations of a batch of {need.batch:,}), but {device} has "
                     f"{size(free)} free", help=help)


def size(count: int) -> str:
    """Bytes in binary units: `512 B`, `1.5 GiB`."""
    if count < 1024:
        return f"{count} B"
    value = count / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
