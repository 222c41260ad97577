"""The `train { ... }` section's schema: its setting names, their types and ranges, the two
recipes that fill in what a run does not state, the data sets `data` can name, and the ranges
of the trainer's other options (`limit`, `nproc`, `dist_timeout`, `top_k`).

The compiler checks a network's `train` section with these rules (passes/expand.py), so that
`cnndsl check` reports a bad setting at its line; the trainer (train/loop/settings.py) applies
the same rules to the section and to the command-line flags. Checks return a `Problem` rather
than raise: the compiler turns it into a diagnostic, the trainer into a `TrainError`. This
module imports neither torch nor anything under `cnndsl/train`.
"""

from __future__ import annotations

import difflib
import math
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

SettingValue = Union[int, float, str]

DEFAULT_EPOCHS = 3
DEFAULT_BATCH_SIZE = 64
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Recipe:
    """What a recipe fills in for the settings a run does not state. The rate, momentum and
    weight decay depend on the optimizer: SGD's rate is a step size, Adam's a per-parameter
    step bound; AdamW's decay is decoupled from the gradient, SGD's is not."""

    name: str
    optimizer: str
    lr: Mapping[str, float]
    momentum: Mapping[str, float]
    weight_decay: Mapping[str, float]
    schedule: str
    label_smoothing: float
    augment: str

    def defaults(self, optimizer: str) -> dict[str, SettingValue]:
        """The recipe's value of every setting it fills in, for this optimizer."""
        return {"optimizer": self.optimizer, "lr": self.lr[optimizer], "momentum": self.momentum[optimizer],
                "weight_decay": self.weight_decay[optimizer], "schedule": self.schedule,
                "label_smoothing": self.label_smoothing, "augment": self.augment}


# `fast`, the default: AdamW with a one-cycle schedule, label smoothing and decay, augmentation
# on long runs. It is tuned for short runs: on MNIST it passes 99% in a couple of epochs on a CPU.
FAST = Recipe("fast", "adamw", lr={"sgd": 0.05, "adam": 0.005, "adamw": 0.005},
              momentum={"sgd": 0.9, "adam": 0.9, "adamw": 0.9},
              weight_decay={"sgd": 5e-4, "adam": 0.0, "adamw": 0.05},
              schedule="onecycle", label_smoothing=0.1, augment="auto")
# `plain`: what a PyTorch tutorial's loop does. The stated optimizer at the stated rate, held
# constant; no smoothing, no decay, no augmentation; PyTorch's own defaults otherwise (SGD
# without momentum, Adam's beta1 0.9, Adam's rate 0.001).
PLAIN = Recipe("plain", "sgd", lr={"sgd": 0.01, "adam": 0.001, "adamw": 0.001},
               momentum={"sgd": 0.0, "adam": 0.9, "adamw": 0.9},
               weight_decay={"sgd": 0.0, "adam": 0.0, "adamw": 0.0},
               schedule="constant", label_smoothing=0.0, augment="none")
RECIPES = {recipe.name: recipe for recipe in (FAST, PLAIN)}
DEFAULT_RECIPE = FAST.name
# Stating one of these without naming a recipe means "run what I wrote": `plain`.
PLAIN_WHEN_STATED = ("optimizer", "lr")

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
    recipe: str
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
        """Settings as a run recorded them; runs from before recipes had names ran `fast`."""
        return TrainSettings(**{f.name: data.get(f.name, FAST.name) if f.name == "recipe" else data[f.name]
                                for f in fields(TrainSettings)})


SETTING_NAMES = tuple(f.name for f in fields(TrainSettings))


@dataclass(frozen=True)
class Problem:
    """Why a value was refused: a short message, an optional line on how to fix it, and
    whether it is a usage error (an unknown data set: exit 2) rather than a rejected value."""

    message: str
    help: str | None = None
    usage: bool = False


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
        try:
            return DataSpec("imagefolder", Path(path).expanduser())
        except RuntimeError:  # `~someone` for a user this machine does not know
            user = path.split("/", 1)[0]
            return Problem(f"`{user}` names no user on this machine: {text}",
                           help="write the folder's path out, or use `~/` for your own home folder", usage=True)
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
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            number = math.inf
        if not math.isfinite(number):
            shown = show(value) if isinstance(value, float) else f"a number of {value.bit_length()} bits"
            return Problem(f"`{name}` must be a finite number, not {shown}")
        too_low = number <= low if low_open else number < low
        if too_low or (high is not None and number >= high):
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
    if isinstance(spec, Problem):
        return spec
    return spec.kind if spec.kind != "imagefolder" else value.strip()  # `MNIST` is `mnist`; a path is kept as written


def _augment(name: str, value: Value) -> SettingValue | Problem:
    """`true`/`false` mean `auto`/`none`; otherwise one of AUGMENT_CHOICES."""
    if isinstance(value, bool):
        return "auto" if value else "none"
    return _choice(AUGMENT_CHOICES)(name, value)


CHECKS: dict[str, Check] = {
    "data": _data,
    "recipe": _choice(tuple(RECIPES)),
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


# The options of `train` and `predict` that are no setting of a `train` section, checked by
# the same rules whether a flag or a keyword of `cnndsl.train` / `Run.predict` gives them.
OPTION_CHECKS: dict[str, Check] = {"limit": _integer(1, MAX_LIMIT), "nproc": _integer(1, MAX_PROCESSES),
                                   "dist_timeout": _number(1.0, None), "top_k": _integer(1, MAX_TOP_K)}


def check_option(name: str, value: Any) -> None | Problem:
    """None when `value` is fine for the option `name`, else what is wrong with it."""
    result = OPTION_CHECKS[name](name, value)
    return result if isinstance(result, Problem) else None


def check_setting(name: str, value: Value) -> SettingValue | Problem:
    """One setting of a `train { }` section, checked and normalised."""
    if name not in CHECKS:
        close = difflib.get_close_matches(name, SETTING_NAMES, n=1)
        return Problem(f"unknown training setting `{name}`",
                       help=(f"did you mean `{close[0]}`? " if close else "") + f"settings: {', '.join(SETTING_NAMES)}")
    return CHECKS[name](name, value)
