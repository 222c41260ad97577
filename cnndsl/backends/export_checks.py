"""What stops a binary export before it starts, said in terms of the `.net` file.

PyTorch's exporters write every module name into code of their own (Python for ONNX,
TorchScript for TorchScript), so a label that is a keyword there, or that the exporter's
own classes already use, fails deep inside PyTorch with a message about generated code.
Each backend names what it objects to; this module finds the label and reports its line.
Nothing here imports torch, so the command line can catch `ExportError` for free.
"""

from __future__ import annotations

from typing import Callable, Iterator, Optional

from .. import ir
from ..errors import Error


class ExportError(Error):
    """The network cannot be written in the chosen format here; the message says why and
    what to do about it, the span (where there is one) which layer stands in the way."""

    family_code = "X0001"


# (name, at the top level of the network) -> why the format cannot carry it, or None.
Objection = Callable[[str, bool], Optional[str]]


def refuse_names(net: ir.Network, format_name: str, objection: Objection) -> None:
    """Raise `ExportError` for the first module name, in file order, that `objection` refuses."""
    for path, node, top_level in _named_nodes(net.body, "", True):
        why = objection(node.name, top_level)
        if why is not None:
            raise ExportError(f"`{path}` ({where(node)}) cannot name a module in {format_name}: {why}; "
                              f"choose another label, e.g. `{node.name}_`", span=node.span)


def where(node: ir.Node) -> str:
    """`lenet5.net:14`: the file and line a node was written on."""
    return f"{node.span.file.name}:{node.span.line}"


def _named_nodes(nodes: tuple[ir.Node, ...], prefix: str, top_level: bool) -> Iterator[tuple[str, ir.Node, bool]]:
    for node in nodes:
        path = f"{prefix}{node.name}"
        yield path, node, top_level
        if isinstance(node, ir.Group):
            yield from _named_nodes(node.body, f"{path}.", False)
        elif isinstance(node, ir.Residual):
            yield from _named_nodes(node.body, f"{path}.body.", False)
            yield from _named_nodes(node.shortcut or (), f"{path}.shortcut.", False)
        elif isinstance(node, ir.Branches):
            for index, branch in enumerate(node.branches):
                yield from _named_nodes(branch, f"{path}.{index}.", False)
