"""IR -> the text of one standalone PyTorch file: what `cnndsl export --to python` writes.

The file defines one `nn.Module` class whose `__init__` registers the same module tree as
`cnndsl.compile` builds (same names, same order, same in-place choices), so a state dict
saved from either loads into the other. Each layer's line carries the shape the checker
inferred and the source line it came from; `forward` spells out the top-level steps. The
helper classes a network needs (residual, concat, add, mul, split, and the layers PyTorch
has no module for) are copied from `containers.py`, so the file imports nothing but torch.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
from dataclasses import dataclass

import torch

from .. import ir
from ..ir import format_shape
from . import containers
from .literal import literal
from .module_calls import call_for, in_place_paths
from .torch_module import build

INDENT = "    "
_HELPERS = (containers.Residual, containers.Concat, containers.Add, containers.Mul, containers.Split,
            containers.LayerNorm2d, containers.LayerScale, containers.ChannelShuffle, containers.DropPath)
_JOINERS = {"concat": containers.Concat, "add": containers.Add, "mul": containers.Mul, "split": containers.Split}


@dataclass
class _Line:
    """One line of a constructor expression: its nesting depth, code and shape comment."""

    depth: int
    code: str
    comment: str = ""


def python_source(net: ir.Network, origin: str) -> str:
    """The source of a module equivalent to `build(net)`; `origin` names the `.net` file.

    Raises `CompileError` for a network `build` refuses (a label PyTorch reserves)."""
    with torch.device("meta"):  # the same checks as `cnndsl.compile`, without allocating weights
        build(net)
    class_name = _class_name(net.name)
    header = f"{_docstring(net, origin)}\n\n{_imports(net.body)}"
    definitions = [inspect.getsource(helper).rstrip() for helper in _helpers(net.body)]
    return "\n\n\n".join([header, *definitions, _network_class(net, class_name), _main(class_name)]) + "\n"


def _class_name(name: str) -> str:
    """The network's name, unless Python (`class`, `super`) or the file's own imports and
    helpers claim it; `Network` for a name that is not an identifier (the language makes none)."""
    if not name.isidentifier():
        return "Network"
    taken = {"torch", "nn", "OrderedDict", "annotations", *vars(builtins), *(h.__name__ for h in _HELPERS)}
    return f"{name}Network" if keyword.iskeyword(name) or name in taken else name


def _docstring(net: ir.Network, origin: str) -> str:
    params = ", ".join(f"{k}={literal(v)}" for k, v in net.params.items())
    return (f'"""{_name(net.name)}, exported by cnndsl from {literal(origin)}'
            f'{f" with {params}" if params else ""}.\n\n'
            f"Input: a batch of {format_shape(net.input_shape)}; output: a batch of "
            f"{format_shape(net.output_shape)}.\n"
            "The module names are those of `cnndsl.compile`, so state dicts load in either.\n"
            '"""')


def _imports(nodes: tuple[ir.Node, ...]) -> str:
    """`OrderedDict` names the layers inside containers; a flat network does without."""
    nested = any(not isinstance(node, ir.Layer) for node in nodes)
    ordered = "from collections import OrderedDict\n\n" if nested else ""
    return f"from __future__ import annotations\n\n{ordered}import torch\nfrom torch import nn"


def _helpers(nodes: tuple[ir.Node, ...]) -> list[type]:
    """The helper classes the network uses, in a fixed order."""
    found: set[type] = set()

    def visit(seq: tuple[ir.Node, ...]) -> None:
        for node in seq:
            if isinstance(node, ir.Layer):
                call = call_for(node)
                if call.local:
                    found.add(getattr(containers, call.cls))
            elif isinstance(node, ir.Group):
                visit(node.body)
            elif isinstance(node, ir.Residual):
                found.add(containers.Residual)
                visit(node.body)
                visit(node.shortcut or ())
            elif isinstance(node, ir.Branches):
                found.add(_JOINERS[node.op])
                for branch in node.branches:
                    visit(branch)

    visit(nodes)
    return [helper for helper in _HELPERS if helper in found]


def _network_class(net: ir.Network, class_name: str) -> str:
    constructors = _Constructors(net)
    out = [f"class {class_name}(nn.Module):",
           f'{INDENT}"""{_name(net.name)}: {format_shape(net.input_shape)} -> {format_shape(net.output_shape)}."""',
           "",
           f"{INDENT}input_shape = {net.input_shape!r}",
           f"{INDENT}output_shape = {net.output_shape!r}",
           "",
           f"{INDENT}def __init__(self) -> None:",
           f"{INDENT * 2}super().__init__()"]
    for node in net.body:
        lines = constructors.expression(node, node.name)
        if _is_attribute(node.name):
            lines[0].code = f"self.{node.name} = {lines[0].code}"
        else:
            lines[0].code = f'setattr(self, {literal(node.name)}, {lines[0].code}'
            lines[-1].code += ")"
        out.extend(f"{INDENT * (2 + line.depth)}{line.code}" + (f"  # {line.comment}" if line.comment else "")
                   for line in lines)
    out += ["", f"{INDENT}def forward(self, x: torch.Tensor) -> torch.Tensor:"]
    for node in net.body:
        module = f"self.{node.name}" if _is_attribute(node.name) else f"getattr(self, {literal(node.name)})"
        out.append(f"{INDENT * 2}x = {module}(x)  # {format_shape(node.out_shape)}")
    out.append(f"{INDENT * 2}return x")
    return "\n".join(out)


def _is_attribute(name: str) -> bool:
    """Labels are identifiers, but a Python keyword (`lambda:`) cannot follow `self.`."""
    return name.isidentifier() and not keyword.iskeyword(name)


def _name(name: str) -> str:
    """A name as it stands in a docstring or comment: an identifier as it is, anything else
    (which the language does not produce) as a quoted literal."""
    return name if name.isidentifier() else literal(name)


def _main(class_name: str) -> str:
    return (f'if __name__ == "__main__":\n'
            f"{INDENT}model = {class_name}().eval()\n"
            f"{INDENT}with torch.no_grad():\n"
            f"{INDENT * 2}print(model(torch.zeros(1, *model.input_shape)).shape)")


class _Constructors:
    """The constructor expressions of a network's modules, as lines of code with comments."""

    def __init__(self, net: ir.Network) -> None:
        self.in_place = in_place_paths(net.body)
        self.file = net.span.file

    def expression(self, node: ir.Node, path: str) -> list[_Line]:
        """The lines of the expression that constructs `node`'s module."""
        if isinstance(node, ir.Layer):
            call = call_for(node, path in self.in_place)
            return [_Line(0, call.source(), f"{format_shape(node.out_shape)}, {self.origin(node)}")]
        comment = f"{format_shape(node.in_shape)} -> {format_shape(node.out_shape)}, {self.origin(node)}"
        if isinstance(node, ir.Group):
            return self.sequence(node.body, f"{path}.", f"{_name(node.block)}: {comment}")
        if isinstance(node, ir.Residual):
            arguments = [_keyword("body", self.sequence(node.body, f"{path}.body."))]
            if node.shortcut is not None:
                arguments.append(_keyword("shortcut", self.sequence(node.shortcut, f"{path}.shortcut.")))
            if path in self.in_place:
                arguments.append([_Line(0, "in_place=True,")])
            return [_Line(0, "Residual(", f"residual: {comment}"), *_nested(arguments), _Line(0, ")")]
        branches = [self.sequence(branch, f"{path}.{index}.", f"branch {index}")
                    for index, branch in enumerate(node.branches)]
        for lines in branches:
            lines[-1].code += ","
        closing = "], in_place=True)" if path in self.in_place else "])"
        return [_Line(0, f"{_JOINERS[node.op].__name__}([", f"{node.op}: {comment}"), *_nested(branches),
                _Line(0, closing)]

    def sequence(self, nodes: tuple[ir.Node, ...], prefix: str, comment: str = "") -> list[_Line]:
        """`nn.Sequential(OrderedDict([("name", module), ...]))`, one entry per node."""
        if not nodes:
            return [_Line(0, "nn.Sequential()", comment)]
        entries = []
        for node in nodes:
            lines = self.expression(node, f"{prefix}{node.name}")
            lines[0].code = f"({literal(node.name)}, {lines[0].code}"
            lines[-1].code += "),"
            entries.append(lines)
        return [_Line(0, "nn.Sequential(OrderedDict([", comment), *_nested(entries), _Line(0, "]))")]

    def origin(self, node: ir.Node) -> str:
        """`line 12`, or `line 12 of "blocks.net"` for a statement from a file brought in by `use`."""
        span = node.span
        return f"line {span.line}" if span.file == self.file else f"line {span.line} of {literal(span.file.name)}"


def _keyword(name: str, lines: list[_Line]) -> list[_Line]:
    lines[0].code = f"{name}={lines[0].code}"
    lines[-1].code += ","
    return lines


def _nested(groups: list[list[_Line]]) -> list[_Line]:
    return [_Line(line.depth + 1, line.code, line.comment) for lines in groups for line in lines]
