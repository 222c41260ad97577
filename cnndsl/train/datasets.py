"""The data sets `--data` names, each loaded as two uint8 image tensors (train and test).

Every loader returns whole tensors, `N x C x H x W` uint8 images and int64 labels, in the
data set's own size and channels; adapting them to a network's input is `adapt.py`'s job.
Keeping the raw bytes means a data set is decoded once and then costs only indexing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, cast

import numpy as np
import torch

from .dataspec import TORCHVISION_SETS, DataSpec
from .errors import TrainError

# One sample in TEST_EVERY goes to the test split of data sets that come without one.
TEST_EVERY = 5
FAKE_TRAIN_SAMPLES = 512
FAKE_TEST_SAMPLES = 128
FAKE_SEED = 0

Log = Callable[[str], None]


@dataclass(frozen=True)
class ImageSet:
    """Images as `N x C x H x W` uint8 and their labels as int64, both on the CPU."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def first(self, count: int) -> "ImageSet":
        return ImageSet(self.images[:count], self.labels[:count])


@dataclass(frozen=True)
class Dataset:
    """A data set with its class names; `flip` says whether a mirrored image keeps its class
    (true for photographs, false for digits and characters)."""

    spec: str
    classes: tuple[str, ...]
    train: ImageSet
    test: ImageSet
    flip: bool

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return cast("tuple[int, int, int]", tuple(self.train.images.shape[1:]))  # N x C x H x W images


def load_dataset(spec: DataSpec, root: Path, input_shape: tuple[int, ...], classes: int, log: Log) -> Dataset:
    """Load a data set. `input_shape` and `classes` (the network's) shape only what has no
    size of its own: `fake` data, and images of a folder decoded to one size."""
    if spec.kind in TORCHVISION_SETS:
        from .torchvision_sets import load_torchvision

        return load_torchvision(spec.kind, root, log)
    if spec.kind == "digits":
        return _digits()
    if spec.kind == "imagefolder":
        from .imagefolder import load_image_folder

        assert spec.path is not None
        return load_image_folder(spec.path, input_shape, log)
    return _fake(input_shape, classes)


def split_every(labels: np.ndarray, every: int = TEST_EVERY) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic, class-balanced split: within each class, in order, every `every`-th
    sample goes to the test set. Returns the train and test indices, each sorted."""
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test[members[every - 1::every]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def from_arrays(images: np.ndarray, labels: np.ndarray) -> ImageSet:
    """An ImageSet from numpy arrays (`N x C x H x W` uint8 images, integer labels)."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if not images.flags.writeable:  # a view of a file's bytes: torch wants its own copy
        images = images.copy()
    return ImageSet(torch.from_numpy(images), torch.from_numpy(np.array(labels, dtype=np.int64)))


def _digits() -> Dataset:
    """scikit-learn's bundled 8x8 digits (1,797 images, values 0..16), offline."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise TrainError("--data digits needs scikit-learn, which is not installed",
                         help="install it with `pip install scikit-learn`") from None
    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    labels = bunch.target.astype(np.int64)
    train, test = split_every(labels)
    return Dataset("digits", tuple(str(d) for d in range(10)),
                   from_arrays(images[train], labels[train]), from_arrays(images[test], labels[test]), flip=False)


def _fake(input_shape: tuple[int, ...], classes: int) -> Dataset:
    """Random images shaped like the network's input, one noisy prototype per class, so a
    network can learn them and a smoke test can see the loss fall."""
    shape = input_shape if len(input_shape) == 3 else (1, 1, input_shape[0])
    generator = torch.Generator().manual_seed(FAKE_SEED)
    prototypes = torch.randint(0, 256, (classes, *shape), generator=generator, dtype=torch.uint8)

    def sample(count: int) -> ImageSet:
        labels = torch.arange(count) % classes
        noise = torch.randint(0, 256, (count, *shape), generator=generator, dtype=torch.uint8)
        images = (prototypes[labels].float() * 0.7 + noise.float() * 0.3).round().to(torch.uint8)
        return ImageSet(images, labels)

    return Dataset("fake", tuple(f"class {k}" for k in range(classes)),
                   sample(FAKE_TRAIN_SAMPLES), sample(FAKE_TEST_SAMPLES), flip=False)
