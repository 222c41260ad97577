"""Diagnostics for people: rustc's anatomy, drawn once, with Rich.

    error[E0101]: shape assertion does not hold: inferred 16x10x10, asserted 16x12x12
      --> lenet.net:6:23
       |
     6 |     conv(16, 5)       -> 16x12x12
       |     ----------- produces 16x10x10
       |                          ^^^^^^^^ asserted here
       |
       = note: H = (14 - 5 + 2*0)/1 + 1 = 10, W = (14 - 5 + 2*0)/1 + 1 = 10
       = help: write `-> 16x10x10`, or change the layer
"""

from __future__ import annotations

from typing import Iterable

from rich.console import Console
from rich.text import Text

from .diagnostics import Diagnostic
from .highlight import highlight
from .source import Span

_STYLE = {"error": "bold red", "warning": "bold yellow"}
_GUTTER = "bold blue"


def _underline(span: Span, line_text: str, char: str) -> tuple[int, int]:
    start = span.column - 1
    end = span.end_column - 1 if span.end_line == span.line else len(line_text)
    return start, max(end, start + 1)


def render(diagnostic: Diagnostic) -> Text:
    """One diagnostic as styled text (no trailing newline)."""
    severity = diagnostic.severity.value
    style = _STYLE[severity]
    out = Text()
    out.append(f"{severity}[{diagnostic.code}]", style)
    out.append(f": {diagnostic.message}", "bold")
    span = diagnostic.span
    marks: list[tuple[Span, str, str, str]] = []
    if span is not None:
        marks.append((span, "^", diagnostic.label, style))
    marks += [(label.span, "-", label.message, _GUTTER) for label in diagnostic.secondary
              if span is not None and label.span.file == span.file]
    width = max((len(str(m[0].line)) for m in marks), default=1)
    pad = " " * width
    if span is not None:
        out.append(f"\n{pad}--> ", _GUTTER)
        out.append(f"{span.file.name}:{span.line}:{span.column}")
        out.append(f"\n{pad} |", _GUTTER)
        by_line: dict[int, list[tuple[Span, str, str, str]]] = {}
        for mark in marks:
            by_line.setdefault(mark[0].line, []).append(mark)
        previous = None
        for line in sorted(by_line):
            if previous is not None and line - previous > 1:
                if line - previous == 2:
                    out.append(_source_line(span, previous + 1, width))
                else:
                    out.append("\n...", _GUTTER)
            out.append(_source_line(span, line, width))
            text = span.file.line(line).replace("\t", " ")
            for mark_span, char, message, mark_style in sorted(by_line[line], key=lambda m: m[1] != "-"):
                start, end = _underline(mark_span, text, char)
                out.append(f"\n{pad} | ", _GUTTER)
                out.append(" " * start)
                out.append(char * (end - start) + (f" {message}" if message else ""), mark_style)
            previous = line
        if diagnostic.notes or diagnostic.help:
            out.append(f"\n{pad} |", _GUTTER)
    for note in diagnostic.notes:
        out.append(f"\n{pad} = ", _GUTTER)
        out.append("note", "bold")
        out.append(f": {note}")
    if diagnostic.help:
        out.append(f"\n{pad} = ", _GUTTER)
        out.append("help", "bold")
        out.append(f": {diagnostic.help}")
    return out


def _source_line(span: Span, number: int, width: int) -> Text:
    line = Text()
    line.append(f"\n{number:>{width}} | ", _GUTTER)
    line.append(highlight(span.file.line(number).replace("\t", " ")))
    line.rstrip()
    return line


def summary_line(diagnostics: Iterable[Diagnostic], suppressed: int = 0) -> Text:
    """`2 errors, 1 warning, 3 suppressed` style closing line; empty when there is nothing to
    say. Silenced warnings are counted, never silently lost."""
    items = list(diagnostics)
    errors = sum(d.is_error for d in items)
    warnings = len(items) - errors
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    if suppressed:
        parts.append(f"{suppressed} suppressed")
    return Text(", ".join(parts), "bold")


def print_diagnostics(console: Console, diagnostics: Iterable[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        console.print(render(diagnostic), soft_wrap=True, highlight=False)
        console.print()


def plain(diagnostics: Iterable[Diagnostic], width: int = 100) -> str:
    """Deterministic uncoloured rendering, as in the golden files."""
    from io import StringIO

    buffer = StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    print_diagnostics(console, diagnostics)
    return buffer.getvalue()
