"""The picture as positioned shapes: what the layout produces and both writers draw.

Coordinates are CSS pixels with y pointing down. The layout decides every position and
every string; the SVG and PNG writers translate the shapes one by one, in order (later
shapes on top), so the two formats cannot disagree about where anything is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from .style import INK, Style

Point = tuple[float, float]

ARROW_LENGTH = 8.0
ARROW_HALF_WIDTH = 4.0
LINE_WIDTH = 1.4


@dataclass(frozen=True)
class Text:
    """One line of text; `y` is the line's vertical centre, `anchor` says which end (or the
    middle) of the line lies at `x`."""

    x: float
    y: float
    text: str
    size: float
    anchor: str = "middle"   # start | middle | end
    bold: bool = False
    colour: str = INK


@dataclass(frozen=True)
class Box:
    """A rounded rectangle with centred lines of text: a layer, a collapsed block call, the
    input, the output, or the join of a concat. `role` and `kind` classify it (the SVG
    writer turns them into class names); `tooltip` is the detail a viewer can hover for."""

    x: float
    y: float
    w: float
    h: float
    style: Style
    texts: tuple[Text, ...]
    role: str
    kind: str
    tooltip: str


@dataclass(frozen=True)
class Circle:
    """The `+` where the operands of a residual or an `add` meet, or the `×` of a `mul`."""

    cx: float
    cy: float
    r: float
    style: Style
    text: Text
    role: str
    kind: str
    tooltip: str


@dataclass(frozen=True)
class Frame:
    """The labelled frame drawn around the layers of one block call."""

    x: float
    y: float
    w: float
    h: float
    style: Style
    title: Text
    tooltip: str


@dataclass(frozen=True)
class Swatch:
    """A colour sample in the legend."""

    x: float
    y: float
    size: float
    style: Style


@dataclass(frozen=True)
class Dot:
    """Where one tensor is handed to several consumers (the fork of branches)."""

    x: float
    y: float
    r: float
    colour: str


@dataclass(frozen=True)
class Edge:
    """A path of horizontal and vertical segments, with an arrowhead at its end when it
    points at a box or a join."""

    points: tuple[Point, ...]
    arrow: bool
    colour: str

    def shaft(self) -> tuple[Point, ...]:
        """The points to stroke: with an arrowhead, the line stops inside the head so that
        its square end does not blunt the tip."""
        if not self.arrow:
            return self.points
        (x0, y0), (x1, y1) = self.points[-2], self.points[-1]
        dx, dy = _unit(x1 - x0, y1 - y0)
        back = ARROW_LENGTH * 0.6
        return self.points[:-1] + ((x1 - dx * back, y1 - dy * back),)

    def head(self) -> tuple[Point, Point, Point]:
        """The arrowhead's corners: the tip, then the two back corners."""
        (x0, y0), (x1, y1) = self.points[-2], self.points[-1]
        dx, dy = _unit(x1 - x0, y1 - y0)
        bx, by = x1 - dx * ARROW_LENGTH, y1 - dy * ARROW_LENGTH
        return ((x1, y1), (bx - dy * ARROW_HALF_WIDTH, by + dx * ARROW_HALF_WIDTH),
                (bx + dy * ARROW_HALF_WIDTH, by - dx * ARROW_HALF_WIDTH))


def _unit(dx: float, dy: float) -> Point:
    length = math.hypot(dx, dy) or 1.0
    return dx / length, dy / length


Shape = Text | Box | Circle | Frame | Swatch | Dot | Edge


@dataclass(frozen=True)
class Scene:
    """Everything to draw, back to front, on a `width` x `height` white canvas."""

    width: float
    height: float
    title: str
    shapes: tuple[Shape, ...]
