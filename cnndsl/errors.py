"""`cnndsl.Error`: what every refusal of cnndsl is, so that a caller can catch "cnndsl rejected
this" in one place.

Each family subclasses it: `CompileError` (a `.net` file was rejected; compiler.py),
`ExportError` (the network cannot be written in a format; backends/export_checks.py) and
`TrainError` with `UsageError` (training, `eval` and `predict`; train/errors.py). Every error
carries a stable `code` (a diagnostic's code such as `E0102` for a rejected file, or its
family's code), the `span` in the source where there is one, an optional `help` line, and the
`exit_code` the command line leaves with (CLI.md: 1 the input was rejected, 2 a usage error).
This module imports nothing but the source positions, so catching the base costs nothing.
"""

from __future__ import annotations

from typing import ClassVar

from .source import Span


class Error(Exception):
    """cnndsl rejected its input. `message` is the short sentence that says why."""

    family_code: ClassVar[str]
    exit_code: int = 1

    def __init__(self, message: str, *, code: str | None = None, span: Span | None = None,
                 help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.family_code
        self.span = span
        self.help = help
