"""Text -> syntax tree, with Lark's LALR parser and positions on every node.

Syntax errors become diagnostics (never exceptions) that name what was expected in the
words of the language rather than Lark's terminal names.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, cast

import lark
from lark import Lark, Token
from lark.grammar import Rule, Terminal
from lark.lexer import TerminalDef
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import codes, limits, syntax as S
from .diagnostics import Diagnostic, Label, closest, error, replace, suggest
from .source import SourceFile, Span

_TERMINAL_WORDS = {
    "NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
    "SHAPE": "a shape like 3x32x32", "LPAR": "`(`", "RPAR": "`)`", "LBRACE": "`{`",
    "RBRACE": "`}`", "LSQB": "`[`", "RSQB": "`]`", "COMMA": "`,`", "COLON": "`:`",
    "EQUAL": "`=`", "SEMI": "`;`", "STAR": "`*`", "PLUS": "`+`", "MINUS": "`-`",
    "SLASH": "`/`", "PERCENT": "`%`", "__ANON_0": "`->`", "$END": "end of file",
}


GRAMMAR = "net.lark"
TABLES = "net.tables.json"


def _grammar_text() -> str:
    return resources.files("cnndsl.grammars").joinpath(GRAMMAR).read_text(encoding="utf-8")


def _fingerprint(grammar: str) -> str:
    return f"{hashlib.sha256(grammar.encode()).hexdigest()} lark-{lark.__version__}"


def _build(grammar: str, **options) -> Lark:
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False, **options)


def _int_keys(pairs: list[tuple[str, object]]) -> dict:
    """JSON object keys are strings; the parse tables index states by integer."""
    return {int(k) if k.isdigit() else k: v for k, v in pairs}


@lru_cache(maxsize=1)
def _lark() -> Lark:
    """The LALR parser. Building it from the grammar takes ~0.1 s, most of a `check`;
    `net.tables.json` holds the same tables as plain JSON (data, never pickle), used when
    it was generated from this very grammar with this Lark version."""
    return _new_lark()


def _new_lark(**options) -> Lark:
    """A parser from the saved tables (or the grammar when they are stale), with Lark
    options that loading tables allows, such as `lexer_callbacks`."""
    grammar = _grammar_text()
    tables = resources.files("cnndsl.grammars").joinpath(TABLES)
    try:
        saved = json.loads(tables.read_text(encoding="utf-8"), object_pairs_hook=_int_keys)
        if saved.get("fingerprint") == _fingerprint(grammar):
            return Lark.__new__(Lark)._load({"data": saved["data"], "memo": saved["memo"]}, **options)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing or stale tables: build from the grammar
    return _build(grammar, **options)


def write_tables(path: Path) -> None:
    """Regenerate the parse tables (`pytest tests/test_parser.py --bless` calls this)."""
    grammar = _grammar_text()
    data, memo = _build(grammar).memo_serialize([TerminalDef, Rule])
    path.write_text(json.dumps({"fingerprint": _fingerprint(grammar), "data": data, "memo": memo}) + "\n",
                    encoding="utf-8")


def _token_span(file: SourceFile, token: Token) -> Span:
    return _between(file, token, token)


def _between(file: SourceFile, first: Token, last: Token) -> Span:
    """From the start of `first` to the end of `last`. Lark types a token's position as
    optional (a token made by hand has none); the lexer's tokens, the only ones that reach
    here, carry one."""
    line, column, end_line, end_column = cast("tuple[int, int, int, int]",
                                              (first.line, first.column, last.end_line, last.end_column))
    return Span(file, line, column, end_line, end_column)


class _Rejected(Exception):
    """Raised by the tree builder with the diagnostic that ends the parse."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _depth(expr: S.Expr) -> int:
    return expr.depth if isinstance(expr, (S.Unary, S.Binary)) else 0


def _binary(op: str) -> Callable:
    """The `_Builder` rule for one binary operator."""
    def rule(self: _Builder, span: Span, children):
        left, right = children
        return self._operator(S.Binary(op, left, right, span, 1 + max(_depth(left), _depth(right))))
    return rule


class _Builder:
    """Builds the `syntax` dataclasses as the parser reduces, one method per rule of the
    grammar (by its alias or name), each called with the span the rule matched and its
    children after the grammar's filtering; see `_callbacks`."""

    def __init__(self, file: SourceFile) -> None:
        self.file = file
        self.depths: dict[int, int] = {}  # id of a statement -> statements on its longest path down

    def _nested(self, stmt, inner) -> object:
        """Bound how deeply statements nest: braces are counted before parsing, but `-> shape`,
        `* N` and labels nest without them, and every later pass walks statements recursively."""
        depth = 1 + max((self.depths.get(id(s), 1) for s in inner), default=0)
        if depth > limits.MAX_STATEMENT_DEPTH:
            raise _Rejected(error(codes.E0005, f"statements nested deeper than {limits.MAX_STATEMENT_DEPTH} levels",
                                  stmt.span, "too deep", notes=("`-> shape`, `* N` and `label:` each add a level",),
                                  help="split the statement, or move part of it into a block"))
        self.depths[id(stmt)] = depth
        return stmt

    def _t(self, token: Token) -> Span:
        return _token_span(self.file, token)

    # top level
    def start(self, span, items):
        items = [i for i in items if not isinstance(i, Token)]
        return S.Module(
            self.file,
            tuple(i for i in items if isinstance(i, S.Use)),
            tuple(i for i in items if isinstance(i, S.Block)),
            tuple(i for i in items if isinstance(i, S.Network)),
        )

    def use(self, span, children):
        return S.Use(children[0][1:-1], span)

    def _definition(self, cls, span, children):
        name = children[0]
        params = children[1] if len(children) == 3 else ()
        return cls(str(name), params, children[-1], span, self._t(name))

    def block(self, span, children):
        return self._definition(S.Block, span, children)

    def network(self, span, children):
        return self._definition(S.Network, span, children)

    def params(self, span, children):
        return tuple(children)

    def param(self, span, children):
        return S.Param(str(children[0]), children[1] if len(children) > 1 else None, span)

    def body(self, span, children):
        return children[0]

    def stmt_list(self, span, children):
        return tuple(c for c in children if not isinstance(c, Token))

    # statements
    def input_stmt(self, span, children):
        return S.Input(children[0], span)

    def call(self, span, children):
        name = children[0]
        args = children[1] if len(children) > 1 else ()
        return S.Call(str(name), self._t(name), args, span)

    def arguments(self, span, children):
        return tuple(children)

    def positional(self, span, children):
        return S.Arg(None, children[0], span)

    def keyword(self, span, children):
        return S.Arg(str(children[0]), children[1], span)

    def labeled(self, span, children):
        label, stmt = children
        return self._nested(S.Labeled(str(label), self._t(label), stmt, span), (stmt,))

    def repeat(self, span, children):
        return self._nested(S.Repeat(children[0], children[1], span), children[1])

    def times(self, span, children):
        return self._nested(S.Repeat(children[1], (children[0],), span), (children[0],))

    def assertion(self, span, children):
        return self._nested(S.Assertion(children[0], children[1], span), (children[0],))

    def residual(self, span, children):
        shortcut = children[1] if len(children) > 1 else None
        keyword = Span(self.file, span.line, span.column, span.line, span.column + len("residual"))
        return self._nested(S.Residual(children[0], shortcut, span, keyword), children[0] + (shortcut or ()))

    def shortcut(self, span, children):
        return children[0]

    def _branches(self, op, span, children):
        keyword = Span(self.file, span.line, span.column, span.line, span.column + len(op))
        return self._nested(S.Branches(op, children[0], span, keyword),
                            tuple(stmt for branch in children[0] for stmt in branch))

    def concat(self, span, children):
        return self._branches("concat", span, children)

    def add(self, span, children):
        return self._branches("add", span, children)

    def named_branches(self, span, children):
        """`mul { ... }`, `split { ... }`: constructs of branches that are not keywords, so that a
        version 1 file with a label or a block of that name keeps its meaning; resolve checks
        the name."""
        name, branches = children
        return S.Branches(str(name), branches, span, self._t(name))

    def branches(self, span, children):
        return tuple(c for c in children if not isinstance(c, Token))

    def branch(self, span, children):
        return children[0]

    def train_section(self, span, children):
        return S.TrainSection(tuple(c for c in children if isinstance(c, S.Setting)), span)

    def setting(self, span, children):
        return S.Setting(str(children[0]), children[1], span)

    # shapes
    def compact_shape(self, span, children):
        token = children[0]
        span = self._t(token)
        return S.Shape(tuple(S.Literal(self._integer(d, span), span) for d in str(token).split("x")), span)

    def list_shape(self, span, children):
        return S.Shape(tuple(children), span)

    def vector_shape(self, span, children):
        return S.Shape((children[0],), span)

    # expressions
    def int_lit(self, span, children):
        span = self._t(children[0])
        return S.Literal(self._integer(str(children[0]), span), span)

    def _integer(self, digits: str, span: Span) -> int:
        """An integer literal; past MAX_LITERAL_DIGITS digits it is refused before Python
        converts it (which takes time quadratic in the digits, and fails past 4,300)."""
        if len(digits.lstrip("0")) > limits.MAX_LITERAL_DIGITS:
            raise _Rejected(error(codes.E0038, f"integer literal of {len(digits):,} digits is out of range", span,
                                  "too large", notes=(f"integers are limited to ±2^62 ({limits.MAX_INTEGER:,})",),
                                  help="a size this large cannot be meant"))
        return int(digits)

    def float_lit(self, span, children):
        return S.Literal(float(children[0]), self._t(children[0]))

    def string_lit(self, span, children):
        return S.Literal(str(children[0])[1:-1], self._t(children[0]))

    def true_lit(self, span, children):
        return S.Literal(True, span)

    def false_lit(self, span, children):
        return S.Literal(False, span)

    def name(self, span, children):
        return S.Name(str(children[0]), self._t(children[0]))

    def tuple_lit(self, span, children):
        return S.TupleExpr(tuple(c for c in children if c is not None), span)

    def _operator(self, node: S.Unary | S.Binary) -> S.Unary | S.Binary:
        """Bound the depth of operator chains, which brackets do not show (`1+1+...+1`):
        every later pass walks expressions recursively."""
        if node.depth > limits.MAX_EXPRESSION_DEPTH:
            raise _Rejected(error(codes.E0005, f"expression nested deeper than {limits.MAX_EXPRESSION_DEPTH} operators",
                                  node.span, "too deep", help="compute the value outside, or use a parameter"))
        return node

    def _unary(self, op, span, children):
        return self._operator(S.Unary(op, children[0], span, 1 + _depth(children[0])))

    def neg(self, span, children):
        return self._unary("-", span, children)

    def pos(self, span, children):
        return self._unary("+", span, children)

    add_op, sub_op, mul_op = _binary("+"), _binary("-"), _binary("*")
    div_op, floordiv_op, mod_op = _binary("/"), _binary("//"), _binary("%")


def _describe_expected(expected: set[str]) -> str:
    words = sorted({_TERMINAL_WORDS.get(t, f"`{t.lower()}`") for t in expected})
    if len(words) > 6:
        words = words[:6] + ["..."]
    return ", ".join(words)


def _syntax_error(file: SourceFile, exc: UnexpectedInput) -> Diagnostic:
    line, column = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, UnexpectedCharacters):
        position = cast(int, exc.pos_in_stream)  # Lark declares it None on the base class; the lexer sets it
        char = file.text[position] if position < len(file.text) else ""
        if char == '"':
            return error(codes.E0001, "unterminated string", Span.point(file, line, column),
                         "this string has no closing `\"` on its line",
                         help='close the string with `"` before the end of the line')
        return error(codes.E0001, f"unexpected character `{char}`", Span.point(file, line, column),
                     "not part of the language", help=_char_help(char))
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        end_line = max(file.line_count, 1)
        end_col = len(file.line(end_line)) + 1
        return error(codes.E0001, "unexpected end of file", Span.point(file, end_line, end_col),
                     "the file ends here", help=f"expected {_describe_expected(set(exc.expected))}; "
                     "is a `}` or `)` missing?")
    assert isinstance(exc, UnexpectedToken)  # the parser raises no other kind of UnexpectedInput
    token = exc.token
    span = _token_span(file, token) if token.end_column else Span.point(file, line, column)
    misspelt = _misspelt_keyword(file, token) if str(token) == "{" or "BRANCH" in exc.expected else None
    fixes = (replace(misspelt[0], misspelt[2], f"replace `{misspelt[1]}` by `{misspelt[2]}`"),) if misspelt else ()
    if misspelt is not None:
        word, written, keyword = misspelt
        if str(token) != "{":  # `residul { conv ... }` parses as far as a construct of branches
            brace = file.text.rfind("{", 0, cast(int, token.start_pos))
            brace_line = file.text.count("\n", 0, brace) + 1
            span = Span.point(file, brace_line, brace - (file.text.rfind("\n", 0, brace) + 1) + 1)
        return error(codes.E0001, f"unexpected `{{` after `{written}`", span, "not expected here",
                     secondary=(Label(word, "not a keyword"),), help=f"did you mean `{keyword}`?", fixes=fixes)
    return error(codes.E0001, f"unexpected `{token}`", span, "not expected here",
                 notes=(f"expected {_describe_expected(set(exc.expected))}",),
                 help=f"did you mean `{misspelt[2]}`?" if misspelt else
                 _token_help(str(token), set(exc.expected), file.line(line)[:column - 1]),
                 secondary=(Label(misspelt[0], "not a keyword"),) if misspelt else (), fixes=fixes)


def _misspelt_keyword(file: SourceFile, token: Token) -> tuple[Span, str, str] | None:
    """`residul {`: the name before the `{` at or just before an unexpected token, when it is a
    misspelling of a keyword that opens a body (`residual`, `concat`, `branch`, ...), with that
    keyword."""
    start = cast(int, token.start_pos)
    brace = "" if str(token) == "{" else r"\{\s*"
    before = re.search(rf"([A-Za-z_][A-Za-z0-9_]*)\s*{brace}$", file.text[:start])
    if before is None:
        return None
    openers = sorted(keywords() - {"network", "block", "use", "input", "repeat", "true", "false"})
    keyword = closest(before.group(1).lower(), openers)
    if keyword is None or keyword == before.group(1):
        return None
    line = file.text.count("\n", 0, before.start(1)) + 1
    column = before.start(1) - (file.text.rfind("\n", 0, before.start(1)) + 1) + 1
    return Span(file, line, column, line, column + len(before.group(1))), before.group(1), keyword


def _char_help(char: str) -> str | None:
    if char == "'":
        return 'strings use double quotes: "same"'
    if char in "x×":
        return "write shapes without spaces, like 3x32x32"
    return None


# What may start a top-level item, and the statements that open a body after a name.
_TOP_LEVEL = ("network", "block", "use")
_BODY_KEYWORDS = ("residual", "repeat", "shortcut", "train")


def _token_help(token: str, expected: set[str], before: str) -> str | None:
    """The fix for an unexpected token; `before` is its line up to the token."""
    if "NETWORK" in expected and token not in _TOP_LEVEL:
        return suggest(token, _TOP_LEVEL) or "a file holds `network`, `block` and `use` items"
    if token == "*" and re.search(r"->\s*(\S+x\S+|\[[^\]]*\])\s*$", before):
        return ("after `->` the rest of the statement is the shape; to repeat a statement and assert its "
                "output, put the count first: `relu * 3 -> 1x8x8`")
    if "BRANCH" in expected:
        opener = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\{\s*$", before)
        hint = suggest(opener.group(1), _BODY_KEYWORDS) if opener else None
        return hint or "each branch of `concat`, `add`, `mul` and `split` is written `branch { ... }`"
    if "RPAR" in expected and "COMMA" in expected:
        return "separate arguments with `,` and close the list with `)`"
    if "RBRACE" in expected:
        return "close the block with `}`"
    if token == "->":
        return "a shape assertion follows a statement: `conv(6, 5) -> 6x28x28`"
    return None


def _nesting_error(file: SourceFile) -> Diagnostic | None:
    """Reject absurd nesting before Lark and the passes recurse into it."""
    depth, line, column, in_comment, in_string = 0, 1, 0, False, False
    for char in file.text:
        column += 1
        if char == "\n":
            line, column, in_comment, in_string = line + 1, 0, False, False
        elif in_comment:
            continue
        elif char == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif char == "#":
            in_comment = True
        elif char in "([{":
            depth += 1
            if depth > limits.MAX_NESTING:
                return error(codes.E0005, f"nesting deeper than {limits.MAX_NESTING} levels",
                             Span.point(file, line, column), "too deep",
                             help="flatten the expression or split the network into blocks")
        elif char in ")]}":
            depth -= 1
    return None


def parse(file: SourceFile) -> tuple[S.Module | None, list[Diagnostic]]:
    """Parse one file. Returns the module, or None with the syntax error."""
    return _parse(file, _lark())


def parse_keeping(file: SourceFile, terminals: Iterable[str]) -> tuple[S.Module | None, list[Diagnostic], list[Token]]:
    """Parse as `parse` does, and also return the tokens of `terminals` in source order.

    The tree leaves out what a formatter must put back: comments (which the grammar
    ignores) and where braces stand. This parser is built per call, with lexer callbacks
    that collect them, so `parse` itself stays as it is."""
    kept: list[Token] = []

    def keep(token: Token) -> Token:
        kept.append(token)
        return token

    module, problems = _parse(file, _new_lark(lexer_callbacks={name: keep for name in terminals}))
    return module, problems, kept


def _parse(file: SourceFile, parser: Lark) -> tuple[S.Module | None, list[Diagnostic]]:
    if file.size > limits.MAX_FILE_BYTES:  # text that reached here without a read: an editor's, a notebook's
        return None, [_too_large(file.name, file.size, limits.MAX_FILE_BYTES)]
    nesting = _nesting_error(file)
    if nesting:
        return None, [nesting]
    interactive = parser.parse_interactive(file.text)
    # Lark types the callbacks by rule name; the parser looks them up by `Rule`, as Lark's own do
    conf = interactive.parser_state.parse_conf
    conf.callbacks = cast(dict, _callbacks(conf.states, _Builder(file)))
    try:
        return cast(_Located, interactive.resume_parse()).value, []
    except UnexpectedInput as exc:
        return None, [_syntax_error(file, exc)]
    except _Rejected as exc:
        return None, [exc.diagnostic]


class _Located:
    """A reduced value on the parser's stack, with the first and last tokens it covers
    (None for an empty match), from which the enclosing rules take their spans."""

    __slots__ = ("value", "first", "last")

    def __init__(self, value: Any, first: Token | None, last: Token | None) -> None:
        self.value, self.first, self.last = value, first, last


def _extent(children: list) -> tuple[Token | None, Token | None]:
    """The first and last tokens under `children` (None when they matched nothing). As in Lark's
    own position propagation, a rule that passes its one child through (`( expr )`) keeps the
    child's span, while the rules around it take in the brackets."""
    first = last = None
    for child in children:
        first = child.first if type(child) is _Located else child
        if first is not None:
            break
    for child in reversed(children):
        last = child.last if type(child) is _Located else child
        if last is not None:
            break
    return first, last


def _callbacks(states: dict, builder: _Builder) -> dict[Rule, Callable[[list], _Located]]:
    """The parser's reduce actions, one per rule of its table: the syntax node straight from
    the tokens.

    Lark's own tree builder would first make a `Tree` with position metadata for every
    reduction and the builder would then walk it again; doing what the grammar asks (drop
    punctuation, splice inlined rules, pass a lone child of a `?rule` through, propagate
    positions) in one step halves the time of a large parse. The rules are the table's own
    objects (`Lark.rules` holds equal ones, which each lookup would compare field by field)."""
    rules = {rule for actions in states.values() for _, rule in actions.values() if isinstance(rule, Rule)}
    return {rule: _reduction(rule, builder) for rule in rules}


def _reduction(rule: Rule, builder: _Builder) -> Callable[[list], _Located]:
    # the children the tree keeps, and whether each is an inlined rule (`_item`, and the helpers
    # Lark makes for `*`) whose own children are spliced in
    kept = tuple((i, not sym.is_term and sym.name.startswith("_")) for i, sym in enumerate(rule.expansion)
                 if not (isinstance(sym, Terminal) and sym.filter_out))
    name = rule.alias or rule.origin.name
    inline = name.startswith("_")
    expand1 = bool(rule.options.expand1) and not rule.alias
    # a `?rule` alternative without an alias always has one child, so it needs no method
    build = None if inline else getattr(builder, name, None) if expand1 else getattr(builder, name)
    file = builder.file

    def pass_through(children: list) -> _Located:
        if len(children) == 1:
            only = children[0]
            return only if type(only) is _Located else _Located(only, only, only)
        only = children[kept[0][0]]  # `( expr )`: the expression, which takes the brackets' place
        return _Located(only.value if type(only) is _Located else only, *_extent(children))

    def reduce(children: list) -> _Located:
        values: list = []
        for i, splice in kept:
            child = children[i]
            if splice and not values:  # `*` reduces left-recursively: grow its list, never copy it
                values = cast(_Located, child).value
                continue
            value = child.value if type(child) is _Located else child
            if splice:
                values.extend(value)
            else:
                values.append(value)
        if expand1 and len(values) == 1:
            return pass_through(children)
        first, last = _extent(children)
        if build is None:
            assert inline, f"no builder method for the rule {name}"
            return _Located(values, first, last)
        span = None if first is None or last is None else _between(file, first, last)
        return _Located(build(span, values), first, last)

    # `?expr: sum` and its like, most of the reductions of a large file
    return pass_through if expand1 and len(kept) == 1 and not kept[0][1] else reduce


def read_source(path, display_name: str | None = None) -> tuple[SourceFile | None, list[Diagnostic]]:
    """Read a file as UTF-8 text, refusing binaries and oversized files with a diagnostic.

    Only a regular file is read, and never more than `limit` bytes plus one: the file is
    opened without blocking (a FIFO with no writer would wait forever), its kind and size
    are checked on the open descriptor, and the read stops at the limit, since a device
    such as /dev/zero or a pipe reports a size of 0 whatever it holds. Every error the
    operating system reports (no permission, a name too long, a loop of links) is a
    diagnostic."""
    path = Path(path)
    name = display_name or str(path)
    limit = limits.MAX_FILE_BYTES
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        return None, [_unreadable(name, exc)]
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, [error(codes.E0003, f"cannot read {name}: it is {_kind(info.st_mode)}, not a regular file",
                                None, help="give the path of a `.net` file")]
        if info.st_size > limit:
            return None, [_too_large(name, info.st_size, limit)]
        data = read_bounded(lambda size: os.read(fd, size), limit)
    except OSError as exc:
        return None, [_unreadable(name, exc)]
    finally:
        os.close(fd)
    if len(data) > limit:  # the file grew while it was read
        return None, [_too_large(name, None, limit)]
    return decode_source(data, name, path)


def read_bounded(read: Callable[[int], bytes], limit: int) -> bytes:
    """At most `limit + 1` bytes from `read` (one more than allowed tells that there is more)."""
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = read(min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _unreadable(name: str, exc: OSError | ValueError) -> Diagnostic:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return error(codes.E0003, f"cannot read file: {reason}: {name}", None, help="check the path and its permissions")


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a pipe"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "this kind of file"


def _too_large(name: str, size: int | None, limit: int) -> Diagnostic:
    """`size` is None when the read stopped at the limit."""
    message = (f"{name} is {size:,} bytes; the limit is {limit:,}" if size is not None
               else f"{name} is over the limit of {limit:,} bytes")
    return error(codes.E0004, message, None,
                 help="a network file is a few kilobytes; is this the right file?")


def decode_source(data: bytes, name: str, path=None) -> tuple[SourceFile | None, list[Diagnostic]]:
    if len(data) > limits.MAX_FILE_BYTES:
        return None, [_too_large(name, None, limits.MAX_FILE_BYTES)]
    if b"\x00" in data:
        return None, [error(codes.E0003, "file is binary, not a `.net` text file", None,
                            help="network files are UTF-8 text")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [error(codes.E0003, f"file is not valid UTF-8 (byte {exc.start})", None,
                            help="save the file as UTF-8")]
    return SourceFile(name, text.replace("\r\n", "\n").replace("\r", "\n"), path), []



def keywords() -> frozenset[str]:
    """The words the grammar reserves (`network`, `residual`, `true`, ...), read from the parser
    itself so that editors complete exactly what the language has."""
    return frozenset(t.pattern.value for t in _lark().terminals
                     if t.pattern.type == "str" and t.pattern.value.isidentifier())
