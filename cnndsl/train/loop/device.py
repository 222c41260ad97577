"""Where training runs, and what that device is good at.

On CUDA the forward pass runs under autocast, in bf16 where the GPU computes it natively
(compute capability 8.0 and later: `is_bf16_supported()` alone also counts GPUs that only
emulate it, slowly) and in fp16 with a gradient scaler on older GPUs; convolutions use the
channels-last layout that tensor cores prefer. When the run asks for a seed (`--seed`, or
`seed` in the train section), CUDA is made deterministic: cuDNN's autotuner and TF32 off,
`torch.use_deterministic_algorithms`, and the cuBLAS workspace setting it needs, so that a
resumed run takes exactly the steps of an uninterrupted one; without, the autotuner and TF32
are on, for speed. On the CPU, training stays in float32; the layout is the faster of the two
for the run's network where it is measured (loop/layout.py), else channels-last where PyTorch's
kernels use AVX-512 (`channels_last_on_cpu`) and PyTorch's default elsewhere; and the C
allocator is told to keep freed memory, because every step allocates and frees the same
activation buffers and handing them back to the kernel costs a page fault per page on the
next step. On Apple GPUs everything stays as PyTorch defaults.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import warnings
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
    deterministic: bool = False
    # A channels-last training step's time over a default-layout step's, where the layout was
    # chosen by timing both (loop/layout.py).
    layout_ratio: float | None = None

    @property
    def scales_gradients(self) -> bool:
        """fp16 autocast needs a gradient scaler (its range is too small for small gradients)."""
        return self.autocast_dtype is torch.float16

    def autocast(self) -> ContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def describe(self) -> str:
        extras = ([f"{str(self.autocast_dtype).removeprefix('torch.')} autocast"] if self.autocast_dtype else []) + \
                 (["gradient scaling"] if self.scales_gradients else []) + \
                 ([self._layout()] if self.channels_last or self.layout_ratio is not None else []) + \
                 (["deterministic"] if self.deterministic and self.device.type == "cuda" else [])
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else self.device.type
        return name + (f" ({', '.join(extras)})" if extras else "")

    def _layout(self) -> str:
        if self.layout_ratio is None:
            return "channels-last"
        if self.channels_last:
            return f"channels-last, measured {self.layout_ratio:.2f}x the default layout's step time"
        return f"default layout, channels-last measured {self.layout_ratio:.2f}x its step time"


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


# cuBLAS needs a fixed workspace to be deterministic (PyTorch's reproducibility notes).
CUBLAS_WORKSPACE = ":4096:8"
# bf16 is native from compute capability 8.0 (Ampere) on.
BF16_NATIVE_CAPABILITY = 8


def cuda_autocast_dtype() -> torch.dtype:
    """bf16 where the current GPU computes it natively, else fp16 (with a gradient scaler)."""
    try:
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # PyTorch before 2.4 has no `including_emulation`
        native = torch.cuda.get_device_capability()[0] >= BF16_NATIVE_CAPABILITY
    return torch.bfloat16 if native else torch.float16


def tf32_switches() -> tuple[tuple[object, str], tuple[object, str]]:
    """The two settings that allow TF32 in matmuls and in convolutions: `fp32_precision`
    where PyTorch has it (2.9 on, where mixing it with the older `allow_tf32` flags is an
    error), else the `allow_tf32` flags."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return (torch.backends.cuda.matmul, "fp32_precision"), (conv, "fp32_precision")
    return (torch.backends.cuda.matmul, "allow_tf32"), (torch.backends.cudnn, "allow_tf32")


def set_tf32(allowed: bool) -> None:
    for switch, name in tf32_switches():
        setattr(switch, name, ("tf32" if allowed else "ieee") if name == "fp32_precision" else allowed)


def make_cuda_deterministic(deterministic: bool) -> None:
    """Deterministic kernels, or the fastest ones. Operations PyTorch has no deterministic
    CUDA kernel for (the backward pass of adaptive pooling, say) still run, without a warning
    each time: the docs name them as what may still differ."""
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    set_tf32(not deterministic)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        warnings.filterwarnings("ignore", message=".*does not have a deterministic implementation.*")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def pick_device(choice: str, cuda_index: int | None = None, deterministic: bool = False) -> DevicePlan:
    """The device `--device` asks for; `auto` prefers CUDA, then MPS, then the CPU. One of
    several processes on a machine passes its `cuda_index` (its local rank) to get a GPU of
    its own. `deterministic` (a seed was asked for) makes CUDA deterministic."""
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
        make_cuda_deterministic(deterministic)
        device = torch.device("cuda", torch.cuda.current_device())
        return DevicePlan(device, cuda_autocast_dtype(), True, deterministic)
    if choice == "mps":
        if not _mps_available():
            raise TrainError("--device mps: the Apple GPU backend is not available here",
                             help="use --device cpu or --device auto")
        return DevicePlan(torch.device("mps"), None, False)
    if choice != "cpu":
        raise TrainError(f"unknown device `{choice}`", help=f"choose one of {', '.join(DEVICE_CHOICES)}")
    keep_freed_memory()
    return DevicePlan(torch.device("cpu"), None, channels_last_on_cpu())


def channels_last_on_cpu() -> bool:
    """Whether CPU training uses the channels-last layout where it is not measured (a run with a
    seed, a network too large for the warm-up to time, several processes): where PyTorch's
    kernels use AVX-512. Measured on such a CPU (a two-core Xeon with AVX-512 and AMX), a
    training step took 12-25% less time in channels-last for LeNet-5, the 2020 MNIST tutorial's
    net and the 6-conv MNIST net, on one thread and on two; on an earlier machine (its
    instruction set not recorded), LeNet-5's step took 2-3x as long in channels-last, so
    elsewhere the rule keeps PyTorch's default, although an AMD Zen 3 with AVX2 measured
    channels-last faster too (which is why the layout is measured where that is cheap)."""
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")()
    return capability.startswith("AVX512")
