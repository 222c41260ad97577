"""Training settings resolved for one run: the network's `train { }` section, overridden by
command-line flags (or the Python API's keywords, which are the same names), completed by a
recipe.

Every value is checked with the schema's rules (cnndsl/settings_schema.py, which the compiler
uses too), so that nothing odd reaches the optimizer; a refused value is a `TrainError`
that names the section or the flag it came from.

The recipe is the one the section or a flag names; without one, stating the optimizer or the
learning rate selects `plain` (what is written runs as written), and stating neither selects
the tuned default, `fast`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ...settings_schema import (CHECKS, DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_RECIPE, DEFAULT_SEED,
                             PLAIN_WHEN_STATED, RECIPES, SETTING_NAMES, Problem, TrainSettings, check_setting)
from ..errors import TrainError, rejected


@dataclass(frozen=True)
class Resolved:
    """The settings of a run, the names whose values were filled in rather than given, and
    why the recipe is the one it is."""

    settings: TrainSettings
    filled: tuple[str, ...]
    recipe_reason: str

    def describe(self) -> list[str]:
        """What the run's first lines say about its settings: the recipe and why, then every
        value that nobody stated."""
        settings = self.settings.as_json()
        stated = [name for name in SETTING_NAMES if name not in self.filled and name not in ("data", "recipe")]
        lines = [f"{self.settings.recipe} ({self.recipe_reason})"]
        if stated:
            lines.append("as stated: " + ", ".join(f"{name} {_show(settings[name])}" for name in stated))
        filled = [name for name in self.filled if name != "recipe"]
        if filled:
            lines.append("filled in by default: "
                         + ", ".join(f"{name} {_show(settings[name])}" for name in filled))
        return lines


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


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
    (None means not given), completed by the recipe."""
    return resolve_explained(section, flags, where).settings


def resolve_explained(section: Mapping[str, Any], flags: Mapping[str, Any], where: str) -> Resolved:
    """`resolve`, saying which values were filled in and why the recipe was chosen."""
    values = check_section(section, where)
    from_flags: set[str] = set()
    for name, value in flags.items():
        if value is not None:
            result = CHECKS[name](name, value)
            if isinstance(result, Problem):
                raise rejected(result, f"--{name.replace('_', '-')}")
            values[name] = result
            from_flags.add(name)
    if "data" not in values:
        raise TrainError("no data set to train on", help="give one with --data (e.g. --data mnist), "
                                                         "or `data = \"mnist\"` in the network's train section")
    stated = [name for name in PLAIN_WHEN_STATED if name in values]
    if "recipe" in values:
        reason = "named by --recipe" if "recipe" in from_flags else "named in the train section"
        recipe = RECIPES[values["recipe"]]
    elif stated:
        recipe = RECIPES["plain"]
        reason = (f"{' and '.join(f'`{name}`' for name in stated)} stated without a recipe: the stated settings "
                  "run as written; `recipe = \"fast\"` or --recipe fast selects the tuned recipe")
    else:
        recipe = RECIPES[DEFAULT_RECIPE]
        reason = "the default: no recipe, optimizer or lr stated; --recipe plain runs a plain PyTorch loop"
    filled: dict[str, Any] = {"recipe": recipe.name, "epochs": DEFAULT_EPOCHS, "batch_size": DEFAULT_BATCH_SIZE,
              "seed": DEFAULT_SEED, **recipe.defaults(values.get("optimizer", recipe.optimizer))}
    settings = TrainSettings(**{name: values[name] if name in values else filled[name] for name in SETTING_NAMES})
    return Resolved(settings, tuple(name for name in SETTING_NAMES if name not in values), reason)
