"""Lint: IR -> warnings about networks that compile but are probably not what was meant.

The warning that needs the convolution arithmetic (W0201, rows never covered) is raised by
the shape rules themselves; this pass looks at layers in context.
"""

from __future__ import annotations

from typing import Callable, Iterator, cast

from .. import codes, ir
from ..diagnostics import Applicability, Diagnostic, Diagnostics, Fix, Label, remove_line, replace, warning
from ..source import Span

_IDEMPOTENT = {"relu", "relu6", "identity"}
_POOLS = {"maxpool", "avgpool", "adaptiveavgpool", "adaptivemaxpool", "globalavgpool"}


def _runs(nodes: tuple[ir.Node, ...]) -> list[list[ir.Node]]:
    """Sequences of adjacent nodes, block calls inlined; residuals and branches start
    their own sequences (their bodies do not run right after what precedes them)."""
    runs: list[list[ir.Node]] = [[]]

    def walk(seq: tuple[ir.Node, ...]) -> None:
        for node in seq:
            if isinstance(node, ir.Group):
                walk(node.body)
                continue
            runs[0].append(node)
            if isinstance(node, ir.Residual):
                runs.extend(_runs(node.body))
                runs.extend(_runs(node.shortcut or ()))
            elif isinstance(node, ir.Branches):
                for branch in node.branches:
                    runs.extend(_runs(branch))

    walk(nodes)
    return runs


def _last_layer(nodes: tuple[ir.Node, ...]) -> ir.Layer | None:
    for node in reversed(nodes):
        if isinstance(node, ir.Layer):
            return node
        if isinstance(node, ir.Group):
            return _last_layer(node.body)
        return None
    return None


def _no_effect(prev: ir.Layer | None, layer: ir.Layer) -> str | None:
    kind = layer.kind
    if prev is not None and kind == prev.kind and kind in _IDEMPOTENT:
        return f"`{kind}` right after `{kind}` changes nothing"
    if prev is not None and kind == "relu" and prev.kind in ("relu6", "sigmoid", "softmax"):
        return f"`relu` after `{prev.kind}` changes nothing: its input is never negative"
    if kind in _POOLS and layer.in_shape[1:] == (1, 1):
        return f"`{kind}` of a 1x1 map changes nothing"
    if kind == "flatten" and len(layer.in_shape) == 1:
        return "`flatten` of a vector changes nothing"
    if kind in ("dropout", "dropout2d", "droppath") and layer.args["p"] == 0:
        return f"`{kind}` with p=0 changes nothing"
    if kind == "shuffle" and layer.args["groups"] == 1:
        return "`shuffle` with groups=1 changes nothing"
    if kind in ("dropout", "dropout2d") and cast(float, layer.args["p"]) >= 1:  # a float, checked by coerce
        return f"`{kind}` with p={layer.args['p']:g} zeroes everything"
    return None


def _no_bias(conv: ir.Layer) -> Fix:
    """`bias=false` on the convolution: written over its `bias=true`, or added as the last
    argument. Unsafe: the module loses its bias parameters (trained weights no longer fit)."""
    message = "write `bias=false`"
    given = conv.arg_spans.get("bias")
    if given is not None:
        return replace(given, "false", message, Applicability.UNSAFE)
    span = conv.span
    close = Span(span.file, span.end_line, span.end_column - 1, span.end_line, span.end_column - 1)
    return replace(close, ", bias=false", message, Applicability.UNSAFE)


Rule = Callable[[ir.Network], Iterator[Diagnostic]]


def _pairs(net: ir.Network) -> Iterator[tuple[ir.Layer | None, ir.Layer]]:
    """Each leaf layer with the layer that runs right before it (None when something else,
    or nothing, does)."""
    for run in _runs(net.body):
        prev: ir.Layer | None = None
        for node in run:
            layer = node if isinstance(node, ir.Layer) else None
            if layer is not None:
                yield prev, layer
            prev = layer


def softmax_at_the_end(net: ir.Network) -> Iterator[Diagnostic]:
    """W0202: the last layer is `softmax`, and training applies cross-entropy, which takes raw
    scores: `network N { input 4 linear(3) softmax }`."""
    last = _last_layer(net.body)
    if last is not None and last.kind == "softmax":
        yield warning(codes.W0202, "the network ends in `softmax`, but training applies cross-entropy to raw "
                                   "scores", last.span, "softmax applied twice in training",
                      help="remove the `softmax` (use it at inference), or end in `logsoftmax`")


def no_effect(net: ir.Network) -> Iterator[Diagnostic]:
    """W0203: a layer that cannot change its input: `relu relu`, `maxpool(1)` of a 1x1 map,
    `flatten` of a vector, `dropout(0)`."""
    for prev, layer in _pairs(net):
        reason = _no_effect(prev, layer)
        if reason:
            yield warning(codes.W0203, reason, layer.span, "no effect", help=f"remove this `{layer.kind}`",
                          fixes=remove_line(layer.span, f"remove this `{layer.kind}`"))


def bias_before_batchnorm(net: ir.Network) -> Iterator[Diagnostic]:
    """W0204: a convolution with a bias right before `batchnorm`, which subtracts the mean and
    so cancels it: `conv(16, 3) batchnorm`."""
    for prev, layer in _pairs(net):
        if prev is not None and prev.kind == "conv" and layer.kind == "batchnorm" and prev.args["bias"]:
            yield warning(codes.W0204, "convolution bias is cancelled by the batchnorm after it", prev.span,
                          "has a bias", secondary=(Label(layer.span, "subtracts the mean"),),
                          help="write `bias=false` on the convolution", fixes=(_no_bias(prev),))


# Every lint rule, one function each, in the order they run. (W0201, rows a window never reads,
# is raised by the shape rules of layers.py, where the arithmetic is done.)
RULES: tuple[Rule, ...] = (softmax_at_the_end, no_effect, bias_before_batchnorm)


def lint(net: ir.Network, diags: Diagnostics) -> ir.Network:
    """Add the warnings of every rule for `net` to `diags`; the network itself is unchanged."""
    for rule in RULES:
        for diagnostic in rule(net):
            diags.add(diagnostic)
    return net
