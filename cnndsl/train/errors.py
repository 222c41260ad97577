"""Errors a user can cause while training, evaluating or predicting.

Both are `cnndsl.Error`s and carry the exit code of CLI.md, so the command line prints the
message and leaves without a traceback: 1 when the input (data, setting, run directory) was
rejected, 2 for a usage error such as an unknown data set.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Error
from ..source import Span
from ..settings_schema import Problem


class TrainError(Error):
    """The input was rejected (exit 1). `help` is an optional line on how to fix it."""

    family_code = "T0001"

    def __init__(self, message: str, help: str | None = None, *, code: str | None = None,
                 span: Span | None = None) -> None:
        super().__init__(message, code=code, span=span, help=help)


class UsageError(TrainError):
    """The command was used wrongly (exit 2), e.g. an unknown data set name."""

    family_code = "T0002"
    exit_code = 2


class RunUnchanged(TrainError):
    """Refused once a run had begun to set up, but before its directory was changed: the
    directory is left as it was, its status included (an `interrupted` run stays resumable)."""


def does_not_fit(path: Path, network: str, exc: Exception, help: str | None = None) -> TrainError:
    """The error for tensors that `load_state_dict` refused: the first problem PyTorch names
    (a missing tensor, a shape), not only its heading."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    details = lines[1:] or lines or [type(exc).__name__]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return RunUnchanged(f"{path} does not fit the network {network}: {details[0][:300]}{more}", help)


def rejected(problem: Problem, where: str | None = None) -> TrainError:
    """The error for a value the schema refused, its message prefixed with `where` (the
    section or flag that gave it): a usage error when the problem is one."""
    message = f"{where}: {problem.message}" if where else problem.message
    return (UsageError if problem.usage else TrainError)(message, problem.help)


class Interrupted(TrainError):
    """Ctrl-C during training: the last finished epoch is kept and can be resumed. `run` is
    the run directory, so that each face (command line, Python) can say how to continue in
    its own words."""

    family_code = "T0003"
    exit_code = 130

    def __init__(self, message: str, run: Path | None, help: str | None = None) -> None:
        super().__init__(message, help)
        self.run = run


def epochs_saved(saved: int, epochs: int) -> str:
    """`1 of 3 epochs is saved`, `2 of 3 epochs are saved`."""
    return f"{saved} of {epochs} epochs {'is' if saved == 1 else 'are'} saved"
