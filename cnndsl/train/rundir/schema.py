"""What the JSON files of a run directory must hold, written down once and checked on every read.

`eval`, `predict`, `--resume` and `export` of a run all read `config.json`, `status.json`
and `metrics.jsonl` through `RunDir`, which checks each against the schema here before any
field is used: a missing field, a list where a mapping belongs, a string where a number
belongs, is one message naming the file and the field (`network.params`), never a
traceback deep inside the reader. A schema is a tree of small checks; each raises `Invalid`
with the dotted path of the field it was given. This module imports neither torch nor JSON.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

from ...settings_schema import SETTING_NAMES, Problem, check_setting


class Invalid(Exception):
    """A field that does not fit the schema: where it is, and what it should be."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where or 'the file'} {message}")
        self.where = where


Check = Callable[[object, str], None]


def _describe(value: object) -> str:
    kinds = {dict: "a mapping", list: "a list", str: "a string", bool: "true or false", int: "a number",
             float: "a number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _must(where: str, ok: bool, expected: str, value: object) -> None:
    if not ok:
        raise Invalid(where, f"must be {expected}, not {_describe(value)}")


def integer(minimum: int = 0) -> Check:
    def check(value: object, where: str) -> None:
        _must(where, isinstance(value, int) and not isinstance(value, bool), "a whole number", value)
        if value < minimum:  # type: ignore[operator]
            raise Invalid(where, f"must be at least {minimum}")
    return check


def number(value: object, where: str) -> None:
    _must(where, isinstance(value, (int, float)) and not isinstance(value, bool), "a number", value)


def finite(value: object, where: str) -> None:
    number(value, where)
    if not math.isfinite(value):  # type: ignore[arg-type]
        raise Invalid(where, "must be a finite number")


def string(value: object, where: str) -> None:
    _must(where, isinstance(value, str), "a string", value)


def boolean(value: object, where: str) -> None:
    _must(where, isinstance(value, bool), "true or false", value)


def one_of(*choices: str) -> Check:
    def check(value: object, where: str) -> None:
        if value not in choices:
            raise Invalid(where, f"must be one of {', '.join(choices)}")
    return check


def nullable(inner: Check) -> Check:
    def check(value: object, where: str) -> None:
        if value is not None:
            inner(value, where)
    return check


def list_of(item: Check, length: int | None = None) -> Check:
    def check(value: object, where: str) -> None:
        _must(where, isinstance(value, list), "a list", value)
        assert isinstance(value, list)
        if length is not None and len(value) != length:
            raise Invalid(where, f"must hold {length} items, not {len(value)}")
        for index, entry in enumerate(value):
            item(entry, f"{where}[{index}]")
    return check


def mapping_of(item: Check) -> Check:
    """A mapping with any names, each value checked by `item`."""
    def check(value: object, where: str) -> None:
        _must(where, isinstance(value, dict), "a mapping", value)
        assert isinstance(value, dict)
        for name, entry in value.items():
            item(entry, _field(where, name))
    return check


def record(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    """A mapping with these fields (others are allowed, for files of later versions)."""
    def check(value: object, where: str) -> None:
        _must(where, isinstance(value, dict), "a mapping", value)
        assert isinstance(value, dict)
        for name, inner in required.items():
            if name not in value:
                raise Invalid(_field(where, name), "is missing")
            inner(value[name], _field(where, name))
        for name, inner in (optional or {}).items():
            if name in value:
                inner(value[name], _field(where, name))
    return check


def _field(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def param_value(value: object, where: str) -> None:
    """A network parameter as JSON: a number, true/false, a string, or a list of numbers."""
    if isinstance(value, list):
        list_of(number)(value, where)
    else:
        _must(where, isinstance(value, (int, float, str, bool)), "a number, a string, true/false or a list", value)


def _setting(name: str) -> Check:
    def check(value: object, where: str) -> None:
        if not isinstance(value, (int, float, str, bool)):
            raise Invalid(where, f"must be a single value, not {_describe(value)}")
        checked = check_setting(name, value)
        if isinstance(checked, Problem):
            raise Invalid(where, f"is not a valid setting: {checked.message}")
    return check


def _shape(value: object, where: str) -> None:
    list_of(integer(1))(value, where)


CONFIG = record({
    "network": record({"name": string, "source": string, "sources": mapping_of(string),
                       "params": mapping_of(param_value), "input": _shape, "output": _shape}),
    "data": record({"spec": string, "root": string, "limit": nullable(integer(1)), "classes": list_of(string),
                    "image_shape": list_of(integer(1), 3)}),
    "adaptation": record({"source": list_of(integer(1), 3), "target": _shape, "mean": list_of(finite),
                          "std": list_of(finite)}),
    # runs from before recipes had names lack `recipe` (they ran `fast`: TrainSettings.from_json)
    "settings": record({name: _setting(name) for name in SETTING_NAMES if name != "recipe"},
                       {"recipe": _setting("recipe")}),
}, {
    # read back by resume (the thread count, the layout) and by eval and predict (the layout);
    # runs from before they were recorded lack them
    "device": record({}, {"channels_last": boolean}),
})

RUNNING, COMPLETE, DIVERGED, INTERRUPTED, FAILED = "running", "complete", "diverged", "interrupted", "failed"
STATES = (RUNNING, COMPLETE, DIVERGED, INTERRUPTED, FAILED)

STATUS = record({"state": one_of(*STATES), "epochs_completed": integer(0), "epochs": integer(1)},
                {"message": nullable(string), "weights_sha256": nullable(string),
                 "metrics_sha256": nullable(string)})

METRICS_RECORD = record({"epoch": integer(1), "train_loss": number, "train_accuracy": number, "test_loss": number,
                         "test_accuracy": number})

# The fields of checkpoint.pt that are not tensors (its other fields are PyTorch's own states).
CHECKPOINT = record({"epoch": integer(1), "metrics": list_of(METRICS_RECORD)})


def validate(check: Check, value: object) -> None:
    """Raise `Invalid` when `value` does not fit `check`."""
    check(value, "")
