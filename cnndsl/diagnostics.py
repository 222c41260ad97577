"""Diagnostics are data: a code, a severity, a span, a message, notes and a fix.

They are rendered in exactly two places (`render.py` for people, `as_json` for programs);
passes only ever build them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable

from .source import Span


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Label:
    """A secondary span with a short explanation, drawn with `-` under the source."""

    span: Span
    message: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span | None
    label: str = ""
    notes: tuple[str, ...] = ()
    help: str | None = None
    secondary: tuple[Label, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_error(self) -> "Diagnostic":
        """The same diagnostic promoted to an error (`--strict`)."""
        return Diagnostic(self.code, Severity.ERROR, self.message, self.span, self.label,
                          self.notes, self.help, self.secondary)

    def as_json(self) -> dict[str, Any]:
        span = self.span
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "file": span.file.name if span else None,
            "line": span.line if span else None,
            "column": span.column if span else None,
            "end_line": span.end_line if span else None,
            "end_column": span.end_column if span else None,
            "notes": list(self.notes),
            "help": self.help,
        }


def error(code: str, message: str, span: Span | None, label: str = "", *,
          notes: tuple[str, ...] | list[str] = (), help: str | None = None,
          secondary: tuple[Label, ...] | list[Label] = ()) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, label, tuple(notes), help, tuple(secondary))


def warning(code: str, message: str, span: Span | None, label: str = "", *,
            notes: tuple[str, ...] | list[str] = (), help: str | None = None,
            secondary: tuple[Label, ...] | list[Label] = ()) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, span, label, tuple(notes), help, tuple(secondary))


class Diagnostics:
    """An append-only collector handed to each pass (the explicit context object)."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []
        self._seen: set = set()

    def add(self, diagnostic: Diagnostic) -> None:
        """Keep the first diagnostic of a code at a span: a mistake inside a block called
        five times is one mistake."""
        key = (diagnostic.code, diagnostic.span, None if diagnostic.span else diagnostic.message)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(diagnostic)

    def extend(self, diagnostics: "Diagnostics | list[Diagnostic]") -> None:
        for d in (diagnostics.items if isinstance(diagnostics, Diagnostics) else diagnostics):
            self.add(d)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """A `did you mean` hint for a misspelt name, or None."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`?" if match else None
