"""Reading the pickled batches of the CIFAR data sets without executing code.

CIFAR-10 and CIFAR-100 ship as Python pickles of dicts holding numpy arrays. A plain
`pickle.load` would run whatever a tampered file asks for; this unpickler accepts only the
few globals that rebuild numpy arrays and byte strings, and refuses everything else.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TrainError

_RECONSTRUCT = np.empty(0).__reduce__()[0]
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it refers to `{module}.{name}`, which a data file has no use for") from None


def load_array_pickle(path: Path) -> Any:
    """The object in a pickle made only of builtins and numpy arrays (Python 2 pickles too)."""
    try:
        with path.open("rb") as handle:
            return _ArrayUnpickler(handle, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError) as exc:
        raise TrainError(f"cannot read {path}: {exc}",
                         help="delete the file to download it again, or copy a complete one in its place") from None
