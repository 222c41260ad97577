"""What the Python API's objects look like in a notebook and at a prompt. No torch.

Jupyter asks an object for `_repr_html_` (and `_repr_svg_`, ...) and IPython's prompt for
`_repr_pretty_`; the objects answer through these functions, so that a diagnostic, a
summary or a run looks the same as the command line prints it. Diagnostics keep rustc's
layout (the caret excerpt needs a fixed-width font), drawn by `render.py` and turned into
styled HTML by Rich; a summary becomes a real HTML table, which a notebook can sort out
of the way and a reader can copy.
"""

from __future__ import annotations

from html import escape
from io import StringIO
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from rich.console import Console, RenderableType
from rich.text import Text

from .diagnostics import Diagnostic
from .render import render, summary_line

if TYPE_CHECKING:
    from .compiler import Report

# As wide as the command line's golden files: long source lines scroll rather than wrap.
WIDTH = 100
# Rich's own Jupyter format: the excerpts keep their columns, wide lines scroll.
PRE = ('<pre style="white-space:pre;overflow-x:auto;line-height:normal;'
       "font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace\">{code}</pre>")


def _console(buffer: StringIO, colour: bool) -> Console:
    return Console(file=buffer, width=WIDTH, record=colour, color_system="truecolor" if colour else None,
                   force_terminal=False, force_jupyter=False, highlight=False, soft_wrap=True)


def rich_html(renderables: Iterable[RenderableType]) -> str:
    """Rich renderables as one `<pre>` block with inline colours."""
    console = _console(StringIO(), colour=True)
    for renderable in renderables:
        console.print(renderable)
    return console.export_html(inline_styles=True, code_format=PRE)


def rich_plain(renderables: Iterable[RenderableType]) -> str:
    """Rich renderables as plain text, as a pipe would receive them."""
    buffer = StringIO()
    console = _console(buffer, colour=False)
    for renderable in renderables:
        console.print(renderable)
    return buffer.getvalue().rstrip("\n")


# diagnostics


def outcome_line(name: str, ok: bool, diagnostics: Sequence[Diagnostic], shapes: Sequence[str],
                 suppressed: int = 0) -> Text:
    """`ok lenet.net  LeNet5: 1x32x32 -> 10  (1 warning, 2 suppressed)`, as `cnndsl check` ends."""
    line = Text.assemble(("ok", "bold green") if ok else ("rejected", "bold red"), f" {name}")
    for shape in shapes:
        line.append(f"  {shape}")
    counts = summary_line(diagnostics, suppressed)
    if counts:
        line.append("  (")
        line.append(counts)
        line.append(")")
    return line


def diagnostic_renderables(diagnostics: Sequence[Diagnostic], last: Text) -> list[RenderableType]:
    """Each diagnostic followed by a blank line, then the closing line."""
    out: list[RenderableType] = []
    for diagnostic in diagnostics:
        out += [render(diagnostic), Text()]
    return out + [last]


def report_renderables(report: "Report") -> list[RenderableType]:
    """A check report as `cnndsl check` prints it: the diagnostics, then the outcome."""
    shapes = [f"{net.name}: {shape_text(net.input_shape)} -> {shape_text(net.output_shape)}"
              for net in report.networks]
    return diagnostic_renderables(report.diagnostics, outcome_line(report.name, report.ok, report.diagnostics, shapes,
                                                                   report.suppressed))


# summaries (from the dictionary `cnndsl.summary` returns, as `summary --format json` prints)


def human(n: int) -> str:
    """1.23M, 45.60K, 789."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def byte_size(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def shape_text(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape))


def summary_title(info: Mapping[str, Any]) -> str:
    return f"{info['network']}  {shape_text(info['input'])} -> {shape_text(info['output'])}"


def summary_rows(info: Mapping[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """The table's cells: layer, kind, line, output shape, params, MACs."""
    return [(row["name"], row["layer"], str(row["line"]), shape_text(row["output_shape"]),
             f"{row['params']:,}" if row["params"] else "-", f"{row['macs']:,}" if row["macs"] else "-")
            for row in info["layers"]]


def summary_totals(info: Mapping[str, Any]) -> list[str]:
    return [f"params: {info['total_params']:,} ({human(info['total_params'])}), "
            f"trainable: {info['trainable_params']:,}",
            f"MACs: {info['macs']:,} ({human(info['macs'])}) per sample",
            f"memory: parameters {byte_size(info['param_bytes'])}, activations "
            f"{byte_size(info['activation_bytes'])} per sample (float32)"]


SUMMARY_COLUMNS = (("layer", "left"), ("kind", "left"), ("line", "right"), ("output", "right"),
                   ("params", "right"), ("MACs", "right"))


# A column is as wide as its widest cell up to this; a longer cell (a label of thousands of
# characters, say) runs past its column on its own row instead of widening every row.
MAX_COLUMN_WIDTH = 48
# The table's lines in Unicode box drawing, and in ASCII for a terminal that cannot show it.
UNICODE_RULES = ("┃", "╇", "━", "│")
ASCII_RULES = ("|", "+", "-", "|")


def summary_table(info: Mapping[str, Any], ascii_only: bool = False) -> list[str]:
    """The per-layer table of `cnndsl summary`, as lines: the heading, its rule, a line per
    layer. Laid out here rather than by Rich's Table, which measures and wraps every cell:
    for a network of a thousand layers that was most of `summary`'s time. Nothing is cut short
    on a narrow terminal, and the output stays proportional to the cells' text."""
    heading_bar, cross, rule, bar = ASCII_RULES if ascii_only else UNICODE_RULES
    rows = summary_rows(info)
    widths = [min(MAX_COLUMN_WIDTH, max([len(name), *(len(row[i]) for row in rows)]))
              for i, (name, _) in enumerate(SUMMARY_COLUMNS)]

    def line(cells: Sequence[str], separator: str) -> str:
        return separator.join(f" {cell.rjust(width) if align == 'right' else cell.ljust(width)} "
                              for cell, width, (_, align) in zip(cells, widths, SUMMARY_COLUMNS))

    return [line([name for name, _ in SUMMARY_COLUMNS], heading_bar), cross.join(rule * (width + 2) for width in widths),
            *(line(row, bar) for row in rows)]


def summary_plain(info: Mapping[str, Any]) -> str:
    return "\n".join([summary_title(info), *summary_table(info), *summary_totals(info)])


def summary_html(info: Mapping[str, Any]) -> str:
    """An HTML table with the totals underneath."""
    head = "".join(f'<th style="text-align:{align}">{escape(name)}</th>' for name, align in SUMMARY_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f'<td style="text-align:{align}">{escape(cell)}</td>'
                         for cell, (_, align) in zip(row, SUMMARY_COLUMNS)) + "</tr>"
        for row in summary_rows(info))
    totals = "<br>".join(escape(line) for line in summary_totals(info))
    return (f'<div class="cnndsl-summary"><table><caption style="text-align:left"><b>{escape(info["network"])}</b>'
            f'  {escape(shape_text(info["input"]))} &rarr; {escape(shape_text(info["output"]))}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><p>{totals}</p></div>")


def svg_inline(svg: str) -> str:
    """An SVG document as an element to embed in HTML (without its XML declaration)."""
    return svg.split("?>", 1)[1].lstrip() if svg.startswith("<?xml") else svg
