"""How each leaf layer of the IR becomes a `torch.nn` module, written down as data.

Both backends read this one table: the torch backend instantiates the calls and the Python
source backend prints them, so a compiled model and an exported file cannot drift apart.
Arguments equal to PyTorch's own defaults are left out, so that printed calls read like
hand-written ones. This module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from .. import ir
from ..ir import Value
from .literal import literal

# Activations that may overwrite their input, as torchvision's models do: their backward
# pass needs only their own output, so running them in place saves an allocation per call.
IN_PLACE_CAPABLE = frozenset({"relu", "relu6"})

# Layers whose output is a fresh tensor that nothing saves for the backward pass, so an
# in-place activation right after them changes nothing but the memory used.
_FRESH_UNSAVED_OUTPUT = frozenset({"conv", "convtranspose", "linear", "batchnorm", "groupnorm", "maxpool",
                                   "avgpool", "adaptiveavgpool", "adaptivemaxpool", "globalavgpool", "upsample"})


@dataclass(frozen=True)
class ModuleCall:
    """`nn.<cls>(*args, **dict(kwargs))`: one layer's module, as a constructor call; with
    `local`, a class of `containers.py` (which the Python source copies into its file)."""

    cls: str
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()
    local: bool = False

    def source(self) -> str:
        """The call as Python source, e.g. `nn.Conv2d(3, 64, kernel_size=7, stride=2)`."""
        parts = [literal(a) for a in self.args] + [f"{k}={literal(v)}" for k, v in self.kwargs]
        return f"{'' if self.local else 'nn.'}{self.cls}({', '.join(parts)})"


def _compact(value: Value) -> Value:
    """`(3, 3)` -> `3`: PyTorch takes a square pair as one int, and it reads better."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return value[0]
    return value


def _changed(**values_and_defaults: tuple[Value, Value]) -> tuple[tuple[str, Value], ...]:
    """The keyword arguments that differ from PyTorch's defaults, pairs compacted."""
    out = []
    for name, (value, default) in values_and_defaults.items():
        value = _compact(value)
        if type(value) is not type(default) or value != default:
            out.append((name, value))
    return tuple(out)


def _conv(layer: ir.Layer) -> ModuleCall:
    a = layer.args
    return ModuleCall("Conv2d", (layer.in_shape[0], a["out"]),
                      (("kernel_size", _compact(a["kernel"])),) +
                      _changed(stride=(a["stride"], 1), padding=(a["padding"], 0), dilation=(a["dilation"], 1),
                               groups=(a["groups"], 1), bias=(a["bias"], True)))


def _convtranspose(layer: ir.Layer) -> ModuleCall:
    a = layer.args
    return ModuleCall("ConvTranspose2d", (layer.in_shape[0], a["out"]),
                      (("kernel_size", _compact(a["kernel"])),) +
                      _changed(stride=(a["stride"], 1), padding=(a["padding"], 0),
                               output_padding=(a["output_padding"], 0), groups=(a["groups"], 1),
                               bias=(a["bias"], True), dilation=(a["dilation"], 1)))


def _maxpool(layer: ir.Layer) -> ModuleCall:
    a = layer.args
    stride = () if a["stride"] is None else (("stride", _compact(a["stride"])),)
    return ModuleCall("MaxPool2d", (_compact(a["kernel"]),),
                      stride + _changed(padding=(a["padding"], 0), dilation=(a["dilation"], 1),
                                        ceil_mode=(a["ceil"], False)))


def _avgpool(layer: ir.Layer) -> ModuleCall:
    a = layer.args
    stride = () if a["stride"] is None else (("stride", _compact(a["stride"])),)
    return ModuleCall("AvgPool2d", (_compact(a["kernel"]),),
                      stride + _changed(padding=(a["padding"], 0), ceil_mode=(a["ceil"], False)))


def _batchnorm(layer: ir.Layer) -> ModuleCall:
    a = layer.args
    cls = "BatchNorm2d" if len(layer.in_shape) == 3 else "BatchNorm1d"
    return ModuleCall(cls, (layer.in_shape[0],), _changed(eps=(a["eps"], 1e-5), momentum=(a["momentum"], 0.1)))


def _groupnorm(layer: ir.Layer) -> ModuleCall:
    a = layer.args
    return ModuleCall("GroupNorm", (a["groups"], layer.in_shape[0]), _changed(eps=(a["eps"], 1e-5)))


def _lrn(layer: ir.Layer) -> ModuleCall:
    a = layer.args
    return ModuleCall("LocalResponseNorm", (a["size"],),
                      _changed(alpha=(a["alpha"], 1e-4), beta=(a["beta"], 0.75), k=(a["k"], 1.0)))


def _linear(layer: ir.Layer) -> ModuleCall:
    a = layer.args
    return ModuleCall("Linear", (layer.in_shape[0], a["out"]), _changed(bias=(a["bias"], True)))


def _upsample(layer: ir.Layer) -> ModuleCall:
    a = layer.args
    return ModuleCall("Upsample", (), (("scale_factor", _compact(a["scale"])),) +
                      _changed(mode=(a["mode"], "nearest")))


def _layernorm(layer: ir.Layer) -> ModuleCall:
    eps = _changed(eps=(layer.args["eps"], 1e-5))
    if len(layer.in_shape) == 3:
        return ModuleCall("LayerNorm2d", (layer.in_shape[0],), eps, local=True)
    return ModuleCall("LayerNorm", (layer.in_shape[0],), eps)


def _layerscale(layer: ir.Layer) -> ModuleCall:
    shape = (layer.in_shape[0], 1, 1) if len(layer.in_shape) == 3 else (layer.in_shape[0],)
    return ModuleCall("LayerScale", (shape, layer.args["init"]), local=True)


def _plain(cls: str) -> Callable[[ir.Layer], ModuleCall]:
    return lambda layer: ModuleCall(cls)


def _with(cls: str, *args: Value, **keywords: tuple[str, Value]) -> Callable[[ir.Layer], ModuleCall]:
    """A module whose keywords come from layer arguments: `name=(layer argument, default)`."""
    return lambda layer: ModuleCall(cls, args, _changed(**{kw: (layer.args[arg], default)
                                                           for kw, (arg, default) in keywords.items()}))


_CALLS: Mapping[str, Callable[[ir.Layer], ModuleCall]] = {
    "conv": _conv,
    "convtranspose": _convtranspose,
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "adaptiveavgpool": lambda layer: ModuleCall("AdaptiveAvgPool2d", (_compact(layer.args["size"]),)),
    "adaptivemaxpool": lambda layer: ModuleCall("AdaptiveMaxPool2d", (_compact(layer.args["size"]),)),
    "globalavgpool": lambda layer: ModuleCall("AdaptiveAvgPool2d", (1,)),
    "batchnorm": _batchnorm,
    "groupnorm": _groupnorm,
    "lrn": _lrn,
    "dropout": _with("Dropout", p=("p", 0.5)),
    "dropout2d": _with("Dropout2d", p=("p", 0.5)),
    "flatten": _plain("Flatten"),
    "linear": _linear,
    "upsample": _upsample,
    "relu": _plain("ReLU"),
    "relu6": _plain("ReLU6"),
    "leakyrelu": _with("LeakyReLU", negative_slope=("slope", 0.01)),
    "elu": _with("ELU", alpha=("alpha", 1.0)),
    "gelu": _plain("GELU"),
    "silu": _plain("SiLU"),
    "mish": _plain("Mish"),
    "hardswish": _plain("Hardswish"),
    "hardsigmoid": _plain("Hardsigmoid"),
    "layernorm": _layernorm,
    "layerscale": _layerscale,
    "shuffle": lambda layer: ModuleCall("ChannelShuffle", (layer.args["groups"],), local=True),
    "droppath": lambda layer: ModuleCall("DropPath", (layer.args["p"],), local=True),
    "sigmoid": _plain("Sigmoid"),
    "tanh": _plain("Tanh"),
    "softmax": lambda layer: ModuleCall("Softmax", (), (("dim", 1),)),
    "logsoftmax": lambda layer: ModuleCall("LogSoftmax", (), (("dim", 1),)),
    "identity": _plain("Identity"),
}


def call_for(layer: ir.Layer, in_place: bool = False) -> ModuleCall:
    """The module call for one layer; `in_place` only for the kinds in IN_PLACE_CAPABLE."""
    call = _CALLS[layer.kind](layer)
    return ModuleCall(call.cls, call.args, call.kwargs + (("inplace", True),), call.local) if in_place else call


def in_place_paths(nodes: tuple[ir.Node, ...]) -> frozenset[str]:
    """The paths of the modules that may overwrite a tensor they receive, as torchvision's
    models do (`ReLU(inplace=True)`, `out += identity`): activations, and residuals and adds
    that accumulate into their first operand.

    Overwriting is safe when nobody else reads the tensor: the fresh output of a layer that
    does not keep it for the backward pass, or of a residual, concat or add. The input of a
    network, body, shortcut or branch never qualifies: the caller, or the other operands,
    still read it."""
    paths: set[str] = set()
    _walk(nodes, "", input_is_private=False, paths=paths)
    return frozenset(paths)


def _walk(nodes: tuple[ir.Node, ...], prefix: str, input_is_private: bool, paths: set[str]) -> bool:
    """Collect the in-place paths of a sequence; return whether its output is private."""
    private = input_is_private
    for node in nodes:
        path = f"{prefix}{node.name}"
        if isinstance(node, ir.Layer):
            if private and node.kind in IN_PLACE_CAPABLE:
                paths.add(path)
            private = node.kind in _FRESH_UNSAVED_OUTPUT
        elif isinstance(node, ir.Group):
            private = _walk(node.body, f"{path}.", private, paths)
        elif isinstance(node, ir.Residual):
            body_private = _walk(node.body, f"{path}.body.", False, paths)
            _walk(node.shortcut or (), f"{path}.shortcut.", False, paths)
            if body_private:
                paths.add(path)
            private = True
        else:
            outputs_private = [_walk(branch, f"{path}.{index}.", False, paths)
                               for index, branch in enumerate(node.branches)]
            first = node.branches[0][-1].out_shape if node.branches[0] else node.in_shape
            # the sum goes into the first operand, so that must have the full shape, not a broadcast one
            if node.op == "add" and outputs_private[0] and len(node.branches) > 1 and first == node.out_shape:
                paths.add(path)
            private = node.op in ("concat", "split") or len(node.branches) > 1
    return private
