"""Fixtures for the training tests: a tiny network, and small data sets written to disk in
torchvision's layout, so that no test needs the network or /work/shared."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

TINY_NET = """\
network Tiny(classes = 10, width = 8) {
    input 1x8x8
    conv(width, 3, padding = 1)
    relu
    maxpool(2)
    flatten
    linear(classes)
}
"""


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """An IDX file of unsigned bytes, as the MNIST files are."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def bar_images(count: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable digits-like images, plus noise: class k is a bright bar on one of five rows
    (k mod 5), in the left or right half of the image (k < 5 or not)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = rng.integers(0, 60, size=(count, size, size), dtype=np.uint8)
    step = max(1, (size - 2) // 5)
    for index, label in enumerate(labels):
        row = 1 + (label % 5) * step
        columns = slice(0, size // 2) if label < 5 else slice(size // 2, size)
        images[index, row:row + step, columns] = 255
    return images, labels.astype(np.uint8)


def write_mnist(root: Path, folder: str = "MNIST", train: int = 200, test: int = 60, size: int = 28,
                compress: bool = False) -> Path:
    raw = root / folder / "raw"
    images, labels = bar_images(train, size, 1)
    write_idx(raw / "train-images-idx3-ubyte", images, compress)
    write_idx(raw / "train-labels-idx1-ubyte", labels, compress)
    images, labels = bar_images(test, size, 2)
    write_idx(raw / "t10k-images-idx3-ubyte", images, compress)
    write_idx(raw / "t10k-labels-idx1-ubyte", labels, compress)
    return root


@pytest.fixture
def tiny_net(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.net"
    path.write_text(TINY_NET)
    return path


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    return write_mnist(tmp_path / "data")
