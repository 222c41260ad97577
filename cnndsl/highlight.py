"""Syntax highlighting for `.net` files: a Pygments lexer, and Rich text made with it.

`NetLexer` is registered as a Pygments plugin (see pyproject.toml), so `pygmentize`, Sphinx
and MkDocs highlight `.net` files once cnndsl is installed. `highlight` colours the source
lines that diagnostics and `cnndsl fmt --stdout` show on a terminal.

The lexer reads one token at a time, as the language's own lexer does, so it is right
wherever a line is cut (diagnostics show single lines). Keywords are coloured wherever they
stand, though the parser also accepts some of them as parameter names.
"""

from __future__ import annotations

from functools import lru_cache

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace
from pygments.token import _TokenType as TokenType  # the class of every token type
from rich.text import Text

from .layers import LAYERS

KEYWORDS = ("add", "branch", "concat", "input", "mul", "repeat", "residual", "shortcut", "split", "train")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_END = r"(?![A-Za-z0-9_])"  # a word ends where the language's names do
_EXPONENT = r"(?:[eE][-+]?[0-9]+)"


class NetLexer(RegexLexer):
    """The `.net` network description language of cnndsl."""

    name = "cnndsl"
    aliases = ["cnndsl"]
    filenames = ["*.net"]
    mimetypes = ["text/x-cnndsl"]

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*", Comment.Single),
            (r'"[^"\n]*"', String.Double),
            (rf"(network)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"(block)(\s+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (rf"({_NAME})(\s*)(:)", bygroups(Name.Label, Whitespace, Punctuation)),
            (rf"use{_END}", Keyword.Namespace),
            (words(KEYWORDS, suffix=_END), Keyword),
            (words(("true", "false"), suffix=_END), Keyword.Constant),
            (rf"(?:channels|height|width){_END}", Name.Builtin.Pseudo),
            (rf"(?i:{'|'.join(sorted(LAYERS, key=len, reverse=True))}){_END}", Name.Builtin),
            (_NAME, Name),
            # Pygments has no token type for shapes; plain `Number` is coloured by every style
            (rf"[0-9]+(?:x[0-9]+)+{_END}", Number),
            (rf"[0-9]+\.[0-9]*{_EXPONENT}?|\.[0-9]+{_EXPONENT}?|[0-9]+{_EXPONENT}", Number.Float),
            (r"[0-9]+", Number.Integer),
            (r"->|//|[-+*/%=]", Operator),
            (r"[()\[\]{},;:]", Punctuation),
        ],
    }


_STYLES: dict[TokenType, str] = {
    Comment: "dim",
    Keyword: "magenta",
    Keyword.Constant: "yellow",
    Name.Builtin: "cyan",
    Name.Builtin.Pseudo: "italic cyan",
    Name.Label: "green",
    Name.Class: "bold green",
    Name.Function: "bold green",
    Number: "yellow",
    String: "green",
}


def _style(token: TokenType) -> str:
    """The style of the nearest token type above `token` that has one."""
    while token not in _STYLES and token.parent is not None:
        token = token.parent
    return _STYLES.get(token, "")


@lru_cache(maxsize=1)
def _lexer() -> NetLexer:
    return NetLexer()


def highlight(source: str) -> Text:
    """`source` as styled text, with the same characters as plain `Text(source)`."""
    text = Text()
    for _, token, value in _lexer().get_tokens_unprocessed(source):
        text.append(value, _style(token))
    return text
