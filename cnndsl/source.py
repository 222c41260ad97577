"""Source files and spans.

Every node of the syntax tree and of the IR points back into the text it came from, so
that a diagnostic raised ten passes later can still underline the exact characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path


def encoded_size(text: str) -> int:
    """Bytes of `text` in UTF-8, as the size limits count them (a lone surrogate, which a
    decoder then refuses, as the three bytes it would be written as)."""
    return len(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class SourceFile:
    """The text of one `.net` file and the name it is shown under."""

    name: str
    text: str
    path: Path | None = field(default=None, compare=False)

    def line(self, number: int) -> str:
        """Line `number` (1-based) without its newline; empty past the end. Constant time
        once the line starts are known: a diagnostic does not split the whole file."""
        starts = self._line_starts
        if not 1 <= number <= len(starts):
            return ""
        if number < len(starts):
            end = starts[number] - 1
        else:
            end = len(self.text) - 1 if self.text.endswith("\n") else len(self.text)
        return self.text[starts[number - 1]:end]

    @cached_property
    def size(self) -> int:
        """Bytes in UTF-8: the file-size limit counts these, wherever the text came from."""
        return encoded_size(self.text)

    @property
    def line_count(self) -> int:
        return len(self._line_starts)

    @cached_property
    def _line_starts(self) -> list[int]:
        """Where each line starts; the text's newlines are `\n` only (the reader normalises
        them), and a final newline does not start another line, as with `splitlines`."""
        if not self.text:
            return []
        starts = [0]
        find = self.text.find
        index = find("\n")
        while index != -1:
            starts.append(index + 1)
            index = find("\n", index + 1)
        if starts[-1] == len(self.text) and len(starts) > 1:
            starts.pop()
        return starts


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
