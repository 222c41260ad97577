"""The processes of one training run, and what they must do together.

`cnndsl train` runs as one process, or as one of several started by torchrun or by
`--nproc` (commands/launch.py), which say who is who in the environment variables RANK,
WORLD_SIZE and LOCAL_RANK. A `Cluster` is this process's place among them; for a single
process every method is trivial, so the training code has one path for both.

Data parallelism here is exact in intent: every rank holds the whole data set and draws
the same shuffled order from the same seed, each global batch is cut into one contiguous
share per rank, and DistributedDataParallel averages the gradients, so every step is the
one a single process would take on the whole batch, up to the order of floating-point
sums. Batch normalisation is the exception: its statistics are computed per rank (PyTorch's
SyncBatchNorm only runs on GPUs, and cnndsl trains the same way on CPUs and GPUs); the
running statistics are averaged across ranks after every epoch, so all ranks hold the same
weights and buffers.

Every user error is agreed: the ranks compare outcomes at each point where one could fail
alone, and all stop with the same message, rather than leaving the others waiting.
"""

from __future__ import annotations

import inspect
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator, TypeVar, cast

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import TrainError

T = TypeVar("T")

# How long a rank waits for the others in a collective (an all-reduce, a barrier) before
# failing. It bounds the longest legitimate wait: the first rank of a machine downloading
# a data set while the others wait, or rank 0 writing a checkpoint.
DEFAULT_TIMEOUT_SECONDS = 600.0
# Ranks other than 0 reseed their random generator (dropout) after the model is built, so
# that their masks are independent of rank 0's; the seeds are this far apart.
RANK_SEED_STRIDE = 1_000_003
SEED_MODULUS = 2**63
ENVIRONMENT = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# Where rank 0's store listens: torchrun sets these too, and the process group needs them.
RENDEZVOUS = ("MASTER_ADDR", "MASTER_PORT")
# DDP without re-broadcasting buffers at every forward pass; PyTorch 2.14 renamed the flag.
# (Any: which keyword it is depends on the PyTorch version, so mypy cannot match it.)
NO_FORWARD_BUFFER_SYNC: dict[str, Any] = ({"forward_sync_buffers": False}
                          if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                          else {"broadcast_buffers": False})


def running_distributed() -> bool:
    """Whether torchrun (or `--nproc`) started this process as one of several."""
    return all(name in os.environ for name in ENVIRONMENT) and int(os.environ["WORLD_SIZE"]) > 1


@dataclass(frozen=True)
class Cluster:
    """This process's place among the processes training together: `rank` among
    `world_size`, `local_rank` among those on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @staticmethod
    def from_environment(timeout: float | None = None) -> "Cluster":
        """The cluster torchrun's variables describe; a single process when there are none."""
        timeout = DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout
        if not running_distributed():
            return Cluster(timeout=timeout)
        rank, world, local = (int(os.environ[name]) for name in ENVIRONMENT)
        return Cluster(rank, world, local, timeout)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the run directory and prints; the others only train."""
        return self.rank == 0

    @property
    def cuda_index(self) -> int | None:
        """The GPU of this rank: one per worker on each machine, by local rank."""
        return self.local_rank if self.distributed else None

    @property
    def backend(self) -> str | None:
        return dist.get_backend() if self.distributed else None

    def describe(self, batch_size: int) -> str:
        shares = {len(range(batch_size)[self.share(batch_size, rank)]) for rank in range(self.world_size)}
        each = " or ".join(map(str, sorted(shares)))
        return f"{self.world_size} processes ({self.backend}), global batch {batch_size} = {each} per process"

    # connecting

    @contextmanager
    def connected(self, device: torch.device) -> Iterator[None]:
        """Join the process group for the duration of the block: NCCL between GPUs, gloo
        between CPU processes. A block that fails leaves the group as it is: the process is
        about to end, which closes its connections, and destroying a group whose peers are
        gone can block."""
        if not self.distributed:
            yield
            return
        if device.type not in ("cuda", "cpu"):
            raise TrainError(f"distributed training runs on CUDA GPUs or on CPUs, not on {device.type}",
                             help="use --device cuda or --device cpu")
        missing = [name for name in RENDEZVOUS if name not in os.environ]
        if missing:
            raise TrainError(f"RANK and WORLD_SIZE say this is one of {self.world_size} processes, but "
                             f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
                             help="start the processes with torchrun, or with --nproc on one machine")
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(seconds=self.timeout))
        yield
        dist.destroy_process_group()

    def limit_threads(self, device: torch.device) -> None:
        """Share the CPU cores among the workers of a machine, unless OMP_NUM_THREADS says
        otherwise (torchrun sets it to 1): every worker using all of them would slow all."""
        if self.distributed and device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            torch.set_num_threads(max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", self.world_size))))

    # who does what

    def share(self, batch_size: int, rank: int | None = None) -> slice:
        """The positions, within a batch, that a rank trains on: contiguous, in rank order,
        sizes differing by at most one."""
        if batch_size < self.world_size:
            images = f"{batch_size} image{'s' if batch_size != 1 else ''}"
            raise TrainError(f"a batch of {images} cannot be shared by {self.world_size} processes",
                             help=f"use --batch-size {self.world_size} or more: it is the global batch, "
                                  "split across the processes")
        rank = self.rank if rank is None else rank
        return slice(rank * batch_size // self.world_size, (rank + 1) * batch_size // self.world_size)

    def part(self, count: int) -> range:
        """This rank's contiguous part of `count` samples (for evaluation); may be empty."""
        return range(self.rank * count // self.world_size, (self.rank + 1) * count // self.world_size)

    def seed(self, seed: int) -> None:
        """Give ranks other than 0 their own random stream (dropout masks); rank 0 keeps the
        stream a single process would have."""
        if self.rank:
            torch.manual_seed((seed + self.rank * RANK_SEED_STRIDE) % SEED_MODULUS)

    def replicate(self, model: nn.Module, device: torch.device) -> nn.Module:
        """The model wrapped in DistributedDataParallel, which averages gradients during
        the backward pass. Buffers are not broadcast at every forward pass (ranks keep
        their own batch-norm statistics during an epoch; see `average_buffers`)."""
        if not self.distributed:
            return model
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                       **NO_FORWARD_BUFFER_SYNC)

    # collectives (identities for a single process)

    def _device(self) -> torch.device:
        """Where collectives run: NCCL needs tensors on this rank's GPU."""
        return torch.device("cuda", torch.cuda.current_device()) if self.backend == "nccl" else torch.device("cpu")

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of `tensor` over all ranks, on `tensor`'s device."""
        if not self.distributed:
            return tensor
        total = tensor.to(self._device(), copy=True)
        dist.all_reduce(total)
        return total.to(tensor.device)

    def gather(self, value: Any) -> list[Any]:
        """Every rank's `value` (a small picklable object), in rank order."""
        if not self.distributed:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def average_buffers(self, model: nn.Module) -> None:
        """Replace each floating-point buffer (batch-norm running statistics) by its mean
        over the ranks; integer buffers (batch counts) are equal on all ranks already."""
        if not self.distributed:
            return
        for buffer in model.buffers():
            if buffer.is_floating_point():
                buffer.copy_(self.sum(buffer) / self.world_size)

    # agreeing on errors

    def agree(self, step: Callable[[], T] | None) -> T | None:
        """Run `step` (where given), then stop every rank with the first TrainError any
        rank raised, so that no rank waits for one that has given up."""
        value, failure = None, None
        try:
            value = step() if step is not None else None
        except TrainError as exc:
            failure = (type(exc), exc.message, exc.help)
        for other in self.gather(failure):
            if other is not None:
                kind, message, help = other
                raise kind(message, help=help)
        return value

    def main_decides(self, decide: Callable[[], T]) -> T:
        """`decide()` on rank 0 only (it reads the run directory), its result or its
        TrainError given to every rank."""
        if not self.distributed:
            return decide()
        outcome: list[Any] = [None]
        if self.is_main:
            try:
                outcome = [(decide(), None)]
            except TrainError as exc:
                outcome = [(None, (type(exc), exc.message, exc.help))]
        dist.broadcast_object_list(outcome, src=0)
        value, failure = outcome[0]
        if failure is not None:
            kind, message, help = failure
            raise kind(message, help=help)
        return value

    def in_turn(self, load: Callable[[], T]) -> T:
        """`load()` on the first rank of each machine, then on the others: a download or a
        cache is made once per machine, and read by the rest."""
        first = self.local_rank == 0
        early = self.agree(load if first else None)
        late = self.agree(None if first else load)
        return cast(T, early if first else late)  # the one of the two that ran `load`
