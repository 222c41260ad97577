"""`cnndsl export`: write a checked network as a standalone PyTorch source file, an ONNX
model or a TorchScript archive.

Python source without `-o` goes to stdout, so nothing on disk changes unless asked; the
binary formats need `-o`, so that a model never lands on a terminal or in a pipe by mistake.
The file is written as `cli.output` writes every `-o`: checked first, then atomically.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional, cast

import typer
from rich.text import Text

from .. import ir
from ..backends.export_checks import ExportError
from ..compiler import CompileError
from ..render import print_diagnostics
from .app import EXIT_REJECTED, NetworkOption, SetOption, StrictOption, app, err_console, load_network, usage_error
from .output import check_not_a_source, check_output, write_output, write_stdout


class Target(str, Enum):
    python = "python"
    onnx = "onnx"
    torchscript = "torchscript"


# The usual name ending of each target's files, for the examples in messages.
_SUFFIXES = {Target.python: ".py", Target.onnx: ".onnx", Target.torchscript: ".pt"}


@app.command()
def export(
    file: Path = typer.Argument(..., readable=False, help="The .net file.", show_default=False),
    to: Target = typer.Option(Target.python, "--to",
                              help="python: a standalone PyTorch .py file; onnx: an ONNX model (needs -o and "
                                   'pip install "cnndsl[onnx]"); torchscript: a torch.jit archive (needs -o).'),
    output: Optional[Path] = typer.Option(None, "--output", "-o", show_default=False,
                                          help="Write here (replacing a regular file there, never a device, pipe or "
                                               "link); without it, Python source goes to stdout."),
    network: Optional[str] = NetworkOption,
    set_: Optional[list[str]] = SetOption,
    strict: bool = StrictOption,
) -> None:
    """Write the network as a PyTorch source file that needs only torch (its module names
    are those of cnndsl.compile, so weights load in either), or as an ONNX or TorchScript
    model in eval mode with freshly initialised weights and any batch size."""
    if output is not None:
        check_output(output, file, _SUFFIXES[to])
    elif to is not Target.python:
        raise usage_error(f"--to {to.value} writes a binary file: give -o, e.g. -o {file.stem}{_SUFFIXES[to]}")
    net = load_network(file, network, set_, strict)
    if output is not None:
        check_not_a_source(output, net.files)
    try:
        data, description = _export(to, net, file.name)
    except CompileError as exc:
        print_diagnostics(err_console, exc.diagnostics)
        raise typer.Exit(EXIT_REJECTED) from None
    except ExportError as exc:
        err_console.print(Text.assemble(("error", "bold red"), f": {exc}"))
        raise typer.Exit(EXIT_REJECTED) from None
    if output is None:  # Python source: the binary formats were refused without -o
        write_stdout(cast(str, data))
        return
    write_output(output, data)
    err_console.print(f"wrote {output} ({description})", markup=False)


def _export(to: Target, net: ir.Network, origin: str) -> tuple[str | bytes, str]:
    """The file's contents (source text or a binary model) and how the report describes them."""
    if to is Target.python:
        from ..backends.python_source import python_source  # the backends import torch: only when exporting

        source = python_source(net, origin)
        return source, f"{net.name}, {len(source.splitlines())} lines"
    from ..backends.torch_module import build

    model = build(net)
    if to is Target.onnx:
        from ..backends.onnx_export import OPSET, onnx_bytes

        return onnx_bytes(model), f"{net.name}, ONNX opset {OPSET}, any batch size"
    from ..backends.torchscript_export import torchscript_bytes

    return torchscript_bytes(model), f"{net.name}, TorchScript, any batch size"
