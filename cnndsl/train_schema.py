"""The `train { ... }` section's schema: its setting names, their types and ranges, the default
recipe and the data sets `data` can name.

The compiler checks a network's `train` section with these rules (passes/expand.py), so that
`cnndsl check` reports a bad setting at its line; the trainer (train/loop/settings.py) applies
the same rules to the section and to the command-line flags. Checks return a `Problem` rather
than raise: the compiler turns it into a diagnostic, the trainer into a `TrainError`. This
module imports neither torch nor anything under `cnndsl/train`.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Union

from .evaluate import show
from .ir import Value

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "cosine", "constant")
AUGMENT_CHOICES = ("auto", "none", "crop", "flip", "crop+flip")

TORCHVISION_SETS = ("mnist", "fashion-mnist", "kmnist", "cifar10", "cifar100", "svhn")
NAMED_SETS = TORCHVISION_SETS + ("digits", "fake")  # the data sets named without a path
DATASET_NAMES = NAMED_SETS + ("imagefolder:PATH",)

# The default recipe: AdamW with a one-cycle schedule and label smoothing, three epochs in
# batches of 64. It is a short recipe on purpose: on MNIST-sized data it reaches about 99%
# in seconds on a CPU. A network that needs longer training says so in its own
# `train { epochs = ... }` section, which is what that section is for.
DEFAULT_EPOCHS = 3
DEFAULT_BATCH_SIZE = 64
DEFAULT_OPTIMIZER = "adamw"
DEFAULT_SCHEDULE = "onecycle"
DEFAULT_MOMENTUM = 0.9
DEFAULT_LABEL_SMOOTHING = 0.1
DEFAULT_AUGMENT = "auto"
DEFAULT_SEED = 0
# Learning rate and weight decay suit the optimizer: SGD's rate is a step size, Adam's a
# per-parameter step bound; AdamW's decay is decoupled from the gradient, SGD's is not.
DEFAULT_LR = {"sgd": 0.05, "adam": 0.005, "adamw": 0.005}
DEFAULT_WEIGHT_DECAY = {"sgd": 5e-4, "adam": 0.0, "adamw": 0.05}

# The ranges of the whole-number settings and flags, past which PyTorch itself would fail
# (a seed beyond 64 bits) or no run could finish (a million epochs).
MAX_EPOCHS = 1_000_000
MAX_BATCH_SIZE = 2**24
MAX_SEED = 2**63 - 1
MAX_LIMIT = 2**62           # --limit: images
MAX_TOP_K = 1_000_000       # predict --top-k
MAX_PROCESSES = 1024        # train --nproc


@dataclass(frozen=True)
class TrainSettings:
    """Fully resolved settings: every field has its final value."""

    data: str
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    schedule: str
    label_smoothing: float
    augment: str
    seed: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> "TrainSettings":
        return TrainSettings(**{f.name: data[f.name] for f in fields(TrainSettings)})


SETTING_NAMES = tuple(f.name for f in fields(TrainSettings))


@dataclass(frozen=True)
class Problem:
    """Why a value was refused: a short message, an optional line on how to fix it, and
    whether it is a usage error (an unknown data set: exit 2) rather than a rejected value."""

    message: str
    help: str | None = None
    usage: bool = False


SettingValue = Union[int, float, str]
Check = Callable[[str, Value], Union[SettingValue, Problem]]


@dataclass(frozen=True)
class DataSpec:
    """A parsed `--data` value: a data set name, and the folder of `imagefolder:PATH`."""

    kind: str
    path: Path | None = None

    def __str__(self) -> str:
        return f"imagefolder:{self.path}" if self.kind == "imagefolder" else self.kind


def read_spec(text: str) -> DataSpec | Problem:
    """`mnist`, `imagefolder:PATH`, ...; an unknown name is a usage problem."""
    kind, sep, path = text.strip().partition(":")
    kind = kind.lower()
    if kind == "imagefolder":
        if not sep or not path:
            return Problem("`imagefolder` needs a folder: --data imagefolder:PATH", usage=True)
        return DataSpec("imagefolder", Path(path).expanduser())
    if sep or kind not in NAMED_SETS:
        close = difflib.get_close_matches(kind, NAMED_SETS + ("imagefolder",), n=1)
        return Problem(f"unknown data set `{text}`", help=(f"did you mean `{close[0]}`? " if close else "")
                       + f"known data sets: {', '.join(DATASET_NAMES)}", usage=True)
    return DataSpec(kind)


def _integer(minimum: int, maximum: int) -> Check:
    def check(name: str, value: Value) -> int | Problem:
        if isinstance(value, bool) or not isinstance(value, int):
            return Problem(f"`{name}` must be a whole number, not {show(value)}")
        # the value may have thousands of digits: it is not printed past 64 bits
        shown = show(value) if value.bit_length() <= 64 else f"a number of {value.bit_length()} bits"
        if value < minimum:
            return Problem(f"`{name}` must be at least {minimum}, not {shown}")
        if value > maximum:
            return Problem(f"`{name}` must be at most {maximum:,}, not {shown}")
        return value
    return check


def _number(low: float, high: float | None, low_open: bool = False) -> Check:
    """A float in [low, high) (or (low, high) with `low_open`); `high` None means unbounded."""
    def check(name: str, value: Value) -> float | Problem:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return Problem(f"`{name}` must be a number, not {show(value)}")
        number = float(value)
        too_low = number <= low if low_open else number < low
        if too_low or (high is not None and number >= high) or number != number:
            bounds = f"{'above' if low_open else 'at least'} {low:g}" + (f" and below {high:g}" if high is not None else "")
            return Problem(f"`{name}` must be {bounds}, not {number:g}")
        return number
    return check


def _choice(choices: tuple[str, ...]) -> Check:
    def check(name: str, value: Value) -> str | Problem:
        if not isinstance(value, str) or value.lower() not in choices:
            return Problem(f"`{name}` must be one of {', '.join(choices)}, not {show(value)}")
        return value.lower()
    return check


def _data(name: str, value: Value) -> str | Problem:
    """A data set name or `imagefolder:PATH`, as `--data` takes it."""
    if not isinstance(value, str) or not value.strip():
        return Problem(f"`{name}` must be a non-empty string such as \"mnist\", not {show(value)}")
    spec = read_spec(value)
    return spec if isinstance(spec, Problem) else value.strip()


def _augment(name: str, value: Value) -> SettingValue | Problem:
    """`true`/`false` mean `auto`/`none`; otherwise one of AUGMENT_CHOICES."""
    if isinstance(value, bool):
        return DEFAULT_AUGMENT if value else "none"
    return _choice(AUGMENT_CHOICES)(name, value)


CHECKS: dict[str, Check] = {
    "data": _data,
    "epochs": _integer(1, MAX_EPOCHS),
    "batch_size": _integer(1, MAX_BATCH_SIZE),
    "optimizer": _choice(OPTIMIZERS),
    "lr": _number(0.0, None, low_open=True),
    "momentum": _number(0.0, 1.0),
    "weight_decay": _number(0.0, None),
    "schedule": _choice(SCHEDULES),
    "label_smoothing": _number(0.0, 1.0),
    "augment": _augment,
    "seed": _integer(0, MAX_SEED),
}


def check_setting(name: str, value: Value) -> SettingValue | Problem:
    """One setting of a `train { }` section, checked and normalised."""
    if name not in CHECKS:
        close = difflib.get_close_matches(name, SETTING_NAMES, n=1)
        return Problem(f"unknown training setting `{name}`",
                       help=(f"did you mean `{close[0]}`? " if close else "") + f"settings: {', '.join(SETTING_NAMES)}")
    return CHECKS[name](name, value)
