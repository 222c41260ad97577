"""The `cnndsl` command. Each module below registers its commands on the shared app;
the ones that need torch import it inside their command functions only."""

from __future__ import annotations

from . import static, export, training, graph, fmt, lsp  # noqa: F401, I001  (registered in the order --help lists them)
from .app import app


def main() -> None:
    app()
