"""A strict reader for the IDX files of the MNIST family.

torchvision's own reader trusts the header; a truncated download or a file that is not IDX
at all then fails deep inside numpy. Reading the header ourselves lets every such problem
become one clear sentence naming the file.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from ..errors import TrainError

UBYTE_TYPE_CODE = 0x08
HEADER_BYTES = 4


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The uint8 array stored in an IDX file (raw or `.gz`), which must have `ndim` axes."""
    raw = _read_bytes(path)
    if len(raw) < HEADER_BYTES:
        raise TrainError(f"{path} is not an IDX file: it holds only {len(raw)} bytes")
    zero, type_code, dims = raw[0] << 8 | raw[1], raw[2], raw[3]
    if zero != 0 or type_code != UBYTE_TYPE_CODE or dims != ndim:
        raise TrainError(
            f"{path} is not an IDX file of {ndim}-d unsigned bytes (magic number {raw[:4].hex()}, "
            f"expected 0000080{ndim})",
            help="the file may be damaged or of another format; delete it to download it again")
    header = HEADER_BYTES + 4 * ndim
    if len(raw) < header:
        raise TrainError(f"{path} is truncated: its header needs {header} bytes, the file has {len(raw)}")
    shape = tuple(int.from_bytes(raw[HEADER_BYTES + 4 * i:HEADER_BYTES + 4 * i + 4], "big") for i in range(ndim))
    if 0 in shape[1:]:  # the count may be 0 (an empty split is named later); an item may not be empty
        raise TrainError(f"{path} holds items of shape {'x'.join(map(str, shape[1:]))}: every axis after the count "
                         "needs at least one value",
                         help="the file may be damaged or of another format; delete it to download it again")
    expected = math.prod(shape)
    found = len(raw) - header
    if found != expected:
        state = "truncated" if found < expected else "longer than its header says"
        raise TrainError(
            f"{path} is {state}: shape {'x'.join(map(str, shape))} needs {expected} bytes of data, "
            f"the file has {found}",
            help="delete the file to download it again, or copy a complete one in its place")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise TrainError(f"cannot read {path}: {exc}") from None
