"""Where a training step's time goes, layer by layer: the forward and backward pass of each
top-level layer (or group) of a network, on the CPU.

Not a test, and not a comparison: a profile, to find what bounds a step (README, "Speed,
measured"). The step is the one a core computes when cnndsl shares a batch among the cores: a
piece of --batch images, PyTorch on --threads threads, in --layout, the C allocator keeping freed
memory as in a training run. Each layer's forward pass is timed around its call; its backward
pass from the moment autograd starts on the layer's output to the moment it starts on the
previous layer's (so a group's inner operations count to the group). Times are the calling
thread's processor time (while another process holds the core, the clock stops), medians over
--rounds rounds of --steps steps, after as many untimed steps. With --compare, a second network
is profiled in turn, round after round, so that both see the same machine.

    python benchmarks/layer_times.py [FILE] [--compare FILE2] [--batch 32] [--threads 1]
                                     [--layout channels-last|default] [--steps 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cnndsl  # first: it sets OpenMP's wait policy, which must be in place before torch loads
import torch
import torch.nn.functional as F

from cnndsl.train.loop.device import keep_freed_memory

ROOT = Path(__file__).resolve().parent.parent
LAYOUTS = {"channels-last": torch.channels_last, "default": torch.contiguous_format}


class LayerClock:
    """Per-layer forward and backward times of one network's training steps."""

    def __init__(self, path: Path, batch: int, layout: torch.memory_format) -> None:
        self.model = cnndsl.compile(path).to(memory_format=layout)
        self.layers = list(self.model.named_children())
        self.parameters = [parameter for parameter in self.model.parameters() if parameter.requires_grad]
        self.inputs = torch.randn(batch, *self.model.input_shape).contiguous(
            memory_format=layout if len(self.model.input_shape) == 3 else torch.contiguous_format)
        self.targets = torch.randint(0, self.model.output_shape[0], (batch,))
        self.forward: dict[str, list[float]] = {name: [] for name, _ in self.layers}
        self.backward: dict[str, list[float]] = {name: [] for name, _ in self.layers}

    def steps(self, count: int, record: bool) -> None:
        for _ in range(count):
            self._step(record)

    def _step(self, record: bool) -> None:
        started: dict[str, float] = {}  # when autograd reached each layer's output
        order: list[str] = []
        value = self.inputs
        for name, layer in self.layers:
            before = time.thread_time()
            value = layer(value)
            if record:
                self.forward[name].append(time.thread_time() - before)
            if value.grad_fn is not None:
                order.append(name)
                value.grad_fn.register_prehook(lambda _, name=name: started.__setitem__(name, time.thread_time()))
        torch.autograd.grad(F.cross_entropy(value, self.targets), self.parameters)
        finished = time.thread_time()
        if record:  # backward runs from the last layer to the first: a layer's ends where the previous one's starts
            ends = [started[name] for name in order[:-1]]
            for name, end in zip(order, [finished, *ends]):
                self.backward[name].append(end - started[name])

    def table(self, title: str) -> str:
        rows = [f"{title}\n    {'layer':<14} {'forward':>9} {'backward':>9}  (ms, median)"]
        total = 0.0
        for name, _ in self.layers:
            forward = statistics.median(self.forward[name]) if self.forward[name] else 0.0
            backward = statistics.median(self.backward[name]) if self.backward[name] else 0.0
            total += forward + backward
            rows.append(f"    {name:<14} {forward * 1e3:9.3f} {backward * 1e3:9.3f}")
        rows.append(f"    {'sum':<14} {total * 1e3:19.3f}")
        return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=ROOT / "architectures" / "lenet5.net")
    parser.add_argument("--compare", type=Path, help="a second network, profiled in turn with the first")
    parser.add_argument("--batch", type=int, default=32, help="images a step (a core's piece of the batch)")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch's threads (1: as in a shared step)")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="channels-last")
    parser.add_argument("--steps", type=int, default=200, help="timed steps a round (as many untimed first)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as a CPU training run does
    try:
        clocks = [LayerClock(path, args.batch, LAYOUTS[args.layout]) for path in [args.file, args.compare] if path]
    except cnndsl.CompileError as exc:
        sys.exit(str(exc))
    for clock in clocks:
        clock.steps(args.steps, record=False)
    for _ in range(args.rounds):
        for clock in clocks:
            clock.steps(args.steps, record=True)
    print(f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, {args.threads} thread(s), "
          f"batch {args.batch}, {args.layout}, {args.rounds} x {args.steps} steps")
    for path, clock in zip([args.file, args.compare], clocks):
        print(clock.table(str(path)))


if __name__ == "__main__":
    main()
