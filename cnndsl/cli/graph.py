"""`cnndsl graph`: draw a checked network as an SVG or PNG diagram. Never imports torch.

The format comes from the extension of `-o` or from `--format`; without `-o` the SVG goes
to stdout, and a PNG too when stdout is a pipe or a file (never raw bytes to a terminal).
Every problem that can be seen before drawing (a bad extension, a folder as the target,
a missing directory) is refused first, so a mistake costs no work. A file is written
beside its target and renamed over it, so a reader never sees half a picture.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from .app import NetworkOption, SetOption, StrictOption, app, err_console, load_network, usage_error
from .output import check_not_a_source, check_output, write_output, write_stdout


class GraphFormat(str, Enum):
    svg = "svg"
    png = "png"


_SUFFIXES = {f".{member.value}": member for member in GraphFormat}


@app.command()
def graph(
    file: Path = typer.Argument(..., readable=False, help="The .net file.", show_default=False),
    output: Optional[Path] = typer.Option(None, "--output", "-o", show_default=False,
                                          help="Write here (replacing a regular file there, never a device, pipe or "
                                               "link) instead of to stdout; "
                                               "a .svg or .png name picks the format."),
    format: Optional[GraphFormat] = typer.Option(None, "--format", "-f", show_default=False,
                                                 help="svg or png (default: from the -o name, else svg)."),
    collapse: bool = typer.Option(False, "--collapse", help="Draw each block call as one box."),
    columns: Optional[int] = typer.Option(None, "--columns", min=1, show_default=False,
                                          help="Lay the network out in this many columns "
                                               "(default: as many as keep a long network legible)."),
    network: Optional[str] = NetworkOption,
    set_: Optional[list[str]] = SetOption,
    strict: bool = StrictOption,
) -> None:
    """Draw the network: a box per layer with the shape on every arrow, block calls framed,
    branches side by side, residual connections as skip arrows into a +."""
    if output is not None:
        check_output(output, file, f".{(format or GraphFormat.svg).value}")
    chosen = _pick_format(output, format)
    if output is None and chosen is GraphFormat.png and sys.stdout.isatty():
        raise usage_error("a PNG is not written to a terminal; give -o FILE.png or redirect stdout")
    from ..graph.layout import layout  # drawing code is loaded only by this command
    from ..graph.svg import svg

    net = load_network(file, network, set_, strict)
    if output is not None:
        check_not_a_source(output, net.files)
    scene = layout(net, collapse=collapse, columns=columns)
    if chosen is GraphFormat.svg:
        data = svg(scene).encode("utf-8")
    else:
        from ..graph.png import png  # Pillow is imported only for PNG output

        data = png(scene)
    if output is None:
        write_stdout(data)
        return
    write_output(output, data)
    err_console.print(f"wrote {output} ({net.name})", markup=False)


def _pick_format(output: Optional[Path], given: Optional[GraphFormat]) -> GraphFormat:
    """--format where given, else the extension of -o, else SVG; the two must agree."""
    if output is None:
        return given or GraphFormat.svg
    named = _SUFFIXES.get(output.suffix.lower())
    if given is None:
        if named is None:
            raise usage_error(f"cannot tell the format of {output} from its name; "
                              "end it in .svg or .png, or give --format")
        return named
    if named is not None and named is not given:
        raise usage_error(f"--format {given.value} does not match the name {output}")
    return given
