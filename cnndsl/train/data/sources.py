"""The data sets `--data` names, each loaded as two uint8 image tensors (train and test).

Every loader returns whole tensors, `N x C x H x W` uint8 images and int64 labels (images.py),
in the data set's own size and channels: the torchvision sets (torchvision_sets.py), a folder
of images (imagefolder.py), scikit-learn's digits and generated `fake` data (here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...settings_schema import TORCHVISION_SETS, DataSpec, Problem, read_spec
from ..errors import TrainError, rejected
from .imagefolder import load_image_folder
from .images import Dataset, ImageSet, Log, from_arrays, split_every
from .torchvision_sets import load_torchvision

FAKE_TRAIN_SAMPLES = 512
FAKE_TEST_SAMPLES = 128
FAKE_SEED = 0


def parse_spec(text: str) -> DataSpec:
    """`mnist`, `imagefolder:PATH`, ...; an unknown name is a usage error (exit 2)."""
    spec = read_spec(text)
    if isinstance(spec, Problem):
        raise rejected(spec)
    return spec


def load_dataset(spec: DataSpec, root: Path, input_shape: tuple[int, ...], classes: int, log: Log,
                 follow_links: bool = False) -> Dataset:
    """Load a data set. `input_shape` and `classes` (the network's) shape only what has no
    size of its own: `fake` data, and images of a folder decoded to one size. An image
    folder's links out of itself are followed only with `follow_links`."""
    if spec.kind in TORCHVISION_SETS:
        return load_torchvision(spec.kind, root, log)
    if spec.kind == "digits":
        return _digits()
    if spec.kind == "imagefolder":
        assert spec.path is not None
        return load_image_folder(spec.path, input_shape, log, follow_links)
    return _fake(input_shape, classes)


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
