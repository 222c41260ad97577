"""The scene as an SVG document, written as text.

Every string that reaches the document (names and labels come from an untrusted network
file) goes through `_text` or `_attr`: escaped, with the characters XML 1.0 cannot hold
at all replaced by U+FFFD, so no input can add markup or make the file unreadable. Each layer is a
`<g class="node layer KIND">` with a `<title>` a viewer shows on hover.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape, quoteattr

from .scene import LINE_WIDTH, Box, Circle, Dot, Edge, Frame, Scene, Shape, Swatch, Text
from .style import BACKGROUND, BASELINE, FONT_FAMILY

# the characters XML 1.0 forbids in a document, even escaped
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _text(text: str) -> str:
    return escape(_clean(text))


def _attr(text: str) -> str:
    return quoteattr(_clean(text))


def _n(value: float) -> str:
    """A coordinate with at most one decimal."""
    return f"{value:.1f}".removesuffix(".0")


def svg(scene: Scene) -> str:
    """The SVG document of `scene`."""
    width, height = _n(scene.width), _n(scene.height)
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'viewBox="0 0 {width} {height}" font-family={_attr(FONT_FAMILY)}>'),
             f"<title>{_text(scene.title)}</title>",
             f'<rect width="100%" height="100%" fill="{BACKGROUND}"/>']
    parts += [_shape(shape) for shape in scene.shapes]
    parts.append("</svg>\n")
    return "\n".join(parts)


def _shape(shape: Shape) -> str:
    if isinstance(shape, Text):
        return _text_element(shape)
    if isinstance(shape, Box):
        texts = "".join(_text_element(t) for t in shape.texts)
        return (f'<g class={_attr(f"node {shape.role} {shape.kind}")}><title>{_text(shape.tooltip)}</title>'
                f'<rect x="{_n(shape.x)}" y="{_n(shape.y)}" width="{_n(shape.w)}" height="{_n(shape.h)}" rx="5" '
                f'fill="{shape.style.fill}" stroke="{shape.style.stroke}" stroke-width="{LINE_WIDTH}"/>{texts}</g>')
    if isinstance(shape, Circle):
        return (f'<g class={_attr(f"node {shape.role} {shape.kind}")}><title>{_text(shape.tooltip)}</title>'
                f'<circle cx="{_n(shape.cx)}" cy="{_n(shape.cy)}" r="{_n(shape.r)}" fill="{shape.style.fill}" '
                f'stroke="{shape.style.stroke}" stroke-width="{LINE_WIDTH}"/>{_text_element(shape.text)}</g>')
    if isinstance(shape, Frame):
        return (f'<g class="frame"><title>{_text(shape.tooltip)}</title>'
                f'<rect x="{_n(shape.x)}" y="{_n(shape.y)}" width="{_n(shape.w)}" height="{_n(shape.h)}" rx="8" '
                f'fill="{shape.style.fill}" stroke="{shape.style.stroke}" stroke-dasharray="5 3"/>'
                f'{_text_element(shape.title)}</g>')
    if isinstance(shape, Edge):
        points = " ".join(f"{_n(x)},{_n(y)}" for x, y in shape.shaft())
        line = (f'<polyline class="edge" points="{points}" fill="none" stroke="{shape.colour}" '
                f'stroke-width="{LINE_WIDTH}"/>')
        if not shape.arrow:
            return line
        head = " ".join(f"{_n(x)},{_n(y)}" for x, y in shape.head())
        return f'{line}<polygon points="{head}" fill="{shape.colour}"/>'
    if isinstance(shape, Dot):
        return f'<circle cx="{_n(shape.x)}" cy="{_n(shape.y)}" r="{_n(shape.r)}" fill="{shape.colour}"/>'
    assert isinstance(shape, Swatch)
    return (f'<rect x="{_n(shape.x)}" y="{_n(shape.y)}" width="{_n(shape.size)}" height="{_n(shape.size)}" '
            f'rx="3" fill="{shape.style.fill}" stroke="{shape.style.stroke}"/>')


def _text_element(text: Text) -> str:
    weight = ' font-weight="bold"' if text.bold else ""
    return (f'<text x="{_n(text.x)}" y="{_n(text.y + BASELINE * text.size)}" font-size="{_n(text.size)}" '
            f'text-anchor="{text.anchor}" fill="{text.colour}"{weight}>{_text(text.text)}</text>')
