"""IR -> `torch.nn.Module`: the backend behind `cnndsl.compile`.

The module tree mirrors the IR node for node. A group (one block call) is an
`nn.Sequential` named after the call; a residual holds `body` and, when written, `shortcut`;
`concat`, `add`, `mul` and `split` hold their branches as an indexed list. Every module is registered in
source order under the path `ir.named_leaves` gives, so `state_dict()` keys are the layer
names `cnndsl summary` prints (`basic1.residual1.body.conv1.weight`) and come in the order
the file declares them. Nothing is decided at call time: the forward passes are those of
`nn.Sequential` and the small containers in `containers.py`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn

from .. import codes, ir
from ..compiler import CompileError
from ..diagnostics import error
from . import containers
from .containers import Add, Concat, Mul, Residual, Split
from .module_calls import ModuleCall, call_for, in_place_paths


class CompiledNetwork(nn.Sequential):
    """A network compiled from a `.net` file: its top-level layers and groups, run in order.

    `network_name`, `input_shape` and `output_shape` (per sample, without the batch
    dimension) come from the file; `network` is the whole IR, for tools that want the
    source spans, the parameter values or the `train { }` settings."""

    def __init__(self, net: ir.Network) -> None:
        super().__init__()
        self.network = net
        self.network_name = net.name
        self.input_shape = net.input_shape
        self.output_shape = net.output_shape
        _fill(self, net.body, "", in_place_paths(net.body))

    def extra_repr(self) -> str:
        return f"{self.network_name}: {ir.format_shape(self.input_shape)} -> {ir.format_shape(self.output_shape)}"

    def _repr_html_(self) -> str:
        """In a notebook: the summary table of the network (the module tree stays the text form)."""
        from ..display import summary_html
        from ..counting import summarize

        return summary_html(summarize(self.network).as_json())


def build(net: ir.Network) -> CompiledNetwork:
    """The `nn.Module` for a checked network.

    Raises `CompileError` when a label cannot name a module because PyTorch already uses
    the name (`eval:`, `forward:`)."""
    return CompiledNetwork(net)


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in eval mode for the duration, then every submodule back in the mode it was in.

    Exports record inference (dropout off, batch norm on its running statistics) and must
    not change the caller's model: one being trained stays in training mode, and one with
    some layers frozen in eval mode keeps them so."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def _instantiate(call: ModuleCall) -> nn.Module:
    return getattr(containers if call.local else nn, call.cls)(*call.args, **dict(call.kwargs))


def _fill(container: nn.Module, nodes: tuple[ir.Node, ...], prefix: str, in_place: frozenset[str]) -> None:
    for node in nodes:
        if hasattr(container, node.name) and node.name not in container._modules:
            raise CompileError([error(
                codes.E0301, f"`{node.name}` cannot name a module: PyTorch's `{type(container).__name__}` already "
                         f"has an attribute of that name", node.span, "this label",
                help=f"choose another label, e.g. `{node.name}_`")])
        container.add_module(node.name, _module(node, f"{prefix}{node.name}", in_place))


def _sequence(nodes: tuple[ir.Node, ...], prefix: str, in_place: frozenset[str]) -> nn.Sequential:
    sequence = nn.Sequential()
    _fill(sequence, nodes, prefix, in_place)
    return sequence


def _module(node: ir.Node, path: str, in_place: frozenset[str]) -> nn.Module:
    if isinstance(node, ir.Layer):
        return _instantiate(call_for(node, path in in_place))
    if isinstance(node, ir.Group):
        return _sequence(node.body, f"{path}.", in_place)
    if isinstance(node, ir.Residual):
        shortcut = None if node.shortcut is None else _sequence(node.shortcut, f"{path}.shortcut.", in_place)
        return Residual(_sequence(node.body, f"{path}.body.", in_place), shortcut, path in in_place)
    branches: list[nn.Module] = [_sequence(branch, f"{path}.{index}.", in_place)
                                 for index, branch in enumerate(node.branches)]
    if node.op == "add":
        return Add(branches, path in in_place)
    return {"concat": Concat, "mul": Mul, "split": Split}[node.op](branches)
