"""`cnndsl check` and `cnndsl summary`: the static commands. They never import torch."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from ..ir import format_shape
from ..render import print_diagnostics, summary_line
from ..counting import summarize
from .app import (EXIT_REJECTED, NetworkOption, SetOption, StrictOption, app, check_path, console,
                  err_console, load_network)


class Format(str, Enum):
    text = "text"
    json = "json"


FormatOption = typer.Option(Format.text, "--format", "-f", help="Output format.")


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="The .net files to check.", show_default=False),
    network: Optional[str] = NetworkOption,
    set_: Optional[list[str]] = SetOption,
    strict: bool = StrictOption,
    format: Format = FormatOption,
) -> None:
    """Parse, expand, infer every shape and lint; print the diagnostics."""
    reports = [(file, check_path(file, network, set_, strict, every=network is None)) for file in files]
    ok = all(report.ok for _, report in reports)
    if format is Format.json:
        payload = {
            "ok": ok,
            "diagnostics": [d.as_json() | _file_name(d, file) for file, r in reports for d in r.diagnostics],
            "networks": [{"name": n.name, "input": list(n.input_shape), "output": list(n.output_shape)}
                         for _, r in reports for n in r.networks],
        }
        console.print_json(json.dumps(payload)) if console.is_terminal else print(json.dumps(payload))
    else:
        for file, report in reports:
            print_diagnostics(err_console, report.diagnostics)
            counts = summary_line(report.diagnostics)
            if report.ok:
                line = Text.assemble(("ok", "bold green"), f" {file}")
                for net in report.networks:
                    line.append(f"  {net.name}: {format_shape(net.input_shape)} -> {format_shape(net.output_shape)}")
            else:
                line = Text.assemble(("rejected", "bold red"), f" {file}")
            if counts:
                line.append("  (")
                line.append(counts)
                line.append(")")
            console.print(line)
    raise typer.Exit(0 if ok else EXIT_REJECTED)


def _file_name(diagnostic, file: Path) -> dict:
    """Diagnostics about a file as a whole (unreadable, no network) still name the file."""
    return {} if diagnostic.span is not None else {"file": str(file)}


def _human(n: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


@app.command()
def summary(
    file: Path = typer.Argument(..., help="The .net file.", show_default=False),
    network: Optional[str] = NetworkOption,
    set_: Optional[list[str]] = SetOption,
    strict: bool = StrictOption,
    format: Format = FormatOption,
) -> None:
    """Per-layer output shapes, parameters and MACs, with totals and memory."""
    net = load_network(file, network, set_, strict)
    info = summarize(net)
    if format is Format.json:
        print(json.dumps(info.as_json()))
        return
    table = Table(title=f"{net.name}  {format_shape(net.input_shape)} -> {format_shape(net.output_shape)}",
                  title_justify="left", show_edge=False, header_style="bold")
    table.add_column("layer")
    table.add_column("kind")
    table.add_column("line", justify="right")
    table.add_column("output", justify="right")
    table.add_column("params", justify="right")
    table.add_column("MACs", justify="right")
    for row in info.rows:
        table.add_row(row.name, row.layer, str(row.line), format_shape(row.output_shape),
                      f"{row.params:,}" if row.params else "-", f"{row.macs:,}" if row.macs else "-")
    console.print(table)
    console.print(
        f"params: {info.total_params:,} ({_human(info.total_params)}), trainable: {info.trainable_params:,}\n"
        f"MACs: {info.macs:,} ({_human(info.macs)}) per sample\n"
        f"memory: parameters {_bytes(info.param_bytes)}, activations {_bytes(info.activation_bytes)} per sample "
        "(float32)")
