"""cnndsl: a declarative architecture language and compiler for convolutional networks.

    import cnndsl
    model = cnndsl.compile("lenet5.net", classes=10)   # a torch.nn.Module
    report = cnndsl.check("lenet5.net")                # diagnostics, without torch
    info = cnndsl.summary("lenet5.net")                # what `summary --format json` prints

Importing cnndsl does not import torch; only `compile` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .compiler import CompileError, Report, check, check_source
from .ir import Value

if TYPE_CHECKING:
    import torch

__all__ = ["CompileError", "Report", "check", "compile", "summary"]
__version__ = "0.1.0"


def summary(path_or_source: str | Path, network: str | None = None, **params: Value) -> dict[str, Any]:
    """The per-layer table and totals, as `cnndsl summary --format json` prints them."""
    from .counting import summarize

    return summarize(check_source(path_or_source, network, params).network()).as_json()


def compile(path_or_source: str | Path, network: str | None = None, **params: Value) -> "torch.nn.Module":
    """Check a file (or source text) and build its network as a `torch.nn.Module`.

    Raises `CompileError` (with the diagnostics) when the file is rejected."""
    from .backends.torch_module import build

    return build(check_source(path_or_source, network, params).network())
