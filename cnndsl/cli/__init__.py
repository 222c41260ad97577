"""The `cnndsl` command. Each module below registers its commands on the shared app;
the ones that need torch import it inside their command functions only."""

from __future__ import annotations

import importlib

from .app import app

for _module in ("static", "export", "training", "graph", "fmt"):
    try:
        importlib.import_module(f"{__name__}.{_module}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"{__name__}.{_module}":
            raise


def main() -> None:
    app()
