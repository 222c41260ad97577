"""The typed IR: a network after blocks and repeats are unrolled and every shape is known.

This is what the backends, the summary and the lint pass read. Every node carries the span
of the statement it came from, the shape it receives and the shape it produces (per sample,
without the batch dimension: `(C, H, W)` or `(D,)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Union

from .source import SourceFile, Span

Shape = tuple[int, ...]
Value = Union[int, float, bool, str, tuple]


def format_shape(shape: Shape | None) -> str:
    """`(16, 5, 5)` -> `16x5x5`, `(400,)` -> `400`."""
    return "?" if shape is None else "x".join(str(d) for d in shape)


@dataclass(frozen=True)
class Layer:
    """One leaf layer. `args` holds every parameter of the layer table, defaults filled in
    and normalised (kernel, stride, padding and dilation of 2-d layers are `(h, w)` pairs;
    padding may also stay `"same"`)."""

    kind: str
    args: Mapping[str, Value]
    name: str
    span: Span
    in_shape: Shape
    out_shape: Shape
    derivation: tuple[str, ...] = ()
    arg_spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)
    label: str | None = None  # as written in the file; None where the name was generated


@dataclass(frozen=True)
class Group:
    """A named sequence of nodes: one block call, which becomes one submodule."""

    block: str
    name: str
    body: tuple["Node", ...]
    span: Span
    in_shape: Shape
    out_shape: Shape
    label: str | None = None


@dataclass(frozen=True)
class Residual:
    """`body(x) + shortcut(x)`, the shortcut being the identity when None."""

    body: tuple["Node", ...]
    shortcut: tuple["Node", ...] | None
    name: str
    span: Span
    in_shape: Shape
    out_shape: Shape
    label: str | None = None


@dataclass(frozen=True)
class Branches:
    """Branches on the same input, joined by `concat` (channel axis) or `add`."""

    op: str
    branches: tuple[tuple["Node", ...], ...]
    name: str
    span: Span
    in_shape: Shape
    out_shape: Shape
    label: str | None = None


Node = Union[Layer, Group, Residual, Branches]


@dataclass(frozen=True)
class Network:
    """A network after expansion: every layer with its shapes, ready for a backend."""

    name: str
    params: Mapping[str, Value]
    input_shape: Shape
    output_shape: Shape
    body: tuple[Node, ...]
    span: Span
    train: Mapping[str, Value] = field(default_factory=dict)
    files: tuple[SourceFile, ...] = ()


def named_leaves(nodes: tuple[Node, ...], prefix: str = "") -> list[tuple[str, Layer]]:
    """The leaf layers in execution order (body before shortcut, branches in order), each
    with its dotted module path, the same path the torch backend registers it under:
    `group.layer`, `residual.body.layer`, `residual.shortcut.layer`, `concat.0.layer`."""
    out: list[tuple[str, Layer]] = []
    for node in nodes:
        path = f"{prefix}{node.name}"
        if isinstance(node, Layer):
            out.append((path, node))
        elif isinstance(node, Group):
            out.extend(named_leaves(node.body, f"{path}."))
        elif isinstance(node, Residual):
            out.extend(named_leaves(node.body, f"{path}.body."))
            out.extend(named_leaves(node.shortcut or (), f"{path}.shortcut."))
        else:
            for index, branch in enumerate(node.branches):
                out.extend(named_leaves(branch, f"{path}.{index}."))
    return out


def leaves(nodes: tuple[Node, ...]) -> list[Layer]:
    """The leaf layers in execution order."""
    return [layer for _, layer in named_leaves(nodes)]
