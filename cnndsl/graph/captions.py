"""The words in the diagram: a layer's caption, the labels worth showing, hover details.

A caption is what one would write next to the layer on a whiteboard: the kind, the
arguments that have no default (`conv 6, 5x5`), then only the keyword arguments that
differ from their defaults (`maxpool 3, stride 2, pad 1`). Biases and numerical constants
of normalisation are left to the hover text and the summary.
"""

from __future__ import annotations


from .. import ir
from ..layers import LAYERS, REQUIRED, Param

MAX_TEXT = 48   # a longer name or caption is cut, so one name cannot stretch the picture

_HIDDEN = {"bias", "eps", "momentum"}
_SHORT = {"padding": "pad", "output_padding": "outpad"}


def clip(text: str) -> str:
    """`text`, cut to MAX_TEXT characters with an ellipsis."""
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 3] + "..."


def given_label(node: ir.Node) -> str | None:
    """The node's module name where the user wrote a label; None where the compiler made
    the name up (the kind and a counter, like `relu3`)."""
    return node.name if node.label is not None else None


def caption(layer: ir.Layer) -> str:
    """`conv 6, 5x5`, `maxpool 2`, `linear 120`, `dropout 0.2`, `relu`."""
    spec = LAYERS[layer.kind]
    parts = []
    for index, param in enumerate(spec.params):
        value = layer.args.get(param.name)
        if param.name in _HIDDEN or value is None:
            continue
        if param.default is REQUIRED or (index == 0 and param.kind == "float"):
            parts.append(_value(param, value, layer))
        elif not _is_default(param, value, layer):
            parts.append(_keyword(param, value, layer))
    return clip(f"{layer.kind} {', '.join(parts)}" if parts else layer.kind)


def _is_default(param: Param, value: ir.Value, layer: ir.Layer) -> bool:
    # a pooling stride defaults to the kernel (its table default is None)
    default = layer.args.get("kernel") if param.default is None else param.default
    return _pair(value) == _pair(default) if param.kind in ("pair", "padding") else value == default


def _pair(value: object) -> object:
    return value if isinstance(value, (tuple, str)) else (value, value)


def _keyword(param: Param, value: ir.Value, layer: ir.Layer) -> str:
    if value is True:
        return param.name
    if param.kind == "str":
        return str(value)
    return f"{_SHORT.get(param.name, param.name)} {_value(param, value, layer)}"


def _value(param: Param, value: ir.Value, layer: ir.Layer) -> str:
    """Numbers as written; an (h, w) pair as `h` when square, except for convolution
    kernels and adaptive sizes, which always read `5x5` (`conv 6, 5` would be ambiguous)."""
    both = param.kind == "pair" and (param.name == "size" or (param.name == "kernel" and "out" in layer.args))
    h, w = value if isinstance(value, tuple) else (value, value)
    return _number(h) if h == w and not both else f"{_number(h)}x{_number(w)}"


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def layer_tooltip(path: str, layer: ir.Layer) -> str:
    """The hover text of a layer: module path and type, shapes, counts, source line."""
    spec = LAYERS[layer.kind]
    params = spec.count_params(layer.args, layer.in_shape, layer.out_shape)
    macs = spec.count_macs(layer.args, layer.in_shape, layer.out_shape)
    return (f"{path}: {spec.module}, {ir.format_shape(layer.in_shape)} -> {ir.format_shape(layer.out_shape)}, "
            f"{params:,} params, {macs:,} MACs (line {layer.span.line})")


def block_tooltip(path: str, group: ir.Group) -> str:
    """The hover text of a block call: what it is and what its layers hold together."""
    layers = ir.leaves(group.body)
    params = sum(LAYERS[layer.kind].count_params(layer.args, layer.in_shape, layer.out_shape) for layer in layers)
    return (f"{path}: block {group.block}, {len(layers)} layers, {ir.format_shape(group.in_shape)} -> "
            f"{ir.format_shape(group.out_shape)}, {params:,} params (line {group.span.line})")
