"""What stands at a position of a parsed file: the smallest syntax element whose span holds it.

Positions are 1-based lines and columns in characters, as in `Span`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Union

from .. import syntax as S
from ..source import Span

Definition = Union[S.Block, S.Network]
Element = Union[S.Call, S.Use, S.Block, S.Network, S.Name, S.Residual, S.Branches, S.Labeled, S.Param]


@dataclass(frozen=True)
class Found:
    element: Element
    span: Span                        # the part of it that was hit: a call's name, a block's name, ...
    definition: Definition | None     # the block or network around it


def contains(span: Span, line: int, column: int) -> bool:
    """Whether the position is inside the span or just past its end (where the cursor stands
    after typing a name)."""
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def definitions(module: S.Module) -> list[Definition]:
    return [*module.blocks, *module.networks]


def enclosing(module: S.Module, line: int, column: int) -> Definition | None:
    return next((d for d in definitions(module) if contains(d.span, line, column)), None)


def _expressions(expr: S.Expr) -> Iterator[S.Expr]:
    yield expr
    if isinstance(expr, S.Unary):
        yield from _expressions(expr.operand)
    elif isinstance(expr, S.Binary):
        yield from _expressions(expr.left)
        yield from _expressions(expr.right)
    elif isinstance(expr, S.TupleExpr):
        for item in expr.items:
            yield from _expressions(item)


def _statement_expressions(stmt: S.Stmt) -> Iterator[S.Expr]:
    if isinstance(stmt, S.Call):
        for arg in stmt.args:
            yield arg.value
    elif isinstance(stmt, S.Repeat):
        yield stmt.count
    elif isinstance(stmt, (S.Assertion, S.Input)):
        yield from stmt.shape.dims
    elif isinstance(stmt, S.TrainSection):
        for setting in stmt.settings:
            yield setting.value


def _elements(module: S.Module) -> Iterator[tuple[Element, Span, Definition | None]]:
    for use in module.uses:
        yield use, use.span, None
    for definition in definitions(module):
        yield definition, definition.name_span, definition
        for param in definition.params:
            yield param, param.span, definition
            if param.default is not None:
                for expr in _expressions(param.default):
                    if isinstance(expr, S.Name):
                        yield expr, expr.span, definition
        for stmt in S.walk(definition.body):
            if isinstance(stmt, S.Call):
                yield stmt, stmt.name_span, definition
                yield stmt, stmt.span, definition
            elif isinstance(stmt, (S.Residual, S.Branches)):
                yield stmt, stmt.keyword_span, definition
            elif isinstance(stmt, S.Labeled):
                yield stmt, stmt.label_span, definition
            for top in _statement_expressions(stmt):
                for expr in _expressions(top):
                    if isinstance(expr, S.Name):
                        yield expr, expr.span, definition


def find(module: S.Module, line: int, column: int) -> Found | None:
    """The smallest element at the position, or None."""
    hits = [Found(element, span, definition) for element, span, definition in _elements(module)
            if contains(span, line, column)]
    return min(hits, key=lambda f: (f.span.end_line - f.span.line, f.span.end_column - f.span.column), default=None)
