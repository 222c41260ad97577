"""What `--data` (or `data = "..."` in a `train` section) can name, parsed without torch, so
that `cnndsl check` can reject an unknown data set as well as `train` does."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

TORCHVISION_SETS = ("mnist", "fashion-mnist", "kmnist", "cifar10", "cifar100", "svhn")
NAMED_SETS = TORCHVISION_SETS + ("digits", "fake")  # the data sets named without a path
DATASET_NAMES = NAMED_SETS + ("imagefolder:PATH",)


@dataclass(frozen=True)
class DataSpec:
    """A parsed `--data` value: a data set name, and the folder of `imagefolder:PATH`."""

    kind: str
    path: Path | None = None

    def __str__(self) -> str:
        return f"imagefolder:{self.path}" if self.kind == "imagefolder" else self.kind


def parse_spec(text: str) -> DataSpec:
    """`mnist`, `imagefolder:PATH`, ...; an unknown name is a usage error (exit 2)."""
    kind, sep, path = text.strip().partition(":")
    kind = kind.lower()
    if kind == "imagefolder":
        if not sep or not path:
            raise UsageError("`imagefolder` needs a folder: --data imagefolder:PATH")
        return DataSpec("imagefolder", Path(path).expanduser())
    if sep or kind not in NAMED_SETS:
        close = difflib.get_close_matches(kind, NAMED_SETS + ("imagefolder",), n=1)
        raise UsageError(f"unknown data set `{text}`", help=(f"did you mean `{close[0]}`? " if close else "")
                         + f"known data sets: {', '.join(DATASET_NAMES)}")
    return DataSpec(kind)
