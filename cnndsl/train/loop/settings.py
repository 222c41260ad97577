"""Training settings resolved for one run: the network's `train { }` section, overridden by
command-line flags, completed with the default recipe.

Every value is checked with the schema's rules (cnndsl/train_schema.py, which the compiler
uses too), so that nothing odd reaches the optimizer; a refused value is a `TrainError`
that names the section or the flag it came from.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...train_schema import (CHECKS, DEFAULT_AUGMENT, DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LABEL_SMOOTHING,
                             DEFAULT_LR, DEFAULT_MOMENTUM, DEFAULT_OPTIMIZER, DEFAULT_SCHEDULE, DEFAULT_SEED,
                             DEFAULT_WEIGHT_DECAY, Problem, TrainSettings, check_setting)
from ..errors import TrainError, rejected


def check_section(section: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The values of a `train { }` section, checked; `where` names the section in messages."""
    checked: dict[str, Any] = {}
    for name, value in section.items():
        result = check_setting(name, value)
        if isinstance(result, Problem):
            raise rejected(result, where)
        checked[name] = result
    return checked


def resolve(section: Mapping[str, Any], flags: Mapping[str, Any], where: str) -> TrainSettings:
    """Settings from the network's `train` section, overridden by the flags that were given
    (None means not given), completed with the default recipe."""
    values = check_section(section, where)
    for name, value in flags.items():
        if value is not None:
            result = CHECKS[name](name, value)
            if isinstance(result, Problem):
                raise rejected(result, f"--{name.replace('_', '-')}")
            values[name] = result
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
