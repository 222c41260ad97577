"""Draws docs/images/lsp_hints.svg: the network of architectures/resnet18.net as an editor shows it
with `cnndsl lsp`, its inlay hints in grey boxes after the statements and the hover of the first
convolution in a box below. Everything drawn comes from the server's real answers, over its
stdio (tests/lsp_client.py); only the drawing (colours, font, boxes) is this script's, in the
manner of VS Code's light theme. tests/test_lsp.py checks that the picture is current.

    python docs/images/lsp_hints.py
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from pygments.token import Comment, Keyword, Name, Number, String  # noqa: E402

from cnndsl.highlight import NetLexer  # noqa: E402
from lsp_client import Client  # noqa: E402

SOURCE = ROOT / "architectures" / "resnet18.net"
PICTURE = Path(__file__).resolve().parent / "lsp_hints.svg"
FIRST, LAST = 46, 67          # the lines shown (1-based): the network
HOVER_AT = (49, 12)           # the hover shown: on `conv` of conv1 (1-based line and column)
CHAR, LINE, PAD = 7.8, 19, 12  # character width and line height (px) of the 13 px monospace font
COLOURS = [(Comment, "#008000"), (Keyword, "#af00db"), (Name.Class, "#267f99"), (Name.Function, "#267f99"),
           (Name.Label, "#001080"), (Name.Builtin, "#795e26"), (Number, "#098658"), (String, "#a31515")]


def _colour(token: object) -> str:
    return next((colour for kind, colour in COLOURS if token in kind), "#000000")  # type: ignore[operator]


def _text(x: float, y: float, text: str, colour: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y}" fill="{colour}"{extra}>{escape(text)}</text>'


def answers() -> tuple[list[str], dict[int, list[tuple[int, str]]], str]:
    """The file's lines, the hints by line (column, label) and the hover text, from the server."""
    with Client(cwd=ROOT) as client:
        client.initialize(ROOT)
        uri = client.open(SOURCE)
        client.diagnostics(uri, 1)
        hints: dict[int, list[tuple[int, str]]] = {}
        for hint in client.request("textDocument/inlayHint", {"textDocument": {"uri": uri}, "range": {
                "start": {"line": FIRST - 1, "character": 0}, "end": {"line": LAST, "character": 0}}}):
            hints.setdefault(hint["position"]["line"] + 1, []).append((hint["position"]["character"], hint["label"]))
        hover = client.at(uri, "textDocument/hover", HOVER_AT[0] - 1, HOVER_AT[1] - 1)["contents"]["value"]
    return SOURCE.read_text(encoding="utf-8").split("\n"), hints, hover


def _hover_lines(markdown: str) -> list[str]:
    """The hover as an editor renders its markdown, roughly: fences and backticks dropped."""
    return [line.replace("`", "") for line in markdown.split("\n") if not line.startswith("```") and line.strip()]


def picture(lines: list[str], hints: dict[int, list[tuple[int, str]]], hover: str) -> str:
    body: list[str] = []
    widest = 0.0
    for row, number in enumerate(range(FIRST, LAST + 1)):
        y = PAD + 14 + row * LINE
        body.append(_text(PAD, y, f"{number:>3}", "#237893"))
        x, column = PAD + 5 * CHAR, 0
        stops = sorted(hints.get(number, []))
        for token, value in NetLexer().get_tokens(lines[number - 1]):
            for char in value.rstrip("\n"):
                while stops and stops[0][0] == column:
                    x = _hint(body, x, y, stops.pop(0)[1])
                if not char.isspace():
                    body.append(_text(x, y, char, _colour(token)))
                x += CHAR
                column += 1
        for _, label in stops:
            x = _hint(body, x, y, label)
        widest = max(widest, x)
    top = PAD + (LAST - FIRST + 1) * LINE + 14
    shown = _hover_lines(hover)
    box = max(len(line) for line in shown) * CHAR + 2 * PAD
    body.append(f'<rect x="{PAD + 9 * CHAR:.1f}" y="{top}" width="{box:.1f}" height="{len(shown) * LINE + PAD}" '
                f'fill="#f3f3f3" stroke="#c8c8c8"/>')
    for index, line in enumerate(shown):
        body.append(_text(PAD * 2 + 9 * CHAR, top + 18 + index * LINE, line, "#000000"))
    width = max(widest, PAD * 2 + 9 * CHAR + box) + PAD
    height = top + len(shown) * LINE + 2 * PAD
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="13" xml:space="preserve">\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n' + "\n".join(body) + "\n</svg>\n")


def _hint(body: list[str], x: float, y: int, label: str) -> float:
    """An inlay hint as VS Code draws one: a grey box, with a space before it."""
    x += CHAR
    width = len(label) * CHAR + 6
    body.append(f'<rect x="{x:.1f}" y="{y - 13}" width="{width:.1f}" height="17" rx="3" fill="#eeeeee"/>')
    body.append(_text(x + 3, y, label, "#6e6e6e"))
    return x + width


def main() -> None:
    PICTURE.write_text(picture(*answers()), encoding="utf-8")
    print(f"wrote {PICTURE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
