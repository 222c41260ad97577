"""Silence: diagnostics -> the warnings the user did not silence, and how many they did.

Warnings are silenced three ways, the first two from the command line, the third in the file:
`--select CODE,...` keeps only the warnings whose code starts with one of the given codes,
`--ignore CODE,...` drops those whose code does, and a comment `# allow(CODE, ...)` drops them
where it stands. At the end of a line it covers the statements that start on that line, all of
them and all of each (a `residual {` line: the whole residual); on a line of its own it covers
what starts on the next line of code, so above `block` or `network` the whole definition. Text after the closing
parenthesis is the reason, for the reader.

Errors are never silenced: the file would still be rejected. Every silenced warning is counted
(the summary line says how many). An `allow` that silences nothing, names an error or names no
code is itself a warning (W0205), in the file that was checked, and only when checking it
found no error and read every network (otherwise some warnings were never looked for).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .. import codes, syntax as S
from ..codes import CODES, Severity
from ..diagnostics import Diagnostic, suggest, warning
from ..source import SourceFile, Span

_ALLOW = re.compile(r"#\s*allow\s*\(([^)]*)\)")


@dataclass(frozen=True)
class Allow:
    """An `# allow(...)` comment and the statement it covers."""

    codes: tuple[str, ...]
    span: Span            # the `allow(...)` itself
    region: Span          # what it covers


@dataclass(frozen=True)
class Silenced:
    """The diagnostics left to show, and how many `allow`, `--ignore` or `--select` hid."""

    kept: tuple[Diagnostic, ...]
    suppressed: int


def _comment_start(line: str) -> int | None:
    """The column (0-based) where the line's comment begins, outside strings."""
    in_string = False
    for index, char in enumerate(line):
        if char == '"':
            in_string = not in_string
        elif char == "#" and not in_string:
            return index
    return None


def _items(module: S.Module) -> list[Span]:
    """The spans an `allow` can cover: definitions and every statement in them."""
    spans = []
    definitions: list[S.Block | S.Network] = [*module.blocks, *module.networks]
    for definition in definitions:
        spans.append(definition.span)
        spans += [stmt.span for stmt in S.walk(definition.body)]
    return spans


def _whole_line(file: SourceFile, line: int) -> Span:
    return Span(file, line, 1, line, len(file.line(line)) + 1)


def allows(module: S.Module) -> list[Allow]:
    """The `# allow(...)` comments of a parsed file, each with the region it covers."""
    file = module.file
    lines = file.text.split("\n")
    starting: dict[int, Span] = {}  # by line: from the first statement starting there to the end of the last
    for span in _items(module):
        starting[span.line] = starting[span.line].to(span) if span.line in starting else span
    next_code = [0] * (len(lines) + 2)  # by line: the first line of code after it (0: none), found in one pass
    for number in range(len(lines), 0, -1):
        next_code[number] = number + 1 if number < len(lines) and _is_code(lines[number]) else next_code[number + 1]
    found = []
    for number, text in enumerate(lines, start=1):
        column = _comment_start(text)
        match = _ALLOW.match(text, column) if column is not None else None
        if column is None or match is None:
            continue
        codes = tuple(c.strip() for c in match.group(1).split(",") if c.strip())
        span = Span(file, number, column + 1, number, match.end() + 1)
        target = number
        if not text[:column].strip():  # on a line of its own: what the next line of code starts
            target = next_code[number] or number
        found.append(Allow(codes, span, starting.get(target) or _whole_line(file, target)))
    return found


def _is_code(line: str) -> bool:
    return bool(line.strip()) and not line.strip().startswith("#")


_Region = tuple[str, int, int, int, int]  # file name, line, column, end line, end column


def _region(span: Span) -> _Region:
    return span.file.name, span.line, span.column, span.end_line, span.end_column


def _matches(code: str, selectors: Iterable[str]) -> bool:
    return any(code.startswith(s) for s in selectors)


def silence(diagnostics: Iterable[Diagnostic], modules: Iterable[S.Module], root: SourceFile | None,
            ignore: frozenset[str] = frozenset(), select: frozenset[str] | None = None,
            complete: bool = True) -> Silenced:
    """Drop the silenced warnings of `diagnostics`; `modules` are the parsed files whose `allow`s
    apply; `root` is the file checked, whose unused `allow`s are reported when `complete` (the
    check found no error and read every network)."""
    found = [allow for module in modules for allow in allows(module)]
    # Allows are grouped by the region they cover and the code they name (a thousand stacked
    # `# allow` lines above one network are one group), and each region is indexed by the lines
    # it takes in: regions nest only as deep as statements do, so the index grows with the file.
    groups: dict[_Region, dict[str, list[int]]] = {}
    for index, allow in enumerate(found):
        for code in allow.codes:
            groups.setdefault(_region(allow.region), {}).setdefault(code, []).append(index)
    by_line: dict[tuple[str, int], list[_Region]] = {}
    for region in groups:
        for line in range(region[1], region[3] + 1):
            by_line.setdefault((region[0], line), []).append(region)
    used_groups: set[tuple[_Region, str]] = set()
    kept: list[Diagnostic] = []
    suppressed = 0
    for d in diagnostics:
        if d.severity is Severity.ERROR:
            kept.append(d)
            continue
        silenced = (select is not None and not _matches(d.code, select)) or _matches(d.code, ignore)
        span = d.span
        if span is not None:
            for region in by_line.get((span.file.name, span.line), ()):
                if d.code in groups[region] and region[1:3] <= (span.line, span.column) <= region[3:]:
                    used_groups.add((region, d.code))
                    silenced = True
        if silenced:
            suppressed += 1
        else:
            kept.append(d)
    used = {(index, code) for region, code in used_groups for index in groups[region][code]}
    if complete and root is not None:
        for index, allow in enumerate(found):
            if allow.span.file.name != root.name:
                continue
            for problem in _unused(allow, index, used):
                if (select is None or _matches(problem.code, select)) and not _matches(problem.code, ignore):
                    kept.append(problem)
                else:
                    suppressed += 1
    return Silenced(tuple(kept), suppressed)


def _unused(allow: Allow, index: int, used: set[tuple[int, str]]) -> list[Diagnostic]:
    if not allow.codes:
        return [warning(codes.W0205, "`allow` names no code", allow.span, "nothing to allow",
                        help="name the warning to allow, e.g. `# allow(W0204)`, or remove the comment")]
    problems = []
    for code in allow.codes:
        if code not in CODES:
            problems.append(warning(codes.W0205, f"`{code}` is not a diagnostic code", allow.span, "not a code",
                                    help=suggest(code, [c for c, v in CODES.items() if v.severity is Severity.WARNING])
                                    or "the warning codes are listed in docs/errors.md"))
        elif CODES[code].severity is Severity.ERROR:
            problems.append(warning(codes.W0205, f"`allow` cannot silence the error {code}", allow.span,
                                    "errors cannot be allowed", help="fix the error; only warnings can be allowed"))
        elif (index, code) not in used:
            problems.append(warning(codes.W0205, f"`allow({code})` silences nothing", allow.span, "no such warning here",
                                    help="remove it, or move it onto the statement that has the warning"))
    return problems
