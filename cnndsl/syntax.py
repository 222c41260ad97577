"""The syntax tree: what the file says, before any name is resolved.

Frozen dataclasses, one per construct of the language, each with the span it was parsed
from. `parser.py` builds them; `passes/resolve.py` is the only consumer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union

from .source import SourceFile, Span


# ---- expressions -------------------------------------------------------------------------

@dataclass(frozen=True)
class Literal:
    """`64`, `0.5`, `true`, `"same"`: a value as written."""

    value: int | float | bool | str
    span: Span


@dataclass(frozen=True)
class Name:
    """A parameter or constant read in an expression (`c`, `height`)."""

    id: str
    span: Span


@dataclass(frozen=True)
class Unary:
    """`-x` and `+x`."""

    op: str  # "-" or "+"
    operand: "Expr"
    span: Span
    depth: int = field(default=1, compare=False, repr=False)  # operators on the longest path down


@dataclass(frozen=True)
class Binary:
    """`a + b` and the other arithmetic operators."""

    op: str  # + - * / // %
    left: "Expr"
    right: "Expr"
    span: Span
    depth: int = field(default=1, compare=False, repr=False)


@dataclass(frozen=True)
class TupleExpr:
    """`(3, 1)`: a pair or more, for kernel sizes and strides that differ per axis."""

    items: tuple["Expr", ...]
    span: Span


Expr = Union[Literal, Name, Unary, Binary, TupleExpr]


@dataclass(frozen=True)
class Shape:
    """A shape as written: `6x28x28`, `[c, h, w]` or `400`."""

    dims: tuple[Expr, ...]
    span: Span


# ---- statements --------------------------------------------------------------------------

@dataclass(frozen=True)
class Arg:
    """One argument of a call, positional (`6`) or by keyword (`padding=1`)."""

    name: str | None  # None for a positional argument
    value: Expr
    span: Span


@dataclass(frozen=True)
class Call:
    """`name` or `name(args)`: a layer or a block call; resolve decides which."""

    name: str
    name_span: Span
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True)
class Labeled:
    """`name: stmt`: a label that graphs and error messages use for the statement."""

    label: str
    label_span: Span
    stmt: "Stmt"
    span: Span


@dataclass(frozen=True)
class Repeat:
    """`repeat N { ... }` and `stmt * N` alike."""

    count: Expr
    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True)
class Assertion:
    """`stmt -> shape`: the statement's output must have this shape."""

    stmt: "Stmt"
    shape: Shape
    span: Span


@dataclass(frozen=True)
class Residual:
    """`residual { body } shortcut { ... }`: the body's output added to the input, or to
    what the shortcut makes of the input when there is one."""

    body: tuple["Stmt", ...]
    shortcut: tuple["Stmt", ...] | None
    span: Span
    keyword_span: Span


# The constructs that take branches; the parser accepts any name before `{ branch ...}` and
# resolve rejects the others.
BRANCH_OPS = ("concat", "add", "mul", "split")


@dataclass(frozen=True)
class Branches:
    """`concat`, `add`, `mul` or `split` over `branch { ... }` bodies."""

    op: str  # one of BRANCH_OPS once resolved
    branches: tuple[tuple["Stmt", ...], ...]
    span: Span
    keyword_span: Span


@dataclass(frozen=True)
class Input:
    """`input 3x32x32`: the shape of one sample, without the batch."""

    shape: Shape
    span: Span


@dataclass(frozen=True)
class Setting:
    """`epochs = 10` in a `train { }` section."""

    name: str
    value: Expr
    span: Span


@dataclass(frozen=True)
class TrainSection:
    """`train { ... }`: the network's training defaults, checked against the settings schema."""

    settings: tuple[Setting, ...]
    span: Span


Stmt = Union[Call, Labeled, Repeat, Assertion, Residual, Branches, Input, TrainSection]


# ---- top level ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    """`name` or `name = default` in the parameter list of a block or network."""

    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True)
class Block:
    """`block Name(params) { ... }`: a reusable sequence, expanded where it is called."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Network:
    """`network Name(params) { ... }`: what `check`, `summary` and `train` work on."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Use:
    """`use "path.net"`: another file's blocks, resolved against this file's folder."""

    path: str
    span: Span


@dataclass(frozen=True)
class Module:
    """One parsed file: its `use`s, blocks and networks in source order."""

    file: SourceFile
    uses: tuple[Use, ...]
    blocks: tuple[Block, ...]
    networks: tuple[Network, ...]


def walk(body: tuple[Stmt, ...]) -> Iterator[Stmt]:
    """Every statement of a body, nested ones included, each before those inside it."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (Labeled, Assertion)):
            yield from walk((stmt.stmt,))
        elif isinstance(stmt, Repeat):
            yield from walk(stmt.body)
        elif isinstance(stmt, Residual):
            yield from walk(stmt.body + (stmt.shortcut or ()))
        elif isinstance(stmt, Branches):
            for branch in stmt.branches:
                yield from walk(branch)
