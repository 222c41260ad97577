"""Counting: parameters, MACs and memory per layer, from the IR alone (no torch).

Parameters are what the emitted module holds; MACs follow LANGUAGE.md (convolutions and
linear layers only); memory assumes float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import ir
from .layers import LAYERS

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class LayerRow:
    """One line of `summary`: a layer, its output shape and what it costs."""

    name: str
    layer: str
    line: int
    output_shape: ir.Shape
    params: int
    macs: int


@dataclass(frozen=True)
class Summary:
    """A network's rows and totals, computed from shapes alone, without torch."""

    network: ir.Network
    rows: tuple[LayerRow, ...]

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def trainable_params(self) -> int:
        return self.total_params  # every parameter the language emits is trainable

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def param_bytes(self) -> int:
        return self.total_params * BYTES_PER_VALUE

    @property
    def activation_bytes(self) -> int:
        """Per sample: the input plus every layer's output, as a forward pass keeps them."""
        values = math.prod(self.network.input_shape) + sum(math.prod(r.output_shape) for r in self.rows)
        return values * BYTES_PER_VALUE

    def as_json(self) -> dict[str, Any]:
        net = self.network
        return {
            "network": net.name,
            "input": list(net.input_shape),
            "output": list(net.output_shape),
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "macs": self.macs,
            "param_bytes": self.param_bytes,
            "activation_bytes": self.activation_bytes,
            "layers": [{"name": r.name, "layer": r.layer, "line": r.line, "output_shape": list(r.output_shape),
                        "params": r.params, "macs": r.macs} for r in self.rows],
        }


def layer_params(layer: ir.Layer) -> int:
    """The parameters the emitted module of one layer holds."""
    return LAYERS[layer.kind].count_params(layer.args, layer.in_shape, layer.out_shape)


def layer_macs(layer: ir.Layer) -> int:
    """One layer's multiply-accumulates for one sample."""
    return LAYERS[layer.kind].count_macs(layer.args, layer.in_shape, layer.out_shape)


def summarize(net: ir.Network) -> Summary:
    rows = [LayerRow(path, layer.kind, layer.span.line, layer.out_shape, layer_params(layer), layer_macs(layer))
            for path, layer in ir.named_leaves(net.body)]
    return Summary(net, tuple(rows))
