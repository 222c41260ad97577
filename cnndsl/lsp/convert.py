"""Between cnndsl's data and the protocol's: positions, ranges, locations and diagnostics.

A `Span` counts 1-based lines and columns in characters; the protocol counts from 0, in the
code units the client and server agreed on (UTF-16 unless the client offers another), so every
crossing goes through the session's `PositionCodec`.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.workspace import PositionCodec

from .. import syntax as S
from ..codes import CODES
from ..diagnostics import Diagnostic, Severity
from ..source import SourceFile, Span

_SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning}
SOURCE = "cnndsl"


def uri_of(file: SourceFile) -> str | None:
    return file.path.resolve().as_uri() if file.path is not None else None


class Positions:
    """Position conversion for the files of one request, each file's lines split once."""

    def __init__(self, codec: PositionCodec) -> None:
        self.codec = codec
        self._lines: dict[int, tuple[SourceFile, list[str]]] = {}

    def lines(self, file: SourceFile) -> list[str]:
        kept = self._lines.get(id(file))
        if kept is None or kept[0] is not file:
            kept = (file, file.text.split("\n"))
            self._lines[id(file)] = kept
        return kept[1]

    def position(self, file: SourceFile, line: int, column: int) -> types.Position:
        return self.codec.position_to_client_units(self.lines(file), types.Position(line - 1, column - 1))

    def start(self, span: Span) -> types.Position:
        return self.position(span.file, span.line, span.column)

    def end(self, span: Span) -> types.Position:
        return self.position(span.file, span.end_line, span.end_column)

    def range(self, span: Span) -> types.Range:
        return types.Range(self.start(span), self.end(span))

    def from_client(self, file: SourceFile, position: types.Position) -> tuple[int, int]:
        """A client position as (line, column), 1-based characters."""
        at = self.codec.position_from_client_units(self.lines(file), types.Position(position.line, position.character))
        return at.line + 1, at.character + 1

    def location(self, span: Span) -> types.Location | None:
        uri = uri_of(span.file)
        return types.Location(uri, self.range(span)) if uri is not None else None


def _text(d: Diagnostic) -> str:
    """The message with its label, notes and help, as lines (editors show them under it)."""
    lines = [d.message + (f" ({d.label})" if d.label else "")]
    lines += [f"note: {note}" for note in d.notes if note]
    if d.help:
        lines.append(f"help: {d.help}")
    return "\n".join(lines)


def _use_of(module: S.Module | None, file: SourceFile) -> S.Use | None:
    """The `use` of `module` that brings in `file`: the one naming it, else the first (the
    file then comes in through a chain of `use`s)."""
    if module is None or not module.uses:
        return None
    base = module.file.path.parent if module.file.path else Path.cwd()
    target = file.path.resolve() if file.path else None
    return next((u for u in module.uses if (base / u.path).resolve() == target), module.uses[0])


def diagnostic(d: Diagnostic, document: SourceFile, module: S.Module | None, positions: Positions) -> types.Diagnostic:
    """One diagnostic about `document`. One whose span lies in a `use`d file is shown on the
    `use` line that brings that file in, with the exact place as related information; one
    without a span (about the file as a whole) on the first character."""
    related = [types.DiagnosticRelatedInformation(location, label.message)
               for label in d.secondary if (location := positions.location(label.span)) is not None]
    message = _text(d)
    span = d.span
    if span is not None and span.file is not document and span.file.path != document.path:
        elsewhere = positions.location(span)
        if elsewhere is not None:
            related.insert(0, types.DiagnosticRelatedInformation(elsewhere, d.label or d.message))
        message = f"in {span.file.name}:{span.line}:{span.column}: {message}"
        use = _use_of(module, span.file)
        span = use.span if use is not None else None
    where = positions.range(span) if span is not None else types.Range(types.Position(0, 0), types.Position(0, 0))
    return types.Diagnostic(range=where, message=message, severity=_SEVERITY[d.severity], code=d.code,
                            code_description=_description(d.code), source=SOURCE,
                            related_information=related or None)


ERRORS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"  # in a source checkout


def _description(code: str) -> types.CodeDescription | None:
    """A link to the code's entry in docs/errors.md, where the docs are beside the package."""
    info = CODES.get(code)
    if info is None or not ERRORS.is_file():
        return None
    return types.CodeDescription(f"{ERRORS.as_uri()}#{info.anchor}")
