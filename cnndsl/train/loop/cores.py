"""A CPU step's batch shared among the cores: one thread a core, each running PyTorch's
kernels on one thread.

Why: at the batch sizes of the tutorials, PyTorch's own parallelism (each operator's work split
across the cores) loses more to waking and joining its threads than it gains. On this project's
two-core machine a LeNet-5 training step at batch 64 took 8.1 ms with two threads and 7.7 ms
with one; cutting the batch in two and running each half's forward and backward pass in a
thread of its own (PyTorch's operators release the interpreter lock) took 4.4 ms. A CIFAR-10
tutorial net at batch 64 went from 7.4 ms to 4.9 ms, a VGG-like net on 32x32 images at batch
128 from 455 ms to 379 ms (`python benchmarks/train_mnist.py` measures the epoch).

It is the same step. Each share's loss is weighted by its part of the batch, so the shares'
gradients add up to the gradient of the whole batch's mean loss; they are added in share order on
the calling thread, so a run gives the same weights to the bit every time, however the threads
are scheduled; and the optimizer steps once. Against one thread on the whole batch only the
order of floating-point sums differs. That holds for networks whose samples do not meet in
training: batch normalisation computes statistics over the batch, and dropout draws from one
random stream in order, so networks with those layers (`LayerSpec.per_sample`) keep PyTorch's
own parallelism. In eval mode every layer is per sample, so the test pass is always shared.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from typing import Callable, TypeVar

import torch

from ... import ir
from ...layers import LAYERS

T = TypeVar("T")


def whole_batch_layers(net: ir.Network) -> list[str]:
    """The kinds of layer in `net` that need a training batch whole (batch statistics, random
    draws), in order of first use."""
    return list(dict.fromkeys(layer.kind for layer in ir.leaves(net.body) if not LAYERS[layer.kind].per_sample))


def trains_per_sample(net: ir.Network) -> bool:
    """Whether, in training mode, each sample's output and gradient depend on that sample alone."""
    return not whole_batch_layers(net)


def pieces(count: int, parts: int) -> list[slice]:
    """`range(count)` cut into at most `parts` contiguous, non-empty pieces, in order, whose
    sizes differ by at most one."""
    parts = max(1, min(parts, count))
    return [slice(k * count // parts, (k + 1) * count // parts) for k in range(parts)]


class Cores(AbstractContextManager["Cores"]):
    """`size` threads (the calling one and `size - 1` more, started on entering the `with`
    block) that run work on the pieces of a batch, PyTorch running its operators on one thread
    in each. `steps` says whether training steps are shared too, or only the test pass. A
    `Cores` of size 1 runs everything on the calling thread and changes nothing, so that the
    shared and the single-threaded paths are one path.

    Outside `map` the calling thread keeps its own thread setting, except while steps are
    shared: then it runs PyTorch on one thread for the whole block, because what it does
    between shared steps (the optimizer's update, drawing a batch) is too small to gain from
    threads, and waking them cost more than the work (LeNet-5's fused SGD update took 0.05 ms
    on one thread and 0.5 ms on two)."""

    def __init__(self, size: int = 1, steps: bool = False) -> None:
        self.size = max(1, size)
        self.steps = steps and self.size > 1
        self._pool: ThreadPoolExecutor | None = None
        self._threads = 0

    @staticmethod
    def available(device: torch.device, alone: bool) -> int:
        """How many threads to share work among: PyTorch's thread count on the CPU (which
        `OMP_NUM_THREADS` or `torch.set_num_threads` set), 1 elsewhere, and 1 when `alone` is
        false (this process is one of several, whose gradients meet in DistributedDataParallel,
        which needs the backward pass whole; or the model is compiled)."""
        return torch.get_num_threads() if device.type == "cpu" and alone else 1

    @staticmethod
    def for_training(net: ir.Network, device: torch.device, alone: bool) -> "Cores":
        """The cores a training run of `net` shares work among: its steps too where the
        network trains per sample."""
        size = Cores.available(device, alone)
        return Cores(size, steps=trains_per_sample(net))

    def __enter__(self) -> "Cores":
        if self.size > 1:
            self._pool = ThreadPoolExecutor(self.size - 1, thread_name_prefix="cnndsl-core",
                                            initializer=torch.set_num_threads, initargs=(1,))
        if self.steps:
            self._threads = torch.get_num_threads()
            torch.set_num_threads(1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.steps:
            torch.set_num_threads(self._threads)

    def pieces(self, count: int) -> list[slice]:
        return pieces(count, self.size)

    def step_pieces(self, count: int) -> list[slice]:
        """The pieces of a training batch of `count`: one when steps are not shared."""
        return self.pieces(count) if self.steps else [slice(0, count)]

    def map(self, work: Callable[[slice], T], parts: list[slice]) -> list[T]:
        """`work(part)` for each part, the first on this thread and the others on the pool;
        the results in the order of `parts`. An exception in any part is raised here, after
        every part has finished (none is left running on a model the caller goes on to change);
        only a Ctrl-C during that wait leaves at once, and leaving the `with` block waits for the
        pool."""
        if len(parts) == 1 or self._pool is None:
            return [work(part) for part in parts]
        threads = torch.get_num_threads()
        futures: list[Future[T]] = []
        try:
            torch.set_num_threads(1)
            futures.extend(self._pool.submit(work, part) for part in parts[1:])
            first = work(parts[0])
        finally:
            torch.set_num_threads(threads)  # first: a Ctrl-C may interrupt the wait below
            wait(futures)  # an exception of theirs is raised below, by result()
        return [first, *(future.result() for future in futures)]
