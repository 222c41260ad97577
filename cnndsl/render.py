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
from .source import Span

_STYLE = {"error": "bold red", "warning": "bold yellow"}
_GUTTER = "bold blue"

EXCERPT_WIDTH = 120   # columns of a source line shown; a longer line is cut around its marks
TEXT_WIDTH = 400      # characters of a message, note or help (names in them come from the file)
MAX_SHOWN = 50        # diagnostics printed; the rest are counted
MAX_LABELS = 8        # secondary labels of one diagnostic (`add` of a thousand branches has one each)
_MORE = "..."


def _underline(span: Span, line_text: str, char: str) -> tuple[int, int]:
    start = span.column - 1
    end = span.end_column - 1 if span.end_line == span.line else len(line_text)
    return start, max(end, start + 1)


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_WIDTH else text[:TEXT_WIDTH] + f"{_MORE} ({len(text):,} characters)"


def _window(text: str, starts: list[int]) -> tuple[int, int]:
    """The columns of `text` to show: all of it when it fits, else EXCERPT_WIDTH columns from
    a little before the first mark, so output stays bounded whatever the line's length."""
    if len(text) <= EXCERPT_WIDTH:
        return 0, len(text)
    first = max(0, min(starts, default=0) - EXCERPT_WIDTH // 6)
    return first, min(len(text), first + EXCERPT_WIDTH)


def render(diagnostic: Diagnostic) -> Text:
    """One diagnostic as styled text (no trailing newline)."""
    severity = diagnostic.severity.value
    style = _STYLE[severity]
    out = Text()
    out.append(f"{severity}[{diagnostic.code}]", style)
    out.append(f": {_clip(diagnostic.message)}", "bold")
    span = diagnostic.span
    marks: list[tuple[Span, str, str, str]] = []
    if span is not None:
        marks.append((span, "^", diagnostic.label, style))
    # labels in this file are drawn under its lines, those in other files (a `use`d one) are
    # named in notes; MAX_LABELS of them in all
    secondary = list(diagnostic.secondary) if span is not None else []
    here = [label for label in secondary if span is not None and label.span.file == span.file][:MAX_LABELS]
    elsewhere = [label for label in secondary if span is not None and label.span.file != span.file]
    elsewhere = elsewhere[:MAX_LABELS - len(here)]
    hidden = len(secondary) - len(here) - len(elsewhere)
    marks += [(label.span, "-", label.message, _GUTTER) for label in here]
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
                    between = span.file.line(previous + 1).replace("\t", " ")
                    out.append(_source_line(span, previous + 1, width, _window(between, [])))
                else:
                    out.append("\n...", _GUTTER)
            text = span.file.line(line).replace("\t", " ")
            marks_here = sorted(by_line[line], key=lambda m: m[1] != "-")
            shown = _window(text, [m[0].column - 1 for m in marks_here])
            out.append(_source_line(span, line, width, shown))
            shift = shown[0] - (len(_MORE) if shown[0] else 0)  # columns cut off, less the "..." shown
            for mark_span, char, message, mark_style in marks_here:
                start, end = _underline(mark_span, text, char)
                # a mark outside the columns shown is drawn at their edge, so no line is longer
                # than the excerpt; its message still says what it is
                start = min(max(start, shown[0]), shown[1])
                end = max(min(end, shown[1]), start + 1)
                out.append(f"\n{pad} | ", _GUTTER)
                out.append(" " * (start - shift))
                out.append(char * (end - start) + (f" {_clip(message)}" if message else ""), mark_style)
            previous = line
        if diagnostic.notes or diagnostic.help or hidden > 0 or elsewhere:
            out.append(f"\n{pad} |", _GUTTER)
    for label in elsewhere:
        out.append(f"\n{pad} = ", _GUTTER)
        out.append("note", "bold")
        out.append(f": {label.span}: {_clip(label.message)}")
    if hidden > 0:
        out.append(f"\n{pad} = ", _GUTTER)
        out.append("note", "bold")
        out.append(f": {hidden:,} more places are involved; the first {MAX_LABELS} are shown")
    for note in diagnostic.notes:
        out.append(f"\n{pad} = ", _GUTTER)
        out.append("note", "bold")
        out.append(f": {_clip(note)}")
    if diagnostic.help:
        out.append(f"\n{pad} = ", _GUTTER)
        out.append("help", "bold")
        out.append(f": {_clip(diagnostic.help)}")
    return out


def _source_line(span: Span, number: int, width: int, shown: tuple[int, int]) -> Text:
    from .highlight import highlight  # Pygments: loaded only when a source line is shown

    text = span.file.line(number).replace("\t", " ")
    line = Text()
    line.append(f"\n{number:>{width}} | ", _GUTTER)
    if shown[0]:
        line.append(_MORE, _GUTTER)
    line.append(highlight(text[shown[0]:shown[1]]))
    if shown[1] < len(text):
        line.append(_MORE, _GUTTER)
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
    """Print the first MAX_SHOWN diagnostics, then how many more there are: a file with
    thousands of mistakes needs the first few fixed, not megabytes of output."""
    items = list(diagnostics)
    for diagnostic in items[:MAX_SHOWN]:
        console.print(render(diagnostic), soft_wrap=True, highlight=False)
        console.print()
    rest = items[MAX_SHOWN:]
    if rest:
        more = Text(f"... and {len(rest):,} more (", "bold")
        more.append(summary_line(rest))
        more.append("); `cnndsl check --format json` lists them all")
        console.print(more, soft_wrap=True, highlight=False)
        console.print()


def plain(diagnostics: Iterable[Diagnostic], width: int = 100) -> str:
    """Deterministic uncoloured rendering, as in the golden files."""
    from io import StringIO

    buffer = StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    print_diagnostics(console, diagnostics)
    return buffer.getvalue()
