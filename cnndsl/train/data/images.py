"""A data set in memory: uint8 image tensors with their labels, a train and a test split.

Every source (sources.py) produces these, in the data set's own size and channels; adapting
them to a network's input is adapt.py's job. Keeping the raw bytes means a data set is
decoded once and then costs only indexing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, cast

import numpy as np
import torch

# One sample in TEST_EVERY goes to the test split of data sets that come without one.
TEST_EVERY = 5

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
