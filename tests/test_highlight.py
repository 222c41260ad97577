"""Highlighting: the Pygments lexer, the colours of diagnostics, and the editor grammar.

The TextMate grammar is written for Oniguruma but kept to what Python's `re` also reads,
so its rules are tried here with a small scanner that works as TextMate does: at each
point, the rule whose match starts first wins, ties going to the rule listed first.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, String
from rich.console import Console
from rich.text import Text

from cnndsl import parser
from cnndsl.compiler import check_file
from cnndsl.highlight import KEYWORDS, NetLexer, highlight
from cnndsl.layers import LAYERS
from cnndsl.syntax import BRANCH_OPS
from cnndsl.render import render
from cnndsl.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"
CORPUS = sorted([*ROOT.glob("architectures/*.net"), *ROOT.glob("tests/conformance/nets/*.net"),
                 *ROOT.glob("tests/golden/*.net")])
PARSING = [path for path in CORPUS if parser.parse(parser.read_source(path)[0])[0] is not None]
SAMPLE = 'block B(n = 2) { conv1: Conv(n * 2, 3, padding = "same") -> [channels, 8, 8] }  # c'


def lexed(text: str) -> list[tuple[object, str]]:
    return [(token, value) for token, value in NetLexer().get_tokens(text) if value.strip()]


# ---- the Pygments lexer ----------------------------------------------------------------------

def test_token_kinds() -> None:
    tokens = {value: token for token, value in lexed(SAMPLE + "\nnetwork N { input 3x32x32 use true 1e-4 }")}
    assert tokens["block"] is Keyword.Declaration and tokens["B"] is Name.Function
    assert tokens["network"] is Keyword.Declaration and tokens["N"] is Name.Class
    assert tokens["conv1"] is Name.Label and tokens[":"] is Punctuation
    assert tokens["Conv"] is Name.Builtin and tokens["channels"] is Name.Builtin.Pseudo
    assert tokens["n"] is Name and tokens["padding"] is Name
    assert tokens["2"] is Number.Integer and tokens["1e-4"] is Number.Float and tokens["3x32x32"] is Number
    assert tokens['"same"'] is String.Double and tokens["# c"] is Comment.Single
    assert tokens["->"] is Operator and tokens["*"] is Operator and tokens["="] is Operator
    assert tokens["input"] is Keyword and tokens["use"] is Keyword.Namespace and tokens["true"] is Keyword.Constant


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_is_a_builtin_in_any_case(name: str) -> None:
    for spelling in (name, name.upper(), name.capitalize()):
        assert lexed(spelling) == [(Name.Builtin, spelling)]
    assert lexed(name + "_x") == [(Name, name + "_x")]


def test_keywords_are_the_grammars() -> None:
    """The lexer's keywords are the words the grammar reserves and the constructs of branches
    that resolve accepts by name (`mul`, `split`), no more, no fewer."""
    words = {t.pattern.value for t in parser._lark().terminals
             if t.pattern.type == "str" and t.pattern.value.isalpha()}
    assert set(KEYWORDS) | {"network", "block", "use", "true", "false"} == words | set(BRANCH_OPS)


def test_shape_builtins_are_pseudo_names() -> None:
    for name in ("channels", "height", "width"):
        assert lexed(name) == [(Name.Builtin.Pseudo, name)]
        assert scopes(f" {name} ")[name] == "variable.language.channels.cnndsl"


def test_shapes_and_names_split_as_the_language_does() -> None:
    assert lexed("3x3") == [(Number, "3x3")]
    assert lexed("3x3a") == [(Number.Integer, "3"), (Name, "x3a")]
    assert lexed("x3") == [(Name, "x3")]


@pytest.mark.parametrize("path", PARSING, ids=[p.name for p in PARSING])
def test_files_that_parse_lex_without_errors(path: Path) -> None:
    assert Error not in {token for token, _ in lexed(path.read_text(encoding="utf-8"))}


@given(st.text(max_size=200))
def test_highlighting_changes_no_character(text: str) -> None:
    """The same characters as unstyled text (Rich drops control codes from both)."""
    assert highlight(text).plain == Text(text).plain
    assert "".join(value for _, _, value in NetLexer().get_tokens_unprocessed(text)) == text


def test_registered_as_a_pygments_plugin(tmp_path: Path) -> None:
    """Found by file name and by alias, as `pygmentize` finds it (outside the repository,
    so that only the installed metadata counts)."""
    probe = ("from pygments.lexers import get_lexer_by_name, get_lexer_for_filename\n"
             "print(type(get_lexer_by_name('cnndsl')).__name__, type(get_lexer_for_filename('a.net')).__name__)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["NetLexer", "NetLexer"], result.stderr + "\n(reinstall: pip install -e .)"


# ---- diagnostics ----------------------------------------------------------------------------

def test_diagnostic_source_lines_are_coloured() -> None:
    report = check_file(SourceFile("a.net", "network A {\n    input 4\n    conv(6, 5) -> 6x28x28\n}\n"))
    rendered = render(report.diagnostics[0])
    styles = {rendered.plain[span.start:span.end]: str(span.style) for span in rendered.spans}
    assert styles["conv"] == "cyan" and styles["6x28x28"] == "yellow"
    console = Console(width=100, color_system="standard", force_terminal=True)
    with console.capture() as capture:
        console.print(rendered)
    assert "\x1b[36mconv" in capture.get()


# ---- the TextMate grammar -------------------------------------------------------------------

GRAMMAR = json.loads((VSCODE / "syntaxes" / "net.tmLanguage.json").read_text(encoding="utf-8"))


def rules(patterns: list[dict]) -> list[dict]:
    """The grammar's match rules in order, includes resolved."""
    found = []
    for pattern in patterns:
        if "include" in pattern:
            found += rules([GRAMMAR["repository"][pattern["include"].removeprefix("#")]])
        elif "patterns" in pattern:
            found += rules(pattern["patterns"])
        else:
            found.append(pattern)
    return found


RULES = [(re.compile(rule["match"]), rule) for rule in rules(GRAMMAR["patterns"])]


def scopes(line: str) -> dict[str, str]:
    """Each matched piece of `line` and its scope, as TextMate would give them."""
    found, position = {}, 0
    while True:
        matches = [(m, rule) for regex, rule in RULES if (m := regex.search(line, position)) and m.end() > m.start()]
        if not matches:
            return found
        match, rule = min(matches, key=lambda pair: pair[0].start())  # min keeps the first of equals
        for group, capture in rule.get("captures", {}).items():
            found[match.group(int(group))] = capture["name"]
        if "name" in rule:
            found.setdefault(match.group(0), rule["name"])
        position = match.end()


def test_grammar_rules_compile_in_python() -> None:
    assert len(RULES) > 10
    assert GRAMMAR["scopeName"] == "source.cnndsl" and GRAMMAR["fileTypes"] == ["net"]


def test_grammar_scopes() -> None:
    found = scopes(SAMPLE)
    assert found["block"] == "storage.type.block.cnndsl" and found["B"] == "entity.name.function.block.cnndsl"
    assert found["conv1"] == "entity.name.label.cnndsl"
    assert found["Conv"] == "support.function.layer.cnndsl"
    assert found["channels"] == "variable.language.channels.cnndsl"
    assert found['"same"'] == "string.quoted.double.cnndsl"
    assert found["->"] == "keyword.operator.arrow.cnndsl" and found["*"] == "keyword.operator.arithmetic.cnndsl"
    assert found["# c"] == "comment.line.number-sign.cnndsl"
    assert found["2"] == "constant.numeric.integer.cnndsl"
    assert "padding" not in found and "n" not in found  # plain names keep the editor's text colour
    found = scopes('network N { input 3x32x32 x3 dropout(1e-4) repeat 2 { relu } train { lr = .5 } } # }')
    assert found["network"] == "storage.type.network.cnndsl" and found["N"] == "entity.name.type.network.cnndsl"
    assert found["3x32x32"] == "constant.numeric.shape.cnndsl" and "x3" not in found
    assert found["1e-4"] == "constant.numeric.float.cnndsl" and found[".5"] == "constant.numeric.float.cnndsl"
    assert found["repeat"] == found["train"] == found["input"] == "keyword.control.cnndsl"
    assert found["# }"] == "comment.line.number-sign.cnndsl"


def test_grammar_knows_every_layer_and_keyword() -> None:
    for name in LAYERS:
        assert scopes(f"  {name.upper()}(1)")[name.upper()] == "support.function.layer.cnndsl"
    for word in KEYWORDS:
        assert scopes(f" {word} ")[word] == "keyword.control.cnndsl"
    assert "add" not in scopes("padding") and "relu" not in scopes("relu6x")  # words inside names


def test_vscode_extension_uses_the_grammar() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    language, = manifest["contributes"]["languages"]
    grammar, = manifest["contributes"]["grammars"]
    assert language["extensions"] == [".net"] and grammar["language"] == language["id"]
    assert grammar["scopeName"] == GRAMMAR["scopeName"]
    assert (VSCODE / grammar["path"]).resolve() == (VSCODE / "syntaxes" / "net.tmLanguage.json").resolve()
    configuration = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert configuration["comments"] == {"lineComment": "#"}
    assert ["{", "}"] in configuration["brackets"] and ["(", ")"] in configuration["brackets"]
    for key in ("increaseIndentPattern", "decreaseIndentPattern"):
        re.compile(configuration["indentationRules"][key])
