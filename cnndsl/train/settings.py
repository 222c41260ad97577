"""Training settings: the `train { ... }` section of a network, command-line flags, defaults.

A network file may carry defaults for its own training (`train { epochs = 20 lr = 0.05 }`);
flags given on the command line override them; whatever neither gives comes from the
default recipe below. Every value is checked here, with a message that names the setting,
so that nothing odd reaches the optimizer. This module does not import torch.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Mapping

from ..evaluate import show
from .dataspec import parse_spec
from .errors import TrainError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "cosine", "constant")
AUGMENT_CHOICES = ("auto", "none", "crop", "flip", "crop+flip")

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


def _integer(minimum: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TrainError(f"`{name}` must be a whole number, not {show(value)}")
        if value < minimum:
            raise TrainError(f"`{name}` must be at least {minimum}, not {value}")
        return value
    return check


def _number(low: float, high: float | None, low_open: bool = False) -> Callable[[str, Any], float]:
    """A float in [low, high) (or (low, high) with `low_open`); `high` None means unbounded."""
    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TrainError(f"`{name}` must be a number, not {show(value)}")
        value = float(value)
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and value >= high) or value != value:
            bounds = f"{'above' if low_open else 'at least'} {low:g}" + (f" and below {high:g}" if high is not None else "")
            raise TrainError(f"`{name}` must be {bounds}, not {value:g}")
        return value
    return check


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            raise TrainError(f"`{name}` must be one of {', '.join(choices)}, not {show(value)}")
        return value.lower()
    return check


def _data(name: str, value: Any) -> str:
    """A data set name or `imagefolder:PATH`, as `--data` takes it (see dataspec.py)."""
    if not isinstance(value, str) or not value.strip():
        raise TrainError(f"`{name}` must be a non-empty string such as \"mnist\", not {show(value)}")
    parse_spec(value)
    return value.strip()


def _augment(name: str, value: Any) -> str:
    """`true`/`false` mean `auto`/`none`; otherwise one of AUGMENT_CHOICES."""
    if isinstance(value, bool):
        return DEFAULT_AUGMENT if value else "none"
    return _choice(AUGMENT_CHOICES)(name, value)


CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "data": _data,
    "epochs": _integer(1),
    "batch_size": _integer(1),
    "optimizer": _choice(OPTIMIZERS),
    "lr": _number(0.0, None, low_open=True),
    "momentum": _number(0.0, 1.0),
    "weight_decay": _number(0.0, None),
    "schedule": _choice(SCHEDULES),
    "label_smoothing": _number(0.0, 1.0),
    "augment": _augment,
    "seed": _integer(0),
}


def check_setting(name: str, value: Any) -> Any:
    """One setting of a `train { }` section, checked and normalised. The compiler calls this
    for every setting it reads, so `cnndsl check` reports a bad one at its line."""
    if name not in CHECKS:
        close = difflib.get_close_matches(name, SETTING_NAMES, n=1)
        raise TrainError(f"unknown training setting `{name}`",
                         help=(f"did you mean `{close[0]}`? " if close else "") + f"settings: {', '.join(SETTING_NAMES)}")
    return CHECKS[name](name, value)


def check_section(section: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The values of a `train { }` section, checked; `where` names the section in messages."""
    checked: dict[str, Any] = {}
    for name, value in section.items():
        try:
            checked[name] = check_setting(name, value)
        except TrainError as exc:  # the same kind of error (exit code), placed
            raise type(exc)(f"{where}: {exc.message}", exc.help) from None
    return checked


def resolve(section: Mapping[str, Any], flags: Mapping[str, Any], where: str) -> TrainSettings:
    """Settings from the network's `train` section, overridden by the flags that were given
    (None means not given), completed with the default recipe."""
    values = check_section(section, where)
    for name, value in flags.items():
        if value is not None:
            try:
                values[name] = CHECKS[name](name, value)
            except TrainError as exc:
                raise type(exc)(f"--{name.replace('_', '-')}: {exc.message}", exc.help) from None
    if "data" not in values:
        raise TrainError("no data set to train on", help="give one with --data (e.g. --data mnist), "
                                                         "or `data = \"mnist\"` in the network's train section")
    optimizer = values.get("optimizer", DEFAULT_OPTIMIZER)
    return TrainSettings(
        data=values["data"],
        epochs=values.get("epochs", DEFAULT_EPOCHS),
        batch_size=values.get("batch_size", DEFAULT_BATCH_SIZE),
        optimizer=optimizer,
        lr=values.get("lr", DEFAULT_LR[optimizer]),
        momentum=values.get("momentum", DEFAULT_MOMENTUM),
        weight_decay=values.get("weight_decay", DEFAULT_WEIGHT_DECAY[optimizer]),
        schedule=values.get("schedule", DEFAULT_SCHEDULE),
        label_smoothing=values.get("label_smoothing", DEFAULT_LABEL_SMOOTHING),
        augment=values.get("augment", DEFAULT_AUGMENT),
        seed=values.get("seed", DEFAULT_SEED),
    )
