"""Training on the complete MNIST: cnndsl's trainer against the LAB8 tutorial's own loop.

Not a test: it needs MNIST (60,000 training and 10,000 test images), tqdm
(`pip install -e .[bench]`) and, on a two-core CPU, some minutes.

(a) One epoch of LeNet-5 with the tutorial's settings (batch 64, SGD lr 0.01 momentum 0.5):
    the tutorial's own epoch as LAB8 writes it (`datasets.MNIST` with `Resize((32, 32))`,
    `ToTensor` and `Normalize`, a shuffling DataLoader, a tqdm bar showing each step's loss and
    accuracy, and a pass over the test loader after the last step) against cnndsl's epoch as
    the user waits for it (the `seconds` of its metrics: the training pass with its progress
    bar, and the test pass). A third loop is the plain PyTorch loop at its barest: the same
    network and SGD on tensors prepared before the clock starts, in PyTorch's default layout,
    each operation on PyTorch's own threads; cnndsl's epoch goes below it by sharing each batch
    among the cores (cnndsl/train/loop/cores.py) and by training in the faster layout, which its
    warm-up measures (cnndsl/train/loop/layout.py; the layout each run took is printed).
(b) cnndsl's fast recipe (nothing but `--data mnist`): how far into the run (setup included)
    the test accuracy first reached LAB8's published 98.36%, and where the run ends, against
    the tutorial's 5 epochs.

Both sides run in this process, interleaved (a tutorial epoch, then a cnndsl run, ...), so that
a busy machine slows both alike; the load average is printed with the figures. Medians over
--repeats are reported, with the best times beside them, and for (a) also each cnndsl epoch over
the tutorial epochs just before and after it, which a machine whose speed drifts between repeats
(a shared one) moves least.

    python benchmarks/train_mnist.py [--mnist ROOT] [--download] [--repeats N]

ROOT is a folder in torchvision's layout (ROOT/MNIST/raw/train-images-idx3-ubyte[.gz], ...), the
one `cnndsl train --data mnist --data-root ROOT` reads; it defaults to ./data, where
`cnndsl train --data mnist` downloads MNIST. With --download, MNIST is downloaded into ROOT
when it is not there. The files are unpacked into a temporary folder that both sides read.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import cnndsl  # first: it sets OpenMP's wait policy, which must be in place before torch loads (both sides run with it)
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn
from torchvision import datasets, transforms
from tqdm import tqdm

from cnndsl.backends.torch_module import build
from cnndsl.train.commands.session import Session, TrainRequest
from cnndsl.train.loop.cores import Cores
from cnndsl.settings_schema import SETTING_NAMES

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "architectures" / "lenet5.net"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")
# LAB8's settings, as architectures/seeds/lab8_lenet5.net states them (the plain recipe).
TUTORIAL = {"recipe": "plain", "batch_size": 64, "optimizer": "sgd", "lr": 0.01, "momentum": 0.5}
TUTORIAL_EPOCHS = 5
TARGET_ACCURACY = 0.9836  # LAB8's published test accuracy after its 5 epochs


class TutorialLeNet5(nn.Module):
    """LeNet-5 as the LAB8 tutorial writes it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def unpack(root: Path, download: bool, into: Path) -> None:
    """MNIST's four files from a torchvision-layout ROOT (plain or .gz), unpacked into
    `into`/MNIST/raw, where torchvision's MNIST (which reads only unpacked files) and cnndsl
    both read them."""
    raw = root / "MNIST" / "raw"
    if download and not all((raw / name).is_file() or (raw / f"{name}.gz").is_file() for name in MNIST_FILES):
        datasets.MNIST(str(root), train=True, download=True)
    target = into / "MNIST" / "raw"
    target.mkdir(parents=True)
    for name in MNIST_FILES:
        if (raw / name).is_file():
            shutil.copyfile(raw / name, target / name)
        elif (raw / f"{name}.gz").is_file():
            with gzip.open(raw / f"{name}.gz") as packed, open(target / name, "wb") as unpacked:
                shutil.copyfileobj(packed, unpacked)
        else:
            sys.exit(f"{raw} has no {name}[.gz]: give the folder with --mnist ROOT (torchvision's layout), "
                     "or add --download")


class Tutorial:
    """The LAB8 tutorial's data pipeline, model, optimizer and epoch loop, as it is written:
    `Resize((32, 32))`, `ToTensor`, `Normalize` per image through a DataLoader; a tqdm bar
    whose description shows the step's loss and accuracy; and, after the last step of each
    epoch, a pass over the test loader that accumulates loss and accuracy."""

    def __init__(self, root: Path) -> None:
        def pipeline(mean: float, std: float) -> transforms.Compose:
            return transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor(),
                                       transforms.Normalize(mean=(mean,), std=(std,))])

        self.train_set = datasets.MNIST(str(root), train=True, download=False, transform=pipeline(0.1307, 0.3081))
        self.test_set = datasets.MNIST(str(root), train=False, download=False, transform=pipeline(0.1325, 0.3105))
        self.reset()

    def reset(self) -> None:
        torch.manual_seed(0)
        batch = TUTORIAL["batch_size"]
        self.train_loader = torch.utils.data.DataLoader(dataset=self.train_set, batch_size=batch, shuffle=True)
        self.test_loader = torch.utils.data.DataLoader(dataset=self.test_set, batch_size=batch, shuffle=True)
        self.net = TutorialLeNet5()
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=TUTORIAL["lr"], momentum=TUTORIAL["momentum"])
        self.criterion = nn.CrossEntropyLoss()
        self.test_accuracy = 0.0

    def epoch(self) -> float:
        """One epoch of the tutorial's loop (training, then its test pass); its seconds."""
        start = time.perf_counter()
        process_bar = tqdm(self.train_loader, unit="step", file=io.StringIO())
        self.net.train(True)
        total_train_loss = 0.0
        for step, (train_images, labels) in enumerate(process_bar):
            self.optimizer.zero_grad()
            outputs = self.net(train_images)
            loss = self.criterion(outputs, labels)
            predictions = torch.argmax(outputs, dim=1)
            accuracy = torch.sum(predictions == labels) / labels.shape[0]
            loss.backward()
            self.optimizer.step()
            process_bar.set_description("Loss: %.4f, Acc: %.4f" % (loss.item(), accuracy.item()))
            total_train_loss += loss
            if step == len(process_bar) - 1:
                correct, total_loss, total_size = 0, 0, 0
                self.net.train(False)
                for test_images, test_labels in self.test_loader:
                    outputs = self.net(test_images)
                    total_loss += self.criterion(outputs, test_labels)
                    correct += torch.sum(torch.argmax(outputs, dim=1) == test_labels)
                    total_size += test_labels.size(0)
                self.test_accuracy = float(correct / total_size)
        process_bar.close()
        return time.perf_counter() - start


class BareLoop:
    """The plain PyTorch loop with nothing around it: LeNet-5, LAB8's loss and SGD on the
    tutorial's own tensors, decoded, resized and normalised before the clock starts, drawn by
    index, with the optimizer kernel cnndsl uses (fused SGD), and a test pass at the end; each
    operation on PyTorch's own threads, in the default layout."""

    def __init__(self, tutorial: Tutorial) -> None:
        def tensors(dataset: datasets.MNIST) -> tuple[torch.Tensor, torch.Tensor]:
            images = torch.stack([dataset[i][0] for i in range(len(dataset))])
            return images, torch.as_tensor(dataset.targets)

        self.train_images, self.train_labels = tensors(tutorial.train_set)
        self.test_images, self.test_labels = tensors(tutorial.test_set)

    def epoch(self) -> float:
        torch.manual_seed(0)
        net = cnndsl.compile(LENET)
        optimizer = torch.optim.SGD(net.parameters(), lr=TUTORIAL["lr"], momentum=TUTORIAL["momentum"], fused=True)
        criterion, batch = nn.CrossEntropyLoss(), TUTORIAL["batch_size"]
        start = time.perf_counter()
        order = torch.randperm(len(self.train_labels))
        for first in range(0, len(order) - batch + 1, batch):
            index = order[first:first + batch]
            loss = criterion(net(self.train_images.index_select(0, index)), self.train_labels.index_select(0, index))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.inference_mode():
            for first in range(0, len(self.test_labels), 2 * batch):
                net(self.test_images[first:first + 2 * batch]).argmax(dim=1)
        return time.perf_counter() - start


def cnndsl_run(root: Path, out: Path, settings: dict, limit: int | None = None,
               share: bool = True) -> tuple[float, list[dict]]:
    """One `cnndsl train` run in this process; its wall time and its metrics. With `share`
    false, each batch is kept whole, each operation on PyTorch's own threads, as before
    cnndsl shared batches among the cores (there is no option for it: the comparison
    replaces the count of threads to share among)."""
    net = cnndsl.check(LENET).network()
    flags = {name: settings.get(name) for name in SETTING_NAMES} | {"data": "mnist"}
    request = TrainRequest(net, build, flags, root, limit, "cpu", False, out)
    start = time.perf_counter()
    with mock.patch.object(Cores, "available", staticmethod(lambda device, alone: 1)) if not share else \
            contextlib.nullcontext():
        Session(request, Console(file=io.StringIO())).run()
    wall = time.perf_counter() - start
    return wall, [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def time_to_target(wall: float, metrics: list[dict]) -> tuple[int, float] | None:
    """The first epoch whose test accuracy reaches the target, and how far into the run its
    test pass ended: the run's wall time less the epochs after it (so setup and the closing
    plots and report are all counted: an upper bound)."""
    for index, record in enumerate(metrics):
        if record["test_accuracy"] >= TARGET_ACCURACY:
            return record["epoch"], wall - sum(later["seconds"] for later in metrics[index + 1:])
    return None


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", type=Path, default=Path("data"), help="MNIST in torchvision's layout (ROOT)")
    parser.add_argument("--download", action="store_true", help="download MNIST into ROOT when it is not there")
    parser.add_argument("--repeats", type=int, default=2, help="timed repetitions (medians are reported)")
    args = parser.parse_args()
    loads = [load()]
    with tempfile.TemporaryDirectory(prefix="cnndsl-bench-") as folder:
        work = Path(folder)
        root = work / "data"
        unpack(args.mnist, args.download, root)
        tutorial = Tutorial(root)
        bare = BareLoop(tutorial)
        runs = iter(range(10**6))
        # imports and kernels of this process, for both sides: a short cnndsl run, untimed
        cnndsl_run(root, work / f"run{next(runs)}", TUTORIAL | {"epochs": 1}, limit=640)

        tutorial_epochs, tutorial_runs, tutorial_accuracy, cnndsl_epochs, bare_epochs = [], [], [], [], []
        whole_epochs, layouts, paired = [], [], []
        fast_walls, fast_accuracy, reached = [], [], []
        for _ in range(args.repeats):
            tutorial.reset()
            times = [tutorial.epoch()]
            out = work / f"run{next(runs)}"
            wall, metrics = cnndsl_run(root, out, TUTORIAL | {"epochs": 1})
            cnndsl_epochs.append(metrics[0]["seconds"])
            layouts.append(json.loads((out / "config.json").read_text())["device"])
            times.append(tutorial.epoch())
            paired.append(cnndsl_epochs[-1] / statistics.mean(times))  # the tutorial epochs just before and after
            bare_epochs.append(bare.epoch())
            wall, metrics = cnndsl_run(root, work / f"run{next(runs)}", TUTORIAL | {"epochs": 1}, share=False)
            whole_epochs.append(metrics[0]["seconds"])
            times.append(tutorial.epoch())
            wall, metrics = cnndsl_run(root, work / f"run{next(runs)}", {})
            fast_walls.append(wall)
            fast_accuracy.append(metrics[-1]["test_accuracy"])
            reached.append(time_to_target(wall, metrics))
            times.extend(tutorial.epoch() for _ in range(TUTORIAL_EPOCHS - len(times)))
            tutorial_epochs.extend(times)
            tutorial_runs.append(sum(times))
            tutorial_accuracy.append(tutorial.test_accuracy)
            loads.append(load())

    def figures(times: list[float]) -> str:
        return f"{statistics.median(times):.2f} s (range {min(times):.2f}-{max(times):.2f} s)"

    def ratio(mine: list[float], theirs: list[float], target: str) -> str:
        return (f"{statistics.median(mine) / statistics.median(theirs):.3f} "
                f"(best against best {min(mine) / min(theirs):.3f}; target {target})")

    print(f"MNIST: {len(tutorial.train_set):,} training images, {len(tutorial.test_set):,} test images")
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
          f"{args.repeats} repeats; load average (1, 5, 15 min) at the start and after each repeat: "
          f"{' | '.join(loads)}")
    print()
    print("(a) one epoch of LeNet-5, batch 64, SGD lr 0.01 momentum 0.5")
    print(f"    tutorial loop (MNIST + Resize + ToTensor + Normalize, DataLoader, tqdm, test pass): "
          f"{figures(tutorial_epochs)}")
    print(f"    cnndsl epoch (training pass with its progress bar, and the test pass):            "
          f"{figures(cnndsl_epochs)}")
    print(f"    ratio cnndsl / tutorial: {ratio(cnndsl_epochs, tutorial_epochs, '<= 1/3.5 = 0.286, aim 0.2')}")
    print("    each cnndsl epoch over the mean of the tutorial epochs just before and after it (the same minutes "
          f"of the machine): {', '.join(f'{r:.3f}' for r in paired)}")
    print("    cnndsl's layout, as its warm-up measured it (a channels-last step's time over a default-layout step's): "
          + ", ".join(f"{'channels-last' if d['channels_last'] else 'default'} ({d['layout_ratio']:.2f})"
                      if d.get("layout_ratio") is not None else "not measured" for d in layouts))
    print(f"    cnndsl epoch, each batch kept whole on PyTorch's threads (not shared among cores):  "
          f"{figures(whole_epochs)}")
    print(f"    ratio shared / whole: {ratio(cnndsl_epochs, whole_epochs, 'none: what sharing gains')}")
    print(f"    bare PyTorch loop (the same network and SGD on tensors prepared in advance):      "
          f"{figures(bare_epochs)}")
    print(f"    ratio bare loop / tutorial: {ratio(bare_epochs, tutorial_epochs, 'none: a reference')}")
    print()
    print(f"(b) cnndsl's fast recipe against the tutorial's {TUTORIAL_EPOCHS} epochs, {figures(tutorial_runs)}, "
          f"which end at {statistics.median(tutorial_accuracy):.2%} test accuracy")
    print(f"    fast recipe: whole run {figures(fast_walls)}, ends at "
          f"{'/'.join(f'{a:.2%}' for a in fast_accuracy)} (target >= 99.20%)")
    if all(reached):
        epochs = sorted({epoch for epoch, _ in reached if epoch})
        times = [seconds for _, seconds in reached if seconds]
        print(f"    reached {TARGET_ACCURACY:.2%} after epoch {'/'.join(map(str, epochs))}, {figures(times)} into the "
              f"run; ratio {ratio(times, tutorial_runs, '<= 0.1')}")
    else:
        print(f"    did not reach {TARGET_ACCURACY:.2%} in every repeat")


if __name__ == "__main__":
    main()
