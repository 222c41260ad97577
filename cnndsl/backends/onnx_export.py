"""Compiled module -> the bytes of an ONNX file: what `cnndsl export --to onnx` writes.

The work is PyTorch's torch.export-based exporter (`dynamo=True`): it is PyTorch's default
since 2.9, while the older TorchScript-based one warns that it will be removed. It needs
the `onnx` and `onnxscript` packages, which cnndsl does not require: their absence is an
`ExportError` that names the extra to install.

The graph takes one float tensor `input` of shape (batch, *input_shape) and returns
`output` of shape (batch, *output_shape); the batch size is free (the ONNX dimension
`batch`). The model is exported in eval mode: dropout is gone and batch norm uses its
running statistics. The opset is pinned at 18, the oldest one PyTorch's exporter writes
natively, so that the file runs on as many runtimes as possible and does not change
with the installed PyTorch.
"""

from __future__ import annotations

import functools
import importlib
import keyword
from typing import Optional

import torch
from torch import nn
from torch.torch_version import TorchVersion

from .. import ir
from ..ir import format_shape
from .export_checks import ExportError, refuse_names, where
from .torch_module import CompiledNetwork, evaluating

OPSET = 18
# Protobuf cannot serialise a message of 2 GiB or more; 2 GB leaves room for the graph.
MAX_BYTES = 2_000_000_000
# PyTorch documents the torch.export-based exporter for 2.6 and newer; older releases lack
# `dynamo=True` and `dynamic_shapes` or offer them only as a preview.
MIN_TORCH = (2, 6)
# A batch of one may be specialised into the graph as a constant size; two is not.
_EXAMPLE_BATCH = 2


def onnx_bytes(model: CompiledNetwork) -> bytes:
    """The serialised ONNX model of `model` in eval mode, checked by `onnx.checker`.

    Raises `ExportError` when the packages are missing, PyTorch is too old, or the network
    holds something ONNX cannot express; `model`'s own mode is left as it was."""
    _require_exporter()
    import onnx

    refuse_names(model.network, "ONNX", _objection)
    _refuse_what_onnx_cannot_hold(model)
    example = torch.zeros(_EXAMPLE_BATCH, *model.input_shape)
    with evaluating(model):
        try:
            program = torch.onnx.export(model, (example,), dynamo=True, opset_version=OPSET,
                                        input_names=["input"], output_names=["output"],
                                        dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
        except torch.onnx.OnnxExporterError as exc:
            raise ExportError(f"PyTorch could not export {model.network_name} to ONNX: {_root_cause(exc)}") from exc
    assert program is not None  # only the legacy exporter (dynamo=False) returns None
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {"cnndsl.network": model.network_name,
                                        "cnndsl.input_shape": format_shape(model.input_shape),
                                        "cnndsl.output_shape": format_shape(model.output_shape)})
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def _require_exporter() -> None:
    """Refuse before any work when the exporter cannot run in this environment."""
    for package in ("onnx", "onnxscript"):
        try:
            importlib.import_module(package)
        except ImportError:
            raise ExportError(f'ONNX export needs the `{package}` package: pip install "cnndsl[onnx]"') from None
    # TorchVersion compares with tuples; its operators are set with setattr, so its stub has str's
    if TorchVersion(torch.__version__) < MIN_TORCH:  # type: ignore[operator]
        raise ExportError(f"ONNX export needs PyTorch {'.'.join(map(str, MIN_TORCH))} or newer, "
                          f"and this is {torch.__version__}: pip install --upgrade torch")


def _objection(name: str, top_level: bool) -> Optional[str]:
    """The exporter traces the network into a `torch.fx.GraphModule` and writes its Python
    code: a keyword cannot name a module anywhere, nor a name the graph module already has
    at the top."""
    if keyword.iskeyword(name):
        return "it is a Python keyword, and PyTorch's exporter writes module names into Python code"
    if top_level and name in _graph_module_names():
        return (f"PyTorch's exporter holds the network in a torch.fx.GraphModule, whose own `{name}` "
                "would hide the module")
    return None


@functools.cache
def _graph_module_names() -> frozenset[str]:
    """What a `torch.fx.GraphModule` has beyond a plain module: its class's attributes and
    those its constructor sets (`graph`, `code`, `meta`, ...), as the installed PyTorch has them."""
    return frozenset(dir(torch.fx.GraphModule(nn.Module(), torch.fx.Graph()))) - frozenset(dir(nn.Module()))


def _refuse_what_onnx_cannot_hold(model: CompiledNetwork) -> None:
    """The limits of the format itself, reported against the `.net` file where they can be."""
    for path, layer in ir.named_leaves(model.network.body):
        if layer.kind == "adaptivemaxpool" and any(i % o for i, o in zip(layer.in_shape[1:], layer.out_shape[1:])):
            raise ExportError(
                f"`{path}` ({where(layer)}) pools "
                f"{format_shape(layer.in_shape[1:])} to {format_shape(layer.out_shape[1:])}: ONNX has no adaptive "
                "max pooling, and only one whose input sizes are multiples of its output sizes is a plain "
                "max pooling; use `maxpool` or `adaptiveavgpool` there, or change the input size")
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    if size > MAX_BYTES:
        raise ExportError(f"{model.network_name}'s weights take {size / 1e9:.1f} GB and an ONNX file holds at most "
                          "2 GB; use --to torchscript, or a smaller network")


def _root_cause(exc: BaseException) -> str:
    """The first line of the innermost cause: the exporter wraps the real reason (an
    operator with no ONNX translation, say) in several layers of advice."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
