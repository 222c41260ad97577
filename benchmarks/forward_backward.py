"""Forward + backward time and peak memory of compiled networks against torchvision's own.

    .venv/bin/python benchmarks/forward_backward.py              # resnet18 (batch 8), vgg16 (batch 2)
    .venv/bin/python benchmarks/forward_backward.py --repeats 11 --threads 2

Time: both models of a pair are trained on the same batch with the same number of threads,
one step at a time and interleaved (the order alternating each round), so that drift in the
machine's speed falls on both alike; the figure is the median step. Memory: each model runs
in a subprocess of its own, because a process's peak resident set size cannot be reset and
PyTorch's CPU allocations are invisible to `tracemalloc`; it reports the peak before the first
step (the libraries, the model and its inputs) and after the steps.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torchvision
from torch import nn

import cnndsl

ARCHITECTURES = Path(__file__).resolve().parent.parent / "architectures"
BENCHMARKS = {  # name -> (.net file, torchvision constructor, default batch size)
    "resnet18": ("resnet18.net", torchvision.models.resnet18, 8),
    "vgg16": ("vgg16.net", torchvision.models.vgg16, 2),
}
IMPLEMENTATIONS = ("cnndsl", "torchvision")


def make_model(name: str, implementation: str) -> nn.Module:
    file, constructor, _ = BENCHMARKS[name]
    return cnndsl.compile(ARCHITECTURES / file) if implementation == "cnndsl" else constructor()


def make_step(model: nn.Module, batch: int) -> Callable[[], None]:
    """One training step without the optimiser: forward, cross-entropy, backward."""
    torch.manual_seed(0)
    x = torch.randn(batch, 3, 224, 224)
    labels = torch.randint(0, 1000, (batch,))
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step() -> None:
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), labels).backward()

    return step


def timed(step: Callable[[], None]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def time_pair(name: str, batch: int, repeats: int, warmup: int) -> dict[str, float]:
    steps = {impl: make_step(make_model(name, impl), batch) for impl in IMPLEMENTATIONS}
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {impl: [] for impl in IMPLEMENTATIONS}
    for round_ in range(repeats):
        order = IMPLEMENTATIONS if round_ % 2 == 0 else IMPLEMENTATIONS[::-1]
        for impl in order:
            times[impl].append(timed(steps[impl]))
    return {impl: statistics.median(values) for impl, values in times.items()}


def peak_rss_mib() -> float:
    """This process's peak resident set size. Linux's VmHWM starts afresh at exec, whereas
    `ru_maxrss` would carry over the parent's peak into the subprocess."""
    status = Path("/proc/self/status")
    if status.exists():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # macOS reports bytes


def measure_memory(name: str, implementation: str, batch: int, steps: int) -> None:
    """Runs in its own process: prints the peak RSS before and after the training steps."""
    step = make_step(make_model(name, implementation), batch)
    before = peak_rss_mib()
    for _ in range(steps):
        step()
    print(json.dumps({"before_mib": before, "peak_mib": peak_rss_mib()}))


def memory_in_subprocess(name: str, implementation: str, batch: int, threads: int, steps: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--memory-of", name, implementation, "--batch", str(batch),
               "--threads", str(threads), "--memory-steps", str(steps)]
    # A fixed mmap threshold makes glibc hand large freed blocks back at once, instead of
    # raising the threshold and keeping them: the peak then tracks live tensors, run to run.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(name: str, batch: int, threads: int, repeats: int, warmup: int, memory_steps: int) -> None:
    medians = time_pair(name, batch, repeats, warmup)
    ratio = medians["cnndsl"] / medians["torchvision"]
    print(f"{name}: batch {batch}x3x224x224, {threads} threads, median of {repeats} interleaved steps")
    for impl in IMPLEMENTATIONS:
        memory = memory_in_subprocess(name, impl, batch, threads, memory_steps)
        print(f"  {impl:<12} {medians[impl] * 1000:8.1f} ms/step   peak RSS {memory['peak_mib']:7.0f} MiB "
              f"(+{memory['peak_mib'] - memory['before_mib']:.0f} MiB during the steps)")
    print(f"  time ratio cnndsl / torchvision: {ratio:.3f} ({(ratio - 1) * 100:+.1f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", choices=[[], *BENCHMARKS], metavar="MODEL",
                        help=f"{' or '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--batch", type=int, help="batch size (default: 8 for resnet18, 2 for vgg16)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=11, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model first")
    parser.add_argument("--memory-steps", type=int, default=2, help="steps in each memory subprocess")
    parser.add_argument("--memory-of", nargs=2, metavar=("MODEL", "IMPLEMENTATION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_of:
        name, implementation = args.memory_of
        measure_memory(name, implementation, args.batch or BENCHMARKS[name][2], args.memory_steps)
        return
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    for name in args.models or BENCHMARKS:
        report(name, args.batch or BENCHMARKS[name][2], args.threads, args.repeats, args.warmup, args.memory_steps)


if __name__ == "__main__":
    main()
