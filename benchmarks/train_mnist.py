"""Training on real MNIST digits: cnndsl's trainer against the LAB8 tutorial's own loop.

Not a test: it needs the real MNIST test-set files, tqdm (`pip install -e .[bench]`) and a few
minutes. The 60,000 training
images are not available offline, so the 10,000 test images are split: images 0..7999 train,
8000..9999 test. They are written to a temporary folder in torchvision's layout, where both
`torchvision.datasets.MNIST` (the tutorial) and `cnndsl train --data mnist` read them.

(a) One epoch of LeNet-5 with the tutorial's settings (batch 64, SGD lr 0.01 momentum 0.5):
    the tutorial's own epoch as LAB8 writes it (`datasets.MNIST` with `Resize((32, 32))`,
    `ToTensor` and `Normalize`, a shuffling DataLoader, a tqdm bar showing each step's loss and
    accuracy, and a pass over the test loader after the last step) against cnndsl's epoch (the
    `seconds` of its metrics: the training pass and the test pass). A third loop shows the
    floor: the same network and SGD on tensors prepared before the clock starts.
(b) cnndsl's default recipe (nothing but `--data mnist`): the test accuracy it reaches, and the
    wall time of the whole run (data, training, a test pass per epoch, plots, run directory)
    against three epochs of the tutorial's loop, and how far into the run the test accuracy
    first reached 98%; the same with `--epochs 2` shows the trade.

Both sides run in this process, interleaved, after one untimed warm-up epoch each (the first
epoch of a process pays for oneDNN's kernel generation). Medians over --repeats are reported,
with the best times beside them: on a shared machine the best is the least disturbed figure.

    python benchmarks/train_mnist.py [--mnist DIR] [--repeats N]

DIR holds t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz; it defaults to
$CNNDSL_MNIST_T10K, or /work/shared/data/mnist-t10k.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn
from torchvision import datasets, transforms
from tqdm import tqdm

import cnndsl
from cnndsl.backends.torch_module import build
from cnndsl.train.data.idx import read_idx
from cnndsl.train.commands.session import Session, TrainRequest
from cnndsl.train_schema import SETTING_NAMES

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "architectures" / "lenet5.net"
DEFAULT_MNIST = Path(os.environ.get("CNNDSL_MNIST_T10K", "/work/shared/data/mnist-t10k"))
TRAIN_IMAGES, TEST_IMAGES = 8000, 2000
TUTORIAL = {"batch_size": 64, "optimizer": "sgd", "lr": 0.01, "momentum": 0.5, "schedule": "constant",
            "label_smoothing": 0.0, "weight_decay": 0.0, "augment": "none"}
TUTORIAL_EPOCHS = 3
TARGET_ACCURACY = 0.98


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


def write_split(source: Path, root: Path) -> None:
    """The MNIST test set, split 8,000 / 2,000, as torchvision's MNIST/raw files."""
    images = read_idx(source / "t10k-images-idx3-ubyte.gz", 3)
    labels = read_idx(source / "t10k-labels-idx1-ubyte.gz", 1)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, array in (("train-images-idx3-ubyte", images[:TRAIN_IMAGES]),
                        ("train-labels-idx1-ubyte", labels[:TRAIN_IMAGES]),
                        ("t10k-images-idx3-ubyte", images[TRAIN_IMAGES:TRAIN_IMAGES + TEST_IMAGES]),
                        ("t10k-labels-idx1-ubyte", labels[TRAIN_IMAGES:TRAIN_IMAGES + TEST_IMAGES])):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        (raw / name).write_bytes(header + np.ascontiguousarray(array).tobytes())


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


class ComputeFloor:
    """What no data pipeline can go below: LeNet-5, LAB8's loss and SGD on the tutorial's own
    tensors, decoded, resized and normalised before the clock starts, drawn by index in the
    layout and with the optimizer kernel cnndsl uses (channels-last, fused SGD), with a test
    pass at the end. The gap between this and cnndsl's epoch is all cnndsl's own overhead."""

    def __init__(self, tutorial: Tutorial) -> None:
        def tensors(dataset: datasets.MNIST) -> tuple[torch.Tensor, torch.Tensor]:
            images = torch.stack([dataset[i][0] for i in range(len(dataset))])
            return images.contiguous(memory_format=torch.channels_last), torch.as_tensor(dataset.targets)

        self.train_images, self.train_labels = tensors(tutorial.train_set)
        self.test_images, self.test_labels = tensors(tutorial.test_set)

    def epoch(self) -> float:
        torch.manual_seed(0)
        net = cnndsl.compile(LENET).to(memory_format=torch.channels_last)  # LAB8's view() needs NCHW
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


def cnndsl_run(root: Path, out: Path, settings: dict) -> tuple[float, list[dict]]:
    """One `cnndsl train` run in this process; its wall time and its metrics."""
    net = cnndsl.check(LENET).network()
    flags = {name: settings.get(name) for name in SETTING_NAMES} | {"data": "mnist"}
    request = TrainRequest(net, build, flags, root, None, "cpu", False, out)
    start = time.perf_counter()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST, help="folder of the t10k .gz files")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions (medians are reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cnndsl-bench-") as folder:
        work = Path(folder)
        root = work / "data"
        write_split(args.mnist, root)
        tutorial = Tutorial(root)
        floor = ComputeFloor(tutorial)
        runs = iter(range(10**6))

        tutorial.epoch()  # warm-up, untimed
        floor.epoch()
        cnndsl_run(root, work / f"run{next(runs)}", TUTORIAL | {"epochs": 1})

        tutorial_epochs, tutorial_three, tutorial_accuracy, cnndsl_epochs, cnndsl_epoch_walls = [], [], [], [], []
        floor_epochs = []
        recipes = {"default recipe": {}, "default recipe, --epochs 2": {"epochs": 2}}
        walls: dict[str, list[float]] = {name: [] for name in recipes}
        accuracy: dict[str, list[float]] = {name: [] for name in recipes}
        reached: dict[str, list[tuple[int, float] | None]] = {name: [] for name in recipes}
        for _ in range(args.repeats):
            tutorial.reset()
            times = [tutorial.epoch() for _ in range(TUTORIAL_EPOCHS)]
            tutorial_epochs.extend(times)
            tutorial_three.append(sum(times))
            tutorial_accuracy.append(tutorial.test_accuracy)
            wall, metrics = cnndsl_run(root, work / f"run{next(runs)}", TUTORIAL | {"epochs": 1})
            cnndsl_epochs.append(metrics[0]["seconds"])
            cnndsl_epoch_walls.append(wall)
            floor_epochs.append(floor.epoch())
            for name, settings in recipes.items():
                wall, metrics = cnndsl_run(root, work / f"run{next(runs)}", settings)
                walls[name].append(wall)
                accuracy[name].append(metrics[-1]["test_accuracy"])
                reached[name].append(time_to_target(wall, metrics))

    def figures(times: list[float]) -> str:
        return f"{statistics.median(times):.3f} s (best {min(times):.3f} s)"

    def ratio(mine: list[float], theirs: list[float]) -> str:
        return (f"{statistics.median(mine) / statistics.median(theirs):.2f} "
                f"(best against best {min(mine) / min(theirs):.2f}; target <= 0.33)")

    print(f"MNIST t10k split: train images 0..{TRAIN_IMAGES - 1}, "
          f"test images {TRAIN_IMAGES}..{TRAIN_IMAGES + TEST_IMAGES - 1}")
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; medians of {args.repeats} repeats after a warm-up epoch")
    print()
    print("(a) one epoch of LeNet-5, batch 64, SGD lr 0.01 momentum 0.5")
    print(f"    tutorial loop (MNIST + Resize + ToTensor + Normalize, DataLoader, test pass): {figures(tutorial_epochs)}")
    print(f"    cnndsl trainer (the epoch: training pass and test pass):                     {figures(cnndsl_epochs)}")
    print(f"    ratio cnndsl / tutorial: {ratio(cnndsl_epochs, tutorial_epochs)}")
    print(f"    compute floor (the same network and SGD on tensors prepared in advance):       {figures(floor_epochs)}")
    print(f"    ratio floor / tutorial: {ratio(floor_epochs, tutorial_epochs)}")
    print(f"    whole `cnndsl train --epochs 1` run (data, epoch, test pass, plots): {figures(cnndsl_epoch_walls)}")
    print()
    print(f"(b) cnndsl's default recipe against {TUTORIAL_EPOCHS} epochs of the tutorial loop, "
          f"{figures(tutorial_three)}; the tutorial reaches {statistics.median(tutorial_accuracy):.2%}")
    for name in recipes:
        print(f"    {name}: test accuracy {statistics.median(accuracy[name]):.2%} (target >= {TARGET_ACCURACY:.2%}), "
              f"whole run {figures(walls[name])}")
        print(f"        ratio cnndsl / tutorial: {ratio(walls[name], tutorial_three)}")
        if all(reached[name]):
            epochs = sorted({epoch for epoch, _ in reached[name]})
            times = [seconds for _, seconds in reached[name]]
            print(f"        reached {TARGET_ACCURACY:.0%} after epoch {'/'.join(map(str, epochs))}, {figures(times)} "
                  f"into the run; ratio {ratio(times, tutorial_three)}")
        else:
            print(f"        did not reach {TARGET_ACCURACY:.0%} in every repeat")


if __name__ == "__main__":
    main()
