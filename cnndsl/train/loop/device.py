"""Where training runs, and what that device is good at.

On CUDA the data set lives in GPU memory, the forward pass runs under bf16 autocast and
convolutions use the channels-last layout that tensor cores prefer. On the CPU, training
stays in float32 and in PyTorch's default layout (on a LeNet-5 step channels-last took 2-3x
as long: its layout conversions cost more than oneDNN gains on such small maps), and
the C allocator is told to keep freed memory, because every step allocates and frees the
same activation buffers and handing them back to the kernel costs a page fault per page
on the next step. On Apple GPUs everything stays as PyTorch defaults.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from dataclasses import dataclass
from typing import ContextManager

import torch

from ..errors import TrainError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class DevicePlan:
    device: torch.device
    autocast_dtype: torch.dtype | None
    channels_last: bool

    def autocast(self) -> ContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def describe(self) -> str:
        extras = ([f"{str(self.autocast_dtype).removeprefix('torch.')} autocast"] if self.autocast_dtype else []) + \
                 (["channels-last"] if self.channels_last else [])
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else self.device.type
        return name + (f" ({', '.join(extras)})" if extras else "")


# glibc's mallopt parameters, and the values used: serve even large blocks from the heap,
# and never trim it, so that freed activation buffers are reused without page faults.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 1 << 30
TRIM_THRESHOLD_BYTES = 2**31 - 1


def keep_freed_memory() -> None:
    """Ask glibc's allocator to keep freed memory for reuse (Linux only; elsewhere, or with
    another C library, nothing happens). Like PyTorch's advice to use jemalloc or tcmalloc
    for CPU training, without preloading a library."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        pass


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(choice: str, cuda_index: int | None = None) -> DevicePlan:
    """The device `--device` asks for; `auto` prefers CUDA, then MPS, then the CPU. One of
    several processes on a machine passes its `cuda_index` (its local rank) to get a GPU of
    its own."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise TrainError("--device cuda: no CUDA GPU is available here", help="use --device cpu or --device auto")
        if cuda_index is not None:
            if cuda_index >= torch.cuda.device_count():
                raise TrainError(f"process {cuda_index} on this machine has no GPU of its own: there are "
                                 f"{torch.cuda.device_count()}",
                                 help="start at most one process per GPU (--nproc, or torchrun's --nproc-per-node)")
            torch.cuda.set_device(cuda_index)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        device = torch.device("cuda", torch.cuda.current_device())
        return DevicePlan(device, torch.bfloat16 if torch.cuda.is_bf16_supported() else None, True)
    if choice == "mps":
        if not _mps_available():
            raise TrainError("--device mps: the Apple GPU backend is not available here",
                             help="use --device cpu or --device auto")
        return DevicePlan(torch.device("mps"), None, False)
    if choice != "cpu":
        raise TrainError(f"unknown device `{choice}`", help=f"choose one of {', '.join(DEVICE_CHOICES)}")
    keep_freed_memory()
    return DevicePlan(torch.device("cpu"), None, False)
