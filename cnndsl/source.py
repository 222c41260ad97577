"""Source files and spans.

Every node of the syntax tree and of the IR points back into the text it came from, so
that a diagnostic raised ten passes later can still underline the exact characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourceFile:
    """The text of one `.net` file and the name it is shown under."""

    name: str
    text: str
    path: Path | None = field(default=None, compare=False)

    def line(self, number: int) -> str:
        """Line `number` (1-based) without its newline; empty past the end."""
        lines = self.text.splitlines()
        return lines[number - 1] if 1 <= number <= len(lines) else ""

    @property
    def line_count(self) -> int:
        return len(self.text.splitlines())


@dataclass(frozen=True)
class Span:
    """A region of a source file: 1-based lines and columns, end column exclusive."""

    file: SourceFile = field(repr=False)
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(file: SourceFile, line: int, column: int) -> "Span":
        return Span(file, line, column, line, column + 1)

    def to(self, other: "Span") -> "Span":
        """The smallest span covering `self` and `other` (both in the same file)."""
        start = min((self.line, self.column), (other.line, other.column))
        end = max((self.end_line, self.end_column), (other.end_line, other.end_column))
        return Span(self.file, start[0], start[1], end[0], end[1])

    def __str__(self) -> str:
        return f"{self.file.name}:{self.line}:{self.column}"
