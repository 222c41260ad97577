"""The `cnndsl` command. Each module below registers its commands on the shared app;
the ones that need torch import it inside their command functions only."""

from __future__ import annotations

import os
import sys

from . import static, export, training, graph, fmt, lsp  # noqa: F401, I001  (registered in the order --help lists them)
from .app import app
from .boundary import describe_os_error


def main() -> None:
    """`cnndsl`: the app, then the last flush of standard output, which is where a full disk
    or a closed pipe shows when the output was small enough to stay buffered."""
    try:
        app()
    except SystemExit as exit:
        code = exit.code
    else:
        code = 0
    try:
        if not sys.stdout.closed:  # the language server closes it with its transport
            sys.stdout.flush()
    except BrokenPipeError:  # `cnndsl ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stderr.write(f"error: cannot write to standard output: {describe_os_error(exc)}\n")
        code = 1
    sys.exit(code)
