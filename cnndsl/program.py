"""The resolved program: the syntax tree after `passes/resolve.py`.

Calls are now known to be layers (with their arguments bound to parameter names) or block
calls (bound to the block they call); everything else keeps its syntax node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from . import syntax as S
from .layers import LayerSpec
from .source import SourceFile, Span


@dataclass(frozen=True)
class LayerCall:
    """A call resolved to a built-in layer, its arguments by parameter name."""

    spec: LayerSpec
    args: Mapping[str, S.Expr]
    arg_spans: Mapping[str, Span]
    label: str | None
    span: Span


@dataclass(frozen=True)
class BlockCall:
    """A call resolved to a block of this program, its arguments by parameter name."""

    block: str
    args: Mapping[str, S.Expr]
    label: str | None
    span: Span


@dataclass(frozen=True)
class Unresolved:
    """A call that resolve rejected: its output shape is unknown, so expansion goes on
    without one until an assertion names it, and no error is reported twice."""

    span: Span


@dataclass(frozen=True)
class Program:
    """Every block visible from the root file, and the root file's networks."""

    root: SourceFile
    blocks: Mapping[str, S.Block]
    networks: Mapping[str, S.Network]
    files: tuple[SourceFile, ...]
    recursive: frozenset[str] = frozenset()  # blocks on a call cycle (already reported)
