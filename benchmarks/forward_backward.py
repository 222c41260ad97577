"""Forward + backward time and peak memory of compiled networks against torchvision's own.

    .venv/bin/python benchmarks/forward_backward.py              # resnet18 (batch 8), vgg16 (batch 2)
    .venv/bin/python benchmarks/forward_backward.py resnet18 --repeats 21 --threads 2
    .venv/bin/python benchmarks/forward_backward.py --control    # torchvision against itself

Time: both models of a pair hold the same weights and train on the same batch with the same
number of threads, one step at a time and interleaved (the order alternating each round), so that drift in the
machine's speed falls on both alike; it reports the median step and the fastest one. On a
shared machine other processes only ever add time, so the ratio of the fastest steps is the
steadier figure; `--control` times a second torchvision model in cnndsl's place, which shows
how far apart two identical models measure on this machine.

Memory: each model runs in a subprocess of its own, because a process's peak resident set
size cannot be reset and PyTorch's CPU allocations are invisible to `tracemalloc`; it reports
the peak before the first step (the libraries, the model and its inputs) and after the steps.
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


def with_weights_of(model: nn.Module, reference: nn.Module) -> nn.Module:
    """`model` holding `reference`'s weights, copied state-dict entry by entry, so that both
    do the very same arithmetic on the very same numbers and only their structure differs
    (torchvision initialises its layers its own way; cnndsl leaves PyTorch's defaults)."""
    model.load_state_dict(dict(zip(model.state_dict(), reference.state_dict().values())))
    return model


def step_times(name: str, contestants: tuple[str, str], batch: int, repeats: int, warmup: int) -> list[list[float]]:
    """Seconds per step of each contestant, measured in alternating order."""
    first, reference = (make_model(name, implementation) for implementation in contestants)
    steps = [make_step(with_weights_of(first, reference), batch), make_step(reference, batch)]
    for _ in range(warmup):
        for step in steps:
            step()
    times: list[list[float]] = [[], []]
    for round_ in range(repeats):
        for index in ((0, 1) if round_ % 2 == 0 else (1, 0)):
            times[index].append(timed(steps[index]))
    return times


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


def report(name: str, args: argparse.Namespace) -> None:
    batch = args.batch or BENCHMARKS[name][2]
    contestants = ("torchvision", "torchvision") if args.control else IMPLEMENTATIONS
    labels = ("torchvision'", "torchvision") if args.control else IMPLEMENTATIONS
    times = step_times(name, contestants, batch, args.repeats, args.warmup)
    print(f"{name}: batch {batch}x3x224x224, {args.threads} threads, {args.repeats} interleaved steps each")
    for label, implementation, values in zip(labels, contestants, times):
        memory = memory_in_subprocess(name, implementation, batch, args.threads, args.memory_steps)
        print(f"  {label:<12} median {statistics.median(values) * 1000:7.1f} ms, fastest {min(values) * 1000:7.1f} ms"
              f"   peak RSS {memory['peak_mib']:5.0f} MiB (+{memory['peak_mib'] - memory['before_mib']:.0f} MiB "
              "during the steps)")
    median_ratio = statistics.median(times[0]) / statistics.median(times[1])
    fastest_ratio = min(times[0]) / min(times[1])
    print(f"  time ratio {labels[0]} / {labels[1]}: medians {median_ratio:.3f} ({(median_ratio - 1) * 100:+.1f}%), "
          f"fastest {fastest_ratio:.3f} ({(fastest_ratio - 1) * 100:+.1f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", choices=[[], *BENCHMARKS], metavar="MODEL",
                        help=f"{' or '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--batch", type=int, help="batch size (default: 8 for resnet18, 2 for vgg16)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=11, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model first")
    parser.add_argument("--memory-steps", type=int, default=2, help="steps in each memory subprocess")
    parser.add_argument("--control", action="store_true", help="time torchvision against a second torchvision")
    parser.add_argument("--memory-of", nargs=2, metavar=("MODEL", "IMPLEMENTATION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_of:
        name, implementation = args.memory_of
        measure_memory(name, implementation, args.batch or BENCHMARKS[name][2], args.memory_steps)
        return
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    for name in args.models or BENCHMARKS:
        report(name, args)


if __name__ == "__main__":
    main()
