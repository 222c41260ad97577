"""`cnndsl check` and `cnndsl summary`: the static commands. They never import torch."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ..ir import format_shape
from ..display import outcome_line, summary_table, summary_title, summary_totals
from ..render import print_diagnostics
from ..counting import summarize
from ..atomic import atomic_write_bytes
from ..codes import CODES, Severity
from ..compiler import check_file
from ..diagnostics import suggest
from ..fixes import fix_file
from ..parser import read_source
from .app import (EXIT_REJECTED, NetworkOption, SetOption, StrictOption, app, check_path, console,
                  err_console, load_network, parse_sets, usage_error)


class Format(str, Enum):
    text = "text"
    json = "json"


FormatOption = typer.Option(Format.text, "--format", "-f", help="Output format.")


@app.command()
def check(
    files: list[Path] = typer.Argument(..., readable=False, help="The .net files to check.", show_default=False),
    network: Optional[str] = NetworkOption,
    set_: Optional[list[str]] = SetOption,
    strict: bool = StrictOption,
    format: Format = FormatOption,
    ignore: Optional[list[str]] = typer.Option(None, "--ignore", metavar="CODE[,CODE]",
                                               help="Silence the warnings with these codes (or code prefixes, "
                                                    "like W02); repeatable."),
    select: Optional[list[str]] = typer.Option(None, "--select", metavar="CODE[,CODE]",
                                               help="Report only the warnings with these codes (or prefixes); "
                                                    "errors are always reported."),
    ignore_allow: bool = typer.Option(False, "--ignore-allow",
                                      help="Disregard the files' `# allow(CODE)` comments: report every warning."),
    fix: bool = typer.Option(False, "--fix", help="Apply the safe fixes to the files (rewritten atomically), then "
                                                  "report what is left."),
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes", help="With --fix, apply the unsafe fixes too "
                                                                    "(implies --fix)."),
) -> None:
    """Parse, expand, infer every shape and lint; print the diagnostics."""
    ignored = _codes(ignore, "--ignore") or frozenset()
    selected = _codes(select, "--select")
    fixed: dict[Path, int] = {}
    if fix or unsafe_fixes:
        for file in files:
            check_path(file, network, set_, strict)  # a missing file is a usage error before anything is written
            fixed[file] = _fix(file, network, parse_sets(set_), strict, ignored, selected, not ignore_allow,
                               unsafe_fixes)
    reports = [(file, check_path(file, network, set_, strict, every=network is None, ignore=ignored,
                                 select=selected, allows=not ignore_allow)) for file in files]
    ok = all(report.ok for _, report in reports)
    if format is Format.json:
        payload = {
            "ok": ok,
            "diagnostics": [d.as_json() | _file_name(d, file) for file, r in reports for d in r.diagnostics],
            "networks": [{"name": n.name, "input": list(n.input_shape), "output": list(n.output_shape)}
                         for _, r in reports for n in r.networks],
            "suppressed": sum(r.suppressed for _, r in reports),
        } | ({"fixed": sum(fixed.values())} if fix or unsafe_fixes else {})
        console.print_json(json.dumps(payload)) if console.is_terminal else print(json.dumps(payload))
    else:
        for file, report in reports:
            if fixed.get(file):
                console.print(f"fixed {file}: {fixed[file]} fix{'es' if fixed[file] != 1 else ''} applied", markup=False)
            print_diagnostics(err_console, report.diagnostics)
            shapes = [f"{net.name}: {format_shape(net.input_shape)} -> {format_shape(net.output_shape)}"
                      for net in report.networks]
            line = outcome_line(str(file), report.ok, report.diagnostics, shapes, report.suppressed)
            console.print(line)
    raise typer.Exit(0 if ok else EXIT_REJECTED)


def _fix(path: Path, network: Optional[str], overrides: dict, strict: bool, ignore: frozenset[str],
         select: frozenset[str] | None, allows: bool, unsafe: bool) -> int:
    """Apply the fixes of one file until none is left; rewrite it (atomically, keeping its line
    ends and byte order mark) if any applied. Returns how many did."""
    source, _ = read_source(path, str(path))
    if source is None:
        return 0  # unreadable: check reports it
    result = fix_file(source, lambda text: check_file(text, network, overrides, strict, network is None,
                                                      how_to_pick="--network NAME", ignore=ignore, select=select,
                                                      allows=allows).diagnostics, unsafe)
    if result.applied:
        data = path.read_bytes()
        text = result.text.replace("\n", "\r\n") if b"\r\n" in data else result.text
        atomic_write_bytes(path.resolve(), ("\ufeff" if data.startswith(b"\xef\xbb\xbf") else "").encode("utf-8")
                           + text.encode("utf-8"))
    return result.applied


def _codes(values: Optional[list[str]], option: str) -> frozenset[str] | None:
    """`--ignore W0201,W0204 --ignore W0203` as a set; None when the option was not given. Each
    is a warning code, or the start of some (`W02`); only warnings can be silenced, so an error
    code is a usage error, as is a code that does not exist."""
    if not values:
        return None
    codes = frozenset(code.strip().upper() for value in values for code in value.split(",") if code.strip())
    if not codes:  # `--select "$CODES"` with an empty variable would otherwise silence every warning
        raise usage_error(f"{option} names no code; give one or more, such as {option} W0201,W0204")
    warnings = [code for code, info in CODES.items() if info.severity is Severity.WARNING]
    for code in sorted(codes):
        if any(known.startswith(code) for known in warnings):
            continue
        if code in CODES:
            raise usage_error(f"{option}: {code} is an error, and errors cannot be silenced")
        hint = suggest(code, warnings)
        raise usage_error(f"{option}: no warning code is or starts with `{code}`" + (f"; {hint}" if hint else ""))
    return codes


def _file_name(diagnostic, file: Path) -> dict:
    """Diagnostics about a file as a whole (unreadable, no network) still name the file."""
    return {} if diagnostic.span is not None else {"file": str(file)}


@app.command()
def summary(
    file: Path = typer.Argument(..., readable=False, help="The .net file.", show_default=False),
    network: Optional[str] = NetworkOption,
    set_: Optional[list[str]] = SetOption,
    strict: bool = StrictOption,
    format: Format = FormatOption,
) -> None:
    """Per-layer output shapes, parameters and MACs, with totals and memory."""
    net = load_network(file, network, set_, strict)
    payload = summarize(net).as_json()
    if format is Format.json:
        print(json.dumps(payload))
        return
    heading, rule, *rows = summary_table(payload, ascii_only=not console.encoding.lower().startswith("utf"))
    console.print(summary_title(payload), highlight=False, markup=False)
    console.print(heading, style="bold", highlight=False, markup=False)
    console.out("\n".join([rule, *rows, *summary_totals(payload)]), highlight=False)
