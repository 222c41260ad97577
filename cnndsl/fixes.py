"""Applying fixes: the edits diagnostics carry, put into the text of a file.

`check --fix` and the language server's code actions both read `Diagnostic.fixes`; this module
applies them to text. A fix is all of its edits or none; fixes whose edits overlap one already
taken wait for the next round, after the file has been checked again (`fix_file`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from .diagnostics import Applicability, Diagnostic, Fix
from .source import SourceFile

MAX_ROUNDS = 10  # check, fix, check again: a fix can uncover the next mistake (lint runs once errors are gone)


def applicable(diagnostics: Iterable[Diagnostic], file: SourceFile, unsafe: bool) -> list[Fix]:
    """The fixes to apply to `file`: safe ones (and unsafe ones when asked), whose edits all lie
    in `file`; the first of each diagnostic's fixes that qualifies."""
    chosen = []
    for d in diagnostics:
        for fix in d.fixes:
            if (fix.applicability is Applicability.SAFE or unsafe) and all(
                    e.span.file.name == file.name for e in fix.edits):
                chosen.append(fix)
                break
    return chosen


def _offset(starts: list[int], line: int, column: int) -> int:
    return starts[line - 1] + column - 1


def _conflict(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two edits touch the same text: they overlap, one inserts inside the other, or
    both insert at one place (their order would be a guess)."""
    (s1, e1), (s2, e2) = a, b
    return s1 == s2 or (s1 < e2 and s2 < e1) or s1 < s2 < e1 or s2 < s1 < e2


def apply(text: str, fixes: Iterable[Fix]) -> tuple[str, int]:
    """`text` with the fixes applied that do not overlap an earlier one; how many were."""
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    taken: list[tuple[int, int, str]] = []
    applied = 0
    for fix in sorted(fixes, key=lambda f: min((e.span.line, e.span.column) for e in f.edits)):
        ranges = [(_offset(starts, e.span.line, e.span.column), _offset(starts, e.span.end_line, e.span.end_column),
                   e.text) for e in fix.edits]
        if any(_conflict(a[:2], b[:2]) for a in ranges for b in taken):
            continue
        taken += ranges
        applied += 1
    for start, end, replacement in sorted(taken, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text, applied


@dataclass(frozen=True)
class Fixed:
    """The text after every fix that applied, and how many did."""

    text: str
    applied: int


def fix_file(file: SourceFile, check: Callable[[SourceFile], list[Diagnostic]], unsafe: bool = False) -> Fixed:
    """Check, apply what can be fixed, check the new text again, until nothing more applies."""
    text, applied = file.text, 0
    for _ in range(MAX_ROUNDS):
        current = SourceFile(file.name, text, file.path)
        fixes = applicable(check(current), current, unsafe)
        new, count = apply(text, fixes)
        if count == 0 or new == text:
            break
        text, applied = new, applied + count
    return Fixed(text, applied)
