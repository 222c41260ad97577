"""What a run's first steps would otherwise pay for, paid while the data loads.

A process's first training step imports `torch._dynamo` (every torch.optim optimizer does, on
construction and on its first step: about a second on a quiet CPU), and the first use of each
layer shape creates oneDNN's primitives for it (the first LeNet-5 step takes about ten times
a later one; the test pass's batch sizes are new shapes again). `Warmup` does all of that in a
thread, on a throwaway copy of the network with random inputs, while the main thread reads and
adapts the data set; PyTorch's operators release the interpreter lock, so the two overlap.

A step on the copy costs what a real step costs, so it is taken only for a network whose step
is cheap (`takes_a_step`): there the primitives are most of the first step. For a larger network
(a ResNet at 224x224) a throwaway step would cost seconds, more than it saves and more than a
small data set takes to load, so the thread only builds the optimizer, which pays the import.

oneDNN keeps a primitive for each shape and thread count, so the warm-up uses the run's own:
the pieces of a batch shared among the cores (loop/cores.py) are smaller, and run on one thread.

Where the run leaves the CPU layout to measurement (loop/layout.py), the warm-up's steps are the
measurement: it times its copy in both layouts, which also creates both layouts' kernels, and
warms the test pass in the faster one.

The copy draws its weights and dropout masks from the global generator, so the run joins the
thread before it seeds that generator and builds its own model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ...settings_schema import TrainSettings
from .cores import Cores
from .layout import LayoutTiming, time_layouts
from .recipe import build_criterion, build_optimizer


# The work of a training step up to which a warm-up step pays, about a tenth of a second on two
# cores: multiply-adds (of the forward pass, three times over for forward and backward; LeNet-5
# at batch 64 needs 0.08 G, the 6-conv MNIST net 2.7 G, a ResNet-18 at 224x224 350 G), and the
# values of the activations, which element-wise layers (batch norm, activations, upsampling)
# touch without a multiply-add (LeNet-5 at batch 64 keeps 0.5 M).
STEP_MACS = 5 * 10**9
STEP_VALUES = 5 * 10**7


def takes_a_step(macs_per_sample: int, values_per_sample: int, batch_size: int) -> bool:
    """Whether the warm-up should run a whole step on its copy, or only build the optimizer."""
    return 3 * macs_per_sample * batch_size <= STEP_MACS and values_per_sample * batch_size <= STEP_VALUES


@dataclass(frozen=True)
class WarmShapes:
    """The batch a training step computes on one thread, and the test pass's, each with
    whether it runs on one thread (shared among the cores) or on PyTorch's own threads."""

    step_batch: int
    step_one_thread: bool
    eval_batch: int
    eval_one_thread: bool

    @staticmethod
    def of_run(cores: Cores, batch_size: int) -> "WarmShapes":
        """The shapes of a run whose batches of `batch_size` are shared among `cores`."""
        step_batch = max(piece.stop - piece.start for piece in cores.step_pieces(batch_size))
        return WarmShapes(step_batch, cores.steps, max(2 * batch_size // cores.size, 1), cores.size > 1)


# How long a failed or interrupted run still waits for the warm-up before leaving without it
# (seconds). A warm-up takes a second or two; one that takes longer is stuck: a Ctrl-C in the
# middle of an import can leave the import lock held, and the warm-up waiting for it.
FAILED_RUN_WAIT_SECONDS = 10.0


class Warmup:
    """`step`: take a throwaway step (else only build the optimizer); `measure`: time that step
    in both layouts (`layout` holds the timing once the thread has finished; None when it was
    not measured, or the warm-up failed)."""

    def __init__(self, build_model: Callable[[], nn.Module], input_shape: tuple[int, ...], classes: int,
                 settings: TrainSettings, shapes: WarmShapes, step: bool, measure: bool = False) -> None:
        self.measures = step and measure
        self.layout: LayoutTiming | None = None
        self._done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="cnndsl-warmup", daemon=True,
                                        args=(build_model, input_shape, classes, settings, shapes, step))
        self._thread.start()

    def _work(self, *args: object) -> None:
        try:
            self._run(*args)  # type: ignore[arg-type]
        finally:
            self._done.set()

    def _run(self, build_model: Callable[[], nn.Module], input_shape: tuple[int, ...], classes: int,
             settings: TrainSettings, shapes: WarmShapes, step: bool) -> None:
        threads = torch.get_num_threads()  # this thread's, which is the process's setting
        try:
            model = build_model()
            optimizer = build_optimizer(model, settings)
            if not step:
                return
            criterion = build_criterion(settings)
            torch.set_num_threads(1 if shapes.step_one_thread else threads)
            inputs = torch.randn(shapes.step_batch, *input_shape)
            targets = torch.randint(0, classes, (shapes.step_batch,))
            if self.measures:
                self.layout = time_layouts(model, inputs, targets, criterion, settings, self._stop)
                if self.layout is None:
                    return
                if self.layout.channels_last:
                    model.to(memory_format=torch.channels_last)
            else:
                optimizer.zero_grad(set_to_none=True)
                criterion(model(inputs), targets).backward()
                optimizer.step()
            model.eval()
            torch.set_num_threads(1 if shapes.eval_one_thread else threads)
            with torch.inference_mode():
                layout = torch.channels_last if self.layout and self.layout.channels_last else torch.contiguous_format
                model(torch.randn(shapes.eval_batch, *input_shape).contiguous(memory_format=layout))
        except Exception:  # noqa: BLE001 - a warm-up that fails costs nothing: the run pays as if there were none
            return
        finally:
            torch.set_num_threads(threads)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the warm-up (at most `timeout` seconds). A Ctrl-C while waiting is raised
        once the thread has finished (or after FAILED_RUN_WAIT_SECONDS, or at a second Ctrl-C): a
        thread still inside a PyTorch kernel when the interpreter exits aborts the process. (It
        waits on an event: Python 3.11's `Thread.join`, interrupted, takes the thread for
        finished.)"""
        try:
            self._done.wait(timeout)
        except KeyboardInterrupt:
            self.stop()
            self._done.wait(FAILED_RUN_WAIT_SECONDS)
            raise

    def stop(self) -> None:
        """Ask the warm-up to leave its layout measurement at the next step (the run failed or
        was interrupted, and waits for the thread before it leaves)."""
        self._stop.set()
