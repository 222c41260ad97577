"""Decoded data sets cached next to their source files.

Decoding (gunzip, unpickling, opening thousands of images) is done once; the result, a uint8
image tensor and its labels, is saved beside the data and loaded with
`torch.load(weights_only=True)`, which cannot execute code. The cache records the size and
modification time of every source file and is rebuilt when any of them changes. A data
directory that cannot be written to simply goes without a cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch

from ...atomic import atomic_torch_save

# Raised whenever decoding starts refusing files it used to accept (2: IDX images of 0 pixels),
# so that a cache built before cannot carry such data past the new check.
CACHE_FORMAT = 2


def signature(sources: Sequence[Path], key: str) -> list:
    """What the cache must match: the format, a key (e.g. the decoded size) and the sources."""
    entries: list = [CACHE_FORMAT, key]
    for source in sources:
        stat = source.stat()
        entries.append([f"{source.parent.name}/{source.name}", stat.st_size, stat.st_mtime_ns])
    return entries


def cached(path: Path, sources: Sequence[Path], key: str,
           build: Callable[[], tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """`(images, labels)` from the cache at `path` when it matches the sources, else built and saved."""
    expected = signature(sources, key)
    stored = _load(path)
    if stored is not None and stored.get("signature") == expected:
        return stored["images"], stored["labels"]
    images, labels = build()
    _save(path, {"signature": expected, "images": images, "labels": labels})
    return images, labels


def _load(path: Path) -> dict | None:
    """The cache's contents, or None when it is missing, unreadable or not what we write."""
    if not path.is_file():
        return None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # any damage just means rebuilding; the cache is disposable
        return None
    if not isinstance(stored, dict) or not all(isinstance(stored.get(k), torch.Tensor) for k in ("images", "labels")):
        return None
    return stored


def _save(path: Path, contents: dict) -> None:
    try:
        atomic_torch_save(path, contents)
    except OSError:
        pass  # a read-only data directory: decode again next time
