"""`cnndsl fmt`: one canonical layout for `.net` files.

The text is printed from the syntax tree, so it parses back to the same tree by
construction. What the tree leaves out comes from the source: the comments, blank lines
(a run of them is kept as one), how each float was spelt, and whether a repeat was written
`stmt * N` or `repeat N { ... }`.

The layout: four spaces per level; one statement per line; braces on the line of their
keyword; `name=value` keyword arguments and `name = value` parameters; `, ` between arguments; shapes compact
(`3x32x32`) when every dimension is an integer literal and in brackets otherwise; the `->`
of one-line shape assertions in one column per body, and trailing comments in another;
a blank line around every block and network definition.

Comments stay with their code: a comment on its own line stays before the statement that
follows it, one at the end of a line stays at the end of that statement's line (of its first
line, for a construct that was written on one line). A comment inside a statement that is
printed on one line (between the arguments of a call that was split over lines, say) moves
to its own line above that statement.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from functools import partial
from itertools import count, pairwise
from typing import Callable, Sequence

from lark import Token

from . import codes, limits, syntax as S
from .diagnostics import Diagnostic, error
from .parser import parse_keeping
from .source import SourceFile, Span, encoded_size

Pos = tuple[int, int]  # (line, column), 1-based as in `Span`

INDENT = "    "
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2}
_UNARY, _ATOM = 3, 4  # binding strengths above the binary operators'


def format_source(file: SourceFile) -> tuple[str | None, list[Diagnostic]]:
    """The canonical text of `file`, or None with the syntax error, or with E0004 when the
    layout would take the file past the size limit (26,000 `relu;` on one line become as many
    indented lines): a formatter must not turn a file that checks into one that is refused."""
    module, problems, tokens = parse_keeping(file, ("COMMENT", "LBRACE", "RBRACE"))
    if module is None:
        return None, problems
    printer = _Printer(file, tokens)
    printer.module(module)
    text = printer.render()
    size = encoded_size(text)
    if size > limits.MAX_FILE_BYTES:
        return None, [error(codes.E0004, f"formatted, {file.name} would be {size:,} bytes; the limit is "
                            f"{limits.MAX_FILE_BYTES:,}", None, help="split the network into blocks or files, "
                            "or keep this file as it is")]
    return text, []


@dataclass
class _Row:
    """One printed line of code, with the source positions of its first token and just
    past its last: the comments of the source are placed by these."""

    depth: int
    text: str
    first: Pos
    end: Pos
    group: int                      # the rows of one body; columns are aligned per group
    shape: str = ""                 # a one-line assertion's shape, printed in the `->` column
    opens: bool = False             # ends with `{`
    closes: bool = False            # starts with `}`
    starts_definition: bool = False
    ends_definition: bool = False
    comment: str = ""               # at the end of the line
    opener: _Row | None = None      # of a closing row: the row that opened its construct


@dataclass(frozen=True)
class _Comment:
    """A comment printed on a line of its own."""

    depth: int
    text: str
    line: int


@dataclass(frozen=True)
class _Part:
    """One braced section of a construct: `residual { ... }`, `shortcut { ... }`, `branch { ... }`."""

    head: str
    lbrace: Pos
    rbrace: Pos
    size: int                       # statements, branches or settings inside
    contents: Callable[[int], None]  # prints them at the given depth


def _start(span: Span) -> Pos:
    return span.line, span.column


def _end(span: Span) -> Pos:
    return span.end_line, span.end_column


def _position(token: Token) -> Pos:
    assert token.line is not None and token.column is not None  # the lexer sets both
    return token.line, token.column


def _past(pos: Pos) -> Pos:
    """Just past the one-character token at `pos`."""
    return pos[0], pos[1] + 1


class _Printer:
    """Prints a module as rows, then merges the comments in and lays out the columns."""

    def __init__(self, file: SourceFile, tokens: Sequence[Token]) -> None:
        self.lines = file.text.split("\n")  # Lark counts lines by "\n" alone
        self.lbraces = [_position(t) for t in tokens if t.type == "LBRACE"]
        self.rbraces = [_position(t) for t in tokens if t.type == "RBRACE"]
        self.comments = [(_position(t), str(t).rstrip()) for t in tokens if t.type == "COMMENT"]
        self.comment_starts = [pos for pos, _ in self.comments]
        self.blank_lines_upto = [0]
        for line in self.lines:
            self.blank_lines_upto.append(self.blank_lines_upto[-1] + (not line.strip()))
        self.rows: list[_Row] = []
        self.groups = count()

    # ---- source queries -------------------------------------------------------------------

    @staticmethod
    def _next(positions: list[Pos], after: Pos) -> Pos:
        return positions[bisect_left(positions, after)]

    def _has_comment(self, first: Pos, end: Pos) -> bool:
        i = bisect_left(self.comment_starts, first)
        return i < len(self.comment_starts) and self.comment_starts[i] < end

    def _blank_between(self, above: int, below: int) -> bool:
        """Whether a blank source line lies strictly between lines `above` and `below`."""
        return below - 1 > above and self.blank_lines_upto[below - 1] > self.blank_lines_upto[above]

    def _text(self, span: Span) -> str:
        return self.lines[span.line - 1][span.column - 1:span.end_column - 1]

    # ---- expressions ----------------------------------------------------------------------

    def expr(self, e: S.Expr, context: int = 0) -> str:
        """`e` with the parentheses that its place (binding strength `context`) needs."""
        level = _ATOM
        match e:
            case S.Literal(value=bool() as value):
                text = "true" if value else "false"
            case S.Literal(value=float()):
                text = self._text(e.span)
            case S.Literal(value=str() as value):
                text = f'"{value}"'
            case S.Literal(value=value):
                text = str(value)
            case S.Name(id=name):
                text = name
            case S.TupleExpr(items=items):
                text = "(" + ", ".join(self.expr(item) for item in items) + ("," if len(items) == 1 else "") + ")"
            case S.Unary(op=op, operand=operand):
                level = _UNARY
                text = op + self.expr(operand, _UNARY)
            case S.Binary(op=op, left=left, right=right):
                level = _PRECEDENCE[op]
                text = f"{self.expr(left, level)} {op} {self.expr(right, level + 1)}"
        return f"({text})" if level < context else text

    def shape(self, shape: S.Shape, bracketed: bool = False) -> str:
        """`3x32x32` when every dimension is an integer literal, else (or when `bracketed`, as
        before a ` * N` that a compact shape would read as its own) `[C, H, W]`."""
        integers = [str(d.value) for d in shape.dims if isinstance(d, S.Literal) and type(d.value) is int]
        if len(integers) == len(shape.dims) and not bracketed:
            return "x".join(integers)
        return "[" + ", ".join(self.expr(d) for d in shape.dims) + "]"

    def _arguments(self, args: tuple[S.Arg, ...]) -> str:
        if not args:
            return ""
        return "(" + ", ".join(self.expr(a.value) if a.name is None else f"{a.name}={self.expr(a.value)}"
                               for a in args) + ")"

    def _params(self, params: tuple[S.Param, ...]) -> str:
        if not params:
            return ""
        return "(" + ", ".join(p.name if p.default is None else f"{p.name} = {self.expr(p.default)}"
                               for p in params) + ")"

    # ---- statements -----------------------------------------------------------------------

    def module(self, module: S.Module) -> None:
        group = next(self.groups)
        items: list[S.Use | S.Block | S.Network] = sorted((*module.uses, *module.blocks, *module.networks),
                                                          key=lambda item: _start(item.span))
        for item in items:
            if isinstance(item, S.Use):
                self.rows.append(_Row(0, f'use "{item.path}"', _start(item.span), _end(item.span), group))
                continue
            keyword = "network" if isinstance(item, S.Network) else "block"
            body = self._part(f"{keyword} {item.name}{self._params(item.params)}", _end(item.name_span),
                              item.body, partial(self._statements, item.body))
            self._construct(0, group, "", [body], "", _start(item.span), _end(item.span), definition=True)

    def _statements(self, stmts: tuple[S.Stmt, ...], depth: int) -> None:
        group = next(self.groups)
        for stmt in stmts:
            self._statement(stmt, depth, group)

    def _statement(self, stmt: S.Stmt, depth: int, group: int) -> None:
        first, end = _start(stmt.span), _end(stmt.span)
        if isinstance(stmt, S.Assertion) and (left := self._inline(stmt.stmt)) is not None:
            self.rows.append(_Row(depth, left, first, end, group, shape=self.shape(stmt.shape)))
        elif (text := self._inline(stmt)) is not None:
            self.rows.append(_Row(depth, text, first, end, group))
        else:
            self._braced(stmt, depth, group, "", "", first, end)

    @staticmethod
    def _is_times(stmt: S.Repeat) -> bool:
        """`stmt * N` starts where its statement does; `repeat N { ... }` starts at `repeat`."""
        return len(stmt.body) == 1 and _start(stmt.body[0].span) == _start(stmt.span)

    def _inline(self, stmt: S.Stmt, bracketed: bool = False) -> str | None:
        """The statement on one line, or None when it holds a braced construct. `bracketed`:
        an `input` shape is written in brackets, because a ` * N` follows it (an assertion
        cannot be repeated that way: after `->` the rest of the statement is the shape)."""
        match stmt:
            case S.Call(name=name, args=args):
                return name + self._arguments(args)
            case S.Input(shape=shape):
                return f"input {self.shape(shape, bracketed)}"
            case S.Labeled(label=label, stmt=inner):
                text = self._inline(inner, bracketed)
                return None if text is None else f"{label}: {text}"
            case S.Assertion(stmt=inner, shape=shape):
                text = self._inline(inner)
                return None if text is None else f"{text} -> {self.shape(shape)}"
            case S.Repeat(count=times, body=(inner,)) if self._is_times(stmt):
                text = self._inline(inner, bracketed=True)
                return None if text is None else f"{text} * {self.expr(times, _ATOM)}"
        return None

    def _braced(self, stmt: S.Stmt, depth: int, group: int, prefix: str, suffix: str, first: Pos, end: Pos) -> None:
        """A statement holding braces: labels before it and `-> SHAPE` or `* N` after it
        go on its first and last lines."""
        match stmt:
            case S.Labeled(label=label, stmt=inner):
                self._braced(inner, depth, group, f"{prefix}{label}: ", suffix, first, end)
            case S.Assertion(stmt=inner, shape=shape):
                self._braced(inner, depth, group, prefix, f" -> {self.shape(shape)}{suffix}", first, end)
            case S.Repeat(count=times, body=(inner,)) if self._is_times(stmt):
                self._braced(inner, depth, group, prefix, f" * {self.expr(times, _ATOM)}{suffix}", first, end)
            case S.Repeat(count=times, body=body):
                part = self._part(f"repeat {self.expr(times)}", _end(times.span), body,
                                  partial(self._statements, body))
                self._construct(depth, group, prefix, [part], suffix, first, end)
            case S.Residual(body=body, shortcut=shortcut, keyword_span=keyword):
                sections = [self._part("residual", _end(keyword), body, partial(self._statements, body))]
                if shortcut is not None:
                    sections.append(self._part("shortcut", _past(sections[0].rbrace), shortcut,
                                               partial(self._statements, shortcut)))
                self._construct(depth, group, prefix, sections, suffix, first, end)
            case S.Branches(op=op, branches=branches, keyword_span=keyword):
                lbrace = self._next(self.lbraces, _end(keyword))
                parts: list[_Part] = []
                for stmts in branches:
                    after = _past(parts[-1].rbrace) if parts else _past(lbrace)
                    parts.append(self._part("branch", after, stmts, partial(self._statements, stmts)))
                rbrace = self._next(self.rbraces, _past(parts[-1].rbrace) if parts else _past(lbrace))
                self._construct(depth, group, prefix, [_Part(op, lbrace, rbrace, len(parts),
                                                             partial(self._branches, parts))], suffix, first, end)
            case S.TrainSection(settings=settings):
                part = self._part("train", _start(stmt.span), settings, partial(self._settings, settings))
                self._construct(depth, group, prefix, [part], suffix, first, end)

    def _part(self, head: str, after: Pos, children: Sequence, contents: Callable[[int], None]) -> _Part:
        """The braced section whose `{` is the first one after `after`."""
        lbrace = self._next(self.lbraces, after)
        rbrace = self._next(self.rbraces, _end(children[-1].span) if children else _past(lbrace))
        return _Part(head, lbrace, rbrace, len(children), contents)

    def _branches(self, parts: list[_Part], depth: int) -> None:
        group = next(self.groups)
        for part in parts:
            self._construct(depth, group, "", [part], "", part.lbrace, _past(part.rbrace))

    def _settings(self, settings: tuple[S.Setting, ...], depth: int) -> None:
        group = next(self.groups)
        for setting in settings:
            self.rows.append(_Row(depth, f"{setting.name} = {self.expr(setting.value)}",
                                  _start(setting.span), _end(setting.span), group))

    def _construct(self, depth: int, group: int, prefix: str, parts: list[_Part], suffix: str,
                   first: Pos, end: Pos, definition: bool = False) -> None:
        """`head {` contents `} head {` contents `}`; all on one line as `head {}` when
        every part is empty and no comment lies between its braces."""
        if not any(part.size for part in parts) and not self._has_comment(parts[0].lbrace, parts[-1].rbrace):
            text = prefix + " ".join(f"{part.head} {{}}" for part in parts) + suffix
            self.rows.append(_Row(depth, text, first, end, group,
                                  starts_definition=definition, ends_definition=definition))
            return
        opener = _Row(depth, prefix + parts[0].head + " {", first, _past(parts[0].lbrace), group, opens=True,
                      starts_definition=definition)
        self.rows.append(opener)
        parts[0].contents(depth + 1)
        for previous, part in pairwise(parts):
            self.rows.append(_Row(depth, f"}} {part.head} {{", previous.rbrace, _past(part.lbrace), group,
                                  opens=True, closes=True))
            part.contents(depth + 1)
        self.rows.append(_Row(depth, "}" + suffix, parts[-1].rbrace, end, group, closes=True,
                              ends_definition=definition, opener=opener))

    # ---- comments, blank lines and columns ------------------------------------------------

    def _merged(self) -> list[_Row | _Comment | None]:
        """Rows and comments in order, None where a blank line goes."""
        items: list[_Row | _Comment | None] = []
        previous: _Row | _Comment | None = None
        pending = iter(self.comments)
        comment = next(pending, None)

        def add(item: _Row | _Comment) -> None:
            nonlocal previous
            if previous is not None and self._blank_before(previous, item):
                items.append(None)
            items.append(item)
            previous = item

        def trail(pos: Pos, text: str) -> bool:
            """Put the comment at the end of the previous row if it ended that row's line.
            A construct written on one source line gets it on its first printed line."""
            if not (isinstance(previous, _Row) and pos[0] == previous.end[0] and pos >= previous.end):
                return False
            opener = previous.opener
            (opener if opener is not None and opener.first[0] == pos[0] else previous).comment = text
            return True

        for row in self.rows:
            while comment is not None and comment[0] < row.end:
                pos, text = comment
                if not (pos < row.first and trail(pos, text)):
                    add(_Comment(row.depth + row.closes, text, pos[0]))
                comment = next(pending, None)
            add(row)
        while comment is not None:
            pos, text = comment
            if not trail(pos, text):
                add(_Comment(0, text, pos[0]))
            comment = next(pending, None)
        return items

    def _blank_before(self, previous: _Row | _Comment, item: _Row | _Comment) -> bool:
        if (isinstance(previous, _Row) and previous.opens) or (isinstance(item, _Row) and item.closes):
            return False
        if isinstance(previous, _Row) and previous.ends_definition:
            return True
        if isinstance(item, _Row) and item.starts_definition and isinstance(previous, _Row):
            return True
        above = previous.end[0] if isinstance(previous, _Row) else previous.line
        below = item.first[0] if isinstance(item, _Row) else item.line
        return self._blank_between(above, below)

    def render(self) -> str:
        items = self._merged()
        rows = [item for item in items if isinstance(item, _Row)]
        arrow: dict[int, int] = {}
        for row in rows:
            if row.shape:
                arrow[row.group] = max(arrow.get(row.group, 0), len(INDENT * row.depth + row.text) + 1)

        def code(row: _Row) -> str:
            text = INDENT * row.depth + row.text
            return f"{text.ljust(arrow[row.group])}-> {row.shape}" if row.shape else text

        def aligned(row: _Row) -> bool:
            """Comments after one-line statements share a column; after a brace they do not."""
            return not (row.opens or row.closes)

        column: dict[int, int] = {}
        for row in rows:
            if row.comment and aligned(row):
                column[row.group] = max(column.get(row.group, 0), len(code(row)))
        lines = []
        for item in items:
            if item is None:
                lines.append("")
            elif isinstance(item, _Comment):
                lines.append(INDENT * item.depth + item.text)
            elif item.comment:
                lines.append(code(item).ljust(column[item.group] if aligned(item) else 0) + "  " + item.comment)
            else:
                lines.append(code(item))
        return "".join(line + "\n" for line in lines)
