"""A CPU training step of the tutorials' networks: cnndsl's trainer against plain PyTorch loops.

Not a test: it takes a minute or two. For each network, at the batch its tutorial uses, the time
of one training step (forward, backward, optimizer update, drawing the batch) in:

- `pytorch`:       a plain loop over prepared batches, PyTorch's default layout, each operation
                   on PyTorch's own threads (what a tutorial's loop does on the CPU);
- `pytorch-cl`:    the same loop in the channels-last layout;
- `cnndsl-whole`:  cnndsl's trainer with each batch kept whole on PyTorch's threads;
- `cnndsl`:        cnndsl's trainer as it runs: each batch shared among the cores where the
                   network trains per sample (cnndsl/train/loop/cores.py).

Both trainer sides train in the layout a run without a seed takes: the faster of the two, timed by
the warm-up (cnndsl/train/loop/layout.py); the figure in brackets is that measurement, a
channels-last step's time over a default-layout step's (median over rounds).

The trainer's figures are its second epoch over generated images, divided by its steps (so they
include what the trainer does around a step: drawing and normalising each batch, the progress
figures); the loops' are the mean over as many steps, after as many untimed ones. The four are run in turn, several rounds,
and the medians printed with their ranges, and each side's ratio to `pytorch`.

    python benchmarks/cpu_step.py [--rounds 3] [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Callable

import cnndsl  # first: it sets OpenMP's wait policy, which must be in place before torch loads
import torch
import torch.nn.functional as F

from cnndsl.backends.torch_module import build
from cnndsl.train.data.adapt import Adaptation, Normaliser
from cnndsl.train.data.augment import Augmentation, Augmenter
from cnndsl.train.data.batches import DeviceSplit
from cnndsl.train.data.images import ImageSet
from cnndsl.train.loop.cores import Cores
from cnndsl.train.loop.device import pick_device
from cnndsl.train.loop.settings import resolve
from cnndsl.train.loop.trainer import Trainer
from cnndsl.train.loop.warmup import WarmShapes, Warmup

ROOT = Path(__file__).resolve().parent.parent
# (file, batch, optimizer settings): each network at its tutorial's batch and optimizer.
NETWORKS = [
    ("architectures/seeds/lab8_lenet5.net", 64, {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5}),
    ("architectures/seeds/mnist_2020.net", 64, {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5}),
    ("architectures/seeds/mnist_6conv_video.net", 120, {"optimizer": "adam", "lr": 0.01}),
    ("architectures/cifar_tutorial.net", 4, {"optimizer": "sgd", "lr": 0.001, "momentum": 0.9}),
]


def plain_loop(path: Path, batch: int, options: dict, channels_last: bool, steps: int) -> float:
    """Seconds a step of a plain PyTorch loop over batches prepared in advance."""
    net = cnndsl.check(path).network()
    torch.manual_seed(0)
    model = build(net)
    inputs = torch.randn(batch * 4, *net.input_shape)
    labels = torch.randint(0, net.output_shape[0], (batch * 4,))
    if channels_last:
        model, inputs = model.to(memory_format=torch.channels_last), inputs.contiguous(memory_format=torch.channels_last)
    optimizer = (torch.optim.SGD(model.parameters(), lr=options["lr"], momentum=options["momentum"]) if
                 options["optimizer"] == "sgd" else torch.optim.Adam(model.parameters(), lr=options["lr"]))

    def step(k: int) -> None:
        first = (k % 4) * batch
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs[first:first + batch]), labels[first:first + batch]).backward()
        optimizer.step()

    for k in range(steps):  # as the trainer's first epoch: untimed
        step(k)
    start = time.perf_counter()
    for k in range(steps):
        step(k)
    return (time.perf_counter() - start) / steps


def trainer_epoch(path: Path, batch: int, options: dict, share: bool, steps: int) -> tuple[float, float]:
    """Seconds a step of cnndsl's trainer, from one epoch of `steps` batches of generated images,
    and the warm-up's layout measurement."""
    net = cnndsl.check(path).network()
    settings = resolve({}, {"data": "mnist", "recipe": "plain", "batch_size": batch, "epochs": 1, **options},
                       "the benchmark")
    plan = pick_device("cpu")
    generator = torch.Generator().manual_seed(0)
    channels, height, width = net.input_shape
    images = torch.randint(0, 256, (batch * steps, channels, height, width), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, net.output_shape[0], (batch * steps,), generator=generator)
    adaptation = Adaptation((channels, height, width), net.input_shape, (0.5,) * channels, (0.25,) * channels)
    cores = Cores.for_training(net, plan.device, alone=True) if share else Cores()
    warmup = Warmup(lambda: build(net), net.input_shape, net.output_shape[0], settings, WarmShapes.of_run(cores, batch),
                    step=True, measure=True)
    warmup.join()
    assert warmup.layout is not None, "the warm-up failed"
    plan = warmup.layout.applied(plan)
    torch.manual_seed(0)
    model = build(net)
    if plan.channels_last:
        model = model.to(memory_format=torch.channels_last)
    with cores:
        trainer = Trainer(model, model, settings, DeviceSplit(ImageSet(images, labels), adaptation, plan.device),
                          Normaliser(adaptation, plan.device), Augmenter(Augmentation(0, False),
                                                                         (channels, height, width), plan.device),
                          plan, net.output_shape[0], cores=cores)
        trainer.train_epoch(1)  # the first use of each shape creates oneDNN's kernels for it: untimed
        stats = trainer.train_epoch(2)
    return stats.seconds / trainer.steps_per_epoch, warmup.layout.ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    sides: dict[str, Callable[[Path, int, dict], tuple[float, float | None]]] = {
        "pytorch": lambda path, batch, options: (plain_loop(path, batch, options, False, args.steps), None),
        "pytorch-cl": lambda path, batch, options: (plain_loop(path, batch, options, True, args.steps), None),
        "cnndsl-whole": lambda path, batch, options: trainer_epoch(path, batch, options, False, args.steps),
        "cnndsl": lambda path, batch, options: trainer_epoch(path, batch, options, True, args.steps),
    }
    print(f"CPU: {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"kernels {torch.backends.cpu.get_cpu_capability()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
          f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}; median ms a step (range) over "
          f"{args.rounds} rounds of {args.steps} steps")
    for file, batch, options in NETWORKS:
        path = ROOT / file
        times: dict[str, list[float]] = {name: [] for name in sides}
        layouts: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.rounds):
            for name, side in sides.items():
                seconds, ratio = side(path, batch, options)
                times[name].append(seconds * 1e3)
                layouts[name].extend([] if ratio is None else [ratio])
        base = statistics.median(times["pytorch"])
        cells = [f"{name} {statistics.median(t):.2f} ({min(t):.2f}-{max(t):.2f}, x{statistics.median(t) / base:.2f})"
                 + (f" [{'/'.join(f'{r:.2f}' for r in layouts[name])}]" if layouts[name] else "")
                 for name, t in times.items()]
        print(f"{Path(file).stem} batch {batch}: " + "; ".join(cells))
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
