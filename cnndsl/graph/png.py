"""The scene as a PNG image, drawn with Pillow (already installed for image data sets).

The image has SCALE pixels per unit, so text stays sharp on high-density screens, and
fewer when that would pass MAX_SIDE pixels on a side or MAX_PIXELS in all: a huge network
gives a smaller picture, never one that exhausts memory. Text uses DejaVu Sans, the first
font the SVG asks for, when the system has it, else Pillow's own scalable font.
"""

from __future__ import annotations

import io
import math
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from .scene import LINE_WIDTH, Box, Circle, Dot, Edge, Frame, Point, Scene, Shape, Swatch, Text
from .style import BACKGROUND, BASELINE

SCALE = 2.0
MAX_SIDE = 12_000
MAX_PIXELS = 40_000_000
DASH, DASH_GAP = 5.0, 3.0

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}   # Pillow's: left/middle/right, baseline


def fit_scale(scene: Scene, scale: float = SCALE) -> float:
    """`scale`, or less where the image would pass MAX_SIDE or MAX_PIXELS."""
    return min(scale, MAX_SIDE / scene.width, MAX_SIDE / scene.height,
               math.sqrt(MAX_PIXELS / (scene.width * scene.height)))


def png(scene: Scene, scale: float = SCALE) -> bytes:
    """The PNG file of `scene`."""
    factor = fit_scale(scene, scale)
    image = Image.new("RGB", (max(1, round(scene.width * factor)), max(1, round(scene.height * factor))),
                      BACKGROUND)
    painter = _Painter(ImageDraw.Draw(image), factor)
    for shape in scene.shapes:
        painter.paint(shape)
    stream = io.BytesIO()
    image.save(stream, format="PNG")
    return stream.getvalue()


@cache
def _font(pixels: int, bold: bool) -> Font:
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf") if bold else ("DejaVuSans.ttf",):
        try:
            return ImageFont.truetype(name, pixels)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=pixels)
    except (OSError, TypeError, ImportError):   # Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


class _Painter:
    """Draws shapes on one image, multiplying every length by `scale`."""

    def __init__(self, draw: ImageDraw.ImageDraw, scale: float) -> None:
        self.canvas, self.scale = draw, scale
        self.width = max(1, round(LINE_WIDTH * scale))

    def _p(self, point: Point) -> tuple[float, float]:
        return point[0] * self.scale, point[1] * self.scale

    def _rect(self, x: float, y: float, w: float, h: float) -> list[float]:
        s = self.scale
        return [x * s, y * s, (x + w) * s, (y + h) * s]

    def paint(self, shape: Shape) -> None:
        if isinstance(shape, Text):
            self.text(shape)
        elif isinstance(shape, Box):
            self.canvas.rounded_rectangle(self._rect(shape.x, shape.y, shape.w, shape.h), radius=5 * self.scale,
                                         fill=shape.style.fill, outline=shape.style.stroke, width=self.width)
            for text in shape.texts:
                self.text(text)
        elif isinstance(shape, Circle):
            self.canvas.ellipse(self._rect(shape.cx - shape.r, shape.cy - shape.r, 2 * shape.r, 2 * shape.r),
                               fill=shape.style.fill, outline=shape.style.stroke, width=self.width)
            self.text(shape.text)
        elif isinstance(shape, Frame):
            self.frame(shape)
        elif isinstance(shape, Edge):
            self.canvas.line([self._p(p) for p in shape.shaft()], fill=shape.colour, width=self.width, joint="curve")
            if shape.arrow:
                self.canvas.polygon([self._p(p) for p in shape.head()], fill=shape.colour)
        elif isinstance(shape, Dot):
            self.canvas.ellipse(self._rect(shape.x - shape.r, shape.y - shape.r, 2 * shape.r, 2 * shape.r),
                               fill=shape.colour)
        else:
            assert isinstance(shape, Swatch)
            self.canvas.rounded_rectangle(self._rect(shape.x, shape.y, shape.size, shape.size), radius=3 * self.scale,
                                         fill=shape.style.fill, outline=shape.style.stroke, width=self.width)

    def frame(self, frame: Frame) -> None:
        """A filled rectangle with a dashed outline, as in the SVG."""
        self.canvas.rounded_rectangle(self._rect(frame.x, frame.y, frame.w, frame.h), radius=8 * self.scale,
                                     fill=frame.style.fill)
        x0, y0, x1, y1 = frame.x, frame.y, frame.x + frame.w, frame.y + frame.h
        for start, end in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x0, y1), (x1, y1)), ((x0, y0), (x0, y1))):
            self.dashes(start, end, frame.style.stroke)
        self.text(frame.title)

    def dashes(self, start: Point, end: Point, colour: str) -> None:
        """A dashed horizontal or vertical line."""
        length = abs(end[0] - start[0]) + abs(end[1] - start[1])
        dx, dy = (end[0] - start[0]) / (length or 1), (end[1] - start[1]) / (length or 1)
        at = 0.0
        while at < length:
            stop = min(at + DASH, length)
            self.canvas.line([self._p((start[0] + dx * at, start[1] + dy * at)),
                             self._p((start[0] + dx * stop, start[1] + dy * stop))], fill=colour,
                            width=max(1, round(self.scale)))
            at = stop + DASH_GAP

    def text(self, text: Text) -> None:
        face = _font(max(1, round(text.size * self.scale)), text.bold)
        x, y = self._p((text.x, text.y))
        if isinstance(face, ImageFont.FreeTypeFont):
            self.canvas.text((x, y + BASELINE * text.size * self.scale), text.text, font=face, fill=text.colour,
                            anchor=_ANCHORS[text.anchor])
            return
        width = self.canvas.textlength(text.text, font=face)
        _, top, _, bottom = face.getbbox(text.text)
        left = {"start": x, "middle": x - width / 2, "end": x - width}[text.anchor]
        self.canvas.text((left, y - (top + bottom) / 2), text.text, font=face, fill=text.colour)
