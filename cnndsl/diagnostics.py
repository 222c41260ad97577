"""Diagnostics are data: a code, a severity, a span, a message, notes and a fix.

They are rendered in exactly two places (`render.py` for people, `as_json` for programs);
passes only ever build them.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable

from .codes import Code, Severity
from .source import Span


@dataclass(frozen=True)
class Label:
    """A secondary span with a short explanation, drawn with `-` under the source."""

    span: Span
    message: str

    def as_json(self) -> dict[str, Any]:
        span = self.span
        return {"file": span.file.name, "line": span.line, "column": span.column, "end_line": span.end_line,
                "end_column": span.end_column, "message": self.message}


class Applicability(str, Enum):
    """How far a fix can be trusted: a safe one is applied by `check --fix`; an unsafe one (it
    may change what the file means beyond the mistake) only with `--unsafe-fixes`."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True)
class Edit:
    """Replace the text of `span` by `text` (an empty span inserts)."""

    span: Span
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.span.line, "column": self.span.column, "end_line": self.span.end_line,
                "end_column": self.span.end_column, "text": self.text}


@dataclass(frozen=True)
class Fix:
    """A mechanical correction: edits to one file, all applied or none."""

    message: str                       # what it does, e.g. "insert `flatten`"
    edits: tuple[Edit, ...]
    applicability: Applicability = Applicability.SAFE

    def as_json(self) -> dict[str, Any]:
        return {"message": self.message, "applicability": self.applicability.value,
                "edits": [edit.as_json() for edit in self.edits]}


def replace(span: Span, text: str, message: str, applicability: Applicability = Applicability.SAFE) -> Fix:
    """A fix of one edit."""
    return Fix(message, (Edit(span, text),), applicability)


def insert_before(statement: Span, text: str, message: str) -> Fix:
    """A fix that puts the statement `text` just before the statement at `statement` (before
    its label, if it has one): on a line of its own, indented alike, when the statement starts
    its line; else on the same line."""
    line = statement.file.line(statement.line)
    start = statement.column - 1
    label = re.search(r"[A-Za-z_][A-Za-z0-9_]*\s*:\s*$", line[:start])
    if label is not None:
        start = label.start()
    before = line[:start]
    at = Span(statement.file, statement.line, start + 1, statement.line, start + 1)
    return Fix(message, (Edit(at, f"{text}\n{before}" if not before.strip() else f"{text} "),))


def remove_line(statement: Span, message: str) -> tuple[Fix, ...]:
    """A fix that deletes the line of the statement at `statement`, when it is alone there
    (a label, a comment and spaces aside); none otherwise."""
    line = statement.file.line(statement.line)
    before, after = line[:statement.column - 1], line[statement.end_column - 1:]
    # anchored checks that stop at the first character out of place: a line of thousands of
    # statements is looked at once per diagnostic, so nothing here may scan all of it
    if statement.end_line != statement.line or after.lstrip()[:1] not in ("", "#") \
            or not re.fullmatch(r"\s*(?:[A-Za-z_][A-Za-z0-9_]*\s*:\s*)*", before):
        return ()
    whole = Span(statement.file, statement.line, 1, statement.line + 1, 1)
    return (Fix(message, (Edit(whole, ""),), Applicability.UNSAFE),)


@dataclass(frozen=True)
class Diagnostic:
    """A finding as data: rendered once for people (render.py) and once as JSON, never raised."""

    code: str
    severity: Severity
    message: str
    span: Span | None
    label: str = ""
    notes: tuple[str, ...] = ()
    help: str | None = None
    secondary: tuple[Label, ...] = field(default=())
    fixes: tuple[Fix, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_error(self) -> "Diagnostic":
        """The same diagnostic promoted to an error (`--strict`)."""
        return dataclasses.replace(self, severity=Severity.ERROR)

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
            "label": self.label,
            "labels": [label.as_json() for label in self.secondary],
            "notes": list(self.notes),
            "help": self.help,
            "fixes": [fix.as_json() for fix in self.fixes],
        }


def error(code: Code, message: str, span: Span | None, label: str = "", *,
          notes: tuple[str, ...] | list[str] = (), help: str | None = None,
          secondary: tuple[Label, ...] | list[Label] = (), fixes: tuple[Fix, ...] = ()) -> Diagnostic:
    """A diagnostic of one of the error codes of `codes.py`."""
    if code.severity is not Severity.ERROR:
        raise ValueError(f"{code} is a warning")
    return Diagnostic(code.code, Severity.ERROR, message, span, label, tuple(notes), help, tuple(secondary), fixes)


def warning(code: Code, message: str, span: Span | None, label: str = "", *,
            notes: tuple[str, ...] | list[str] = (), help: str | None = None,
            secondary: tuple[Label, ...] | list[Label] = (), fixes: tuple[Fix, ...] = ()) -> Diagnostic:
    """A diagnostic of one of the warning codes of `codes.py`."""
    if code.severity is not Severity.WARNING:
        raise ValueError(f"{code} is an error")
    return Diagnostic(code.code, Severity.WARNING, message, span, label, tuple(notes), help, tuple(secondary),
                      fixes)


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


SUGGESTION_POOL = 200  # candidates compared with a misspelt name, the nearest in length first


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The one candidate a misspelt name most likely meant, or None. A close match differs
    little in length, so only the candidates nearest in length are compared, and only so
    many: a file with thousands of names and thousands of typos stays linear."""
    if len(name) > 100:  # no one misspells a name this long
        return None
    near = [c for c in candidates if abs(len(c) - len(name)) <= max(2, len(name) // 2)]
    if len(near) > SUGGESTION_POOL:
        near.sort(key=lambda c: abs(len(c) - len(name)))
        near = near[:SUGGESTION_POOL]
    match = difflib.get_close_matches(name, near, n=1, cutoff=0.6)
    return match[0] if match else None


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """A `did you mean` hint for a misspelt name, or None."""
    match = closest(name, candidates)
    return f"did you mean `{match}`?" if match else None


def rename(span: Span, name: str, candidates: Iterable[str]) -> tuple[str | None, tuple[Fix, ...]]:
    """The `did you mean` help for the name written at `span`, and the fix that writes the
    suggestion there instead (safe: the name was not defined, so nothing meant it)."""
    match = closest(name, candidates)
    if match is None:
        return None, ()
    return f"did you mean `{match}`?", (replace(span, match, f"replace `{name}` by `{match}`"),)
