"""The parser: its saved tables, positions, and syntax errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import lark
import pytest

from cnndsl import parser
from cnndsl.source import SourceFile, Span

ROOT = Path(__file__).resolve().parent.parent
TABLES = ROOT / "grammars" / parser.TABLES
SOURCES = sorted(ROOT.glob("architectures/*.net")) + sorted(ROOT.glob("tests/golden/*.net"))


def test_saved_tables_are_current(bless: bool) -> None:
    """`grammars/net.tables.json` must come from `grammars/net.lark` (re-bless after editing it)."""
    if bless:
        parser.write_tables(TABLES)
    saved = TABLES.read_text(encoding="utf-8")
    assert parser._fingerprint(parser._grammar_text()).split()[0] in saved, \
        "the grammar changed: run `pytest tests/test_parser.py --bless`"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_saved_tables_parse_like_the_grammar(path: Path) -> None:
    built = parser._build(parser._grammar_text())
    text = path.read_text(encoding="utf-8")

    def outcome(p: lark.Lark):
        try:
            return p.parse(text)
        except lark.exceptions.UnexpectedInput as exc:
            return (type(exc).__name__, exc.line, exc.column)

    assert outcome(parser._lark()) == outcome(built)


def _spans(node: object) -> list[tuple[int, int, int, int]]:
    """Every span in a syntax tree, as (line, column, end line, end column)."""
    found, todo = [], [node]
    while todo:
        item = todo.pop()
        if isinstance(item, Span):
            found.append((item.line, item.column, item.end_line, item.end_column))
        elif isinstance(item, tuple):
            todo.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, SourceFile):
            todo.extend(getattr(item, f.name) for f in dataclasses.fields(item))
    return found


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_every_span_is_where_lark_puts_a_rule_or_a_token(path: Path) -> None:
    """The builder computes spans as it reduces; Lark's own tree, with positions propagated,
    is the oracle: each span of the syntax tree is the extent of one of its subtrees or tokens."""
    text = path.read_text(encoding="utf-8")
    module, problems = parser.parse(SourceFile(path.name, text))
    if module is None:
        return  # a golden file with a syntax error
    built = parser._build(parser._grammar_text())
    extents = {(t.meta.line, t.meta.column, t.meta.end_line, t.meta.end_column)
               for t in built.parse(text).iter_subtrees() if not t.meta.empty}
    extents |= {(t.line, t.column, t.end_line, t.end_column) for t in built.lex(text)}
    spans = _spans(module)
    assert len(spans) > 3
    assert [s for s in spans if s not in extents] == []


def test_spans_are_one_based_and_end_exclusive() -> None:
    module, problems = parser.parse(SourceFile("a.net", "network A {\n  input 4\n  linear(2)\n}\n"))
    assert not problems
    call = module.networks[0].body[1]
    assert (call.span.line, call.span.column, call.span.end_line, call.span.end_column) == (3, 3, 3, 12)
    assert call.name_span.end_column == 9


def test_shapes_lex_as_shapes_but_x_names_stay_names() -> None:
    module, _ = parser.parse(SourceFile("a.net", "network A(x = 2) { input 3x8x8 conv(x, 1) }"))
    shape = module.networks[0].body[0].shape
    assert [d.value for d in shape.dims] == [3, 8, 8]


def test_keywords_are_contextual() -> None:
    # `add` and `train` are statements, yet fine as parameter names inside expressions
    module, problems = parser.parse(SourceFile("a.net", "network A(train = 2) { input 4 linear(train) }"))
    assert not problems, problems


def test_crlf_and_bom_are_accepted() -> None:
    file, problems = parser.decode_source(b"\xef\xbb\xbfnetwork A {\r\n input 4\r\n relu\r\n}\r\n", "a.net")
    assert file is not None and not problems
    assert not parser.parse(file)[1]
