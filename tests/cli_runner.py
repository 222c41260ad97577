"""The one way tests run the `cnndsl` command in-process.

Typer's CliRunner catches whatever the command raises and reports exit code 1, so a test
that only looks at the exit code and the output passes on a crash as on a clean rejection.
`invoke` fails the test unless the command ended with a clean exit, and also on the error
boundary's "internal error" (exit 3), showing the traceback, which `CNNDSL_DEBUG` makes it
print.
"""

from __future__ import annotations

import traceback
from typing import Mapping, Sequence

from typer.testing import CliRunner, Result

from cnndsl.cli import app
from cnndsl.cli.boundary import DEBUG_VARIABLE, EXIT_INTERNAL

_runner = CliRunner()


def invoke(args: Sequence[object], *, input: str | bytes | None = None, env: Mapping[str, str] | None = None,
           internal_error: bool = False) -> Result:
    """Run `cnndsl ARGS`; a traceback or an internal error fails the test, naming the command.
    `internal_error=True` is for the tests of the boundary itself, which expect exit 3."""
    argv = [str(a) for a in args]
    result = _runner.invoke(app, argv, input=input, env={DEBUG_VARIABLE: "1", **(env or {})})
    command = "cnndsl " + " ".join(argv)
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise AssertionError(f"`{command}` raised {type(exc).__name__} instead of exiting:\n{details}")
    if (result.exit_code == EXIT_INTERNAL) != internal_error:
        raise AssertionError(f"`{command}` exited {result.exit_code}:\n{result.output}")
    return result
