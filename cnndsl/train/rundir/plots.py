"""The run's pictures, drawn with Pillow: loss and accuracy per epoch, the confusion matrix,
and a grid of test images with their predicted classes.

Pillow is already needed for image files, so the plots add no dependency. The charts keep
what makes a plot readable: a title, labelled axes with round tick values, grid lines and
a legend outside the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image, ImageDraw, ImageFont

from ...atomic import atomic_write

WHITE, BLACK, GRID, AXIS = (255, 255, 255), (20, 20, 20), (225, 225, 225), (90, 90, 90)
SERIES_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40))
RIGHT, WRONG = (30, 130, 50), (200, 30, 30)
HEAT = (33, 102, 172)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def font(size: int) -> Font:
    """Pillow's bundled scalable font (or its bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, ImportError):
        return ImageFont.load_default()


def text_size(draw: ImageDraw.ImageDraw, text: str, face: Font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=face)
    return int(right - left), int(bottom - top)


def save_png(image: Image.Image, path: Path) -> None:
    atomic_write(path, lambda stream: image.save(stream, format="PNG"))


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-6:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _vertical_text(text: str, face: Font, colour: tuple) -> Image.Image:
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width, height = text_size(probe, text, face)
    label = Image.new("RGBA", (width + 4, height + 8), (255, 255, 255, 0))
    ImageDraw.Draw(label).text((2, 0), text, font=face, fill=colour)
    return label.rotate(90, expand=True)


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float]]


def line_chart(path: Path, title: str, series: Sequence[Series], x_label: str, y_label: str,
               y_format: Callable[[float], str], y_bounds: tuple[float, float] | None = None) -> None:
    """A line chart with markers; `y_bounds` clamps the y range (e.g. accuracy to [0, 1])."""
    width, height = 960, 600
    left, right, top, bottom = 100, 40, 90, 80
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    title_font, label_font, tick_font = font(24), font(18), font(15)

    points = [p for s in series for p in s.points if math.isfinite(p[1])]
    xs = [p[0] for p in points] or [1.0]
    ys = [p[1] for p in points] or [0.0]
    x_ticks = [t for t in nice_ticks(min(xs), max(xs), min(10, max(2, len(set(xs)))))
               if float(t).is_integer() and min(xs) <= t <= max(xs)] or [min(xs)]
    x_margin = max(0.5, 0.03 * (max(xs) - min(xs)))  # keeps the end markers off the frame
    x_low, x_high = min(xs) - x_margin, max(xs) + x_margin
    spread = max(ys) - min(ys)
    y_low, y_high = min(ys) - 0.08 * spread, max(ys) + 0.08 * spread
    if y_bounds:
        y_low, y_high = max(y_low, y_bounds[0]), min(y_high, y_bounds[1])
    if y_high - y_low < 1e-6:
        y_low, y_high = y_low - 0.05 * (abs(y_low) or 1), y_high + 0.05 * (abs(y_high) or 1)
    y_ticks = nice_ticks(y_low, y_high)
    y_low, y_high = y_ticks[0], y_ticks[-1]

    plot_w, plot_h = width - left - right, height - top - bottom

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (x - x_low) / (x_high - x_low) * plot_w, top + (1 - (y - y_low) / (y_high - y_low)) * plot_h)

    for tick in y_ticks:
        _, y = at(x_low, tick)
        draw.line([(left, y), (left + plot_w, y)], fill=GRID, width=1)
        label = y_format(tick)
        w, h = text_size(draw, label, tick_font)
        draw.text((left - 10 - w, y - h / 2 - 3), label, font=tick_font, fill=AXIS)
    for tick in x_ticks:
        x, _ = at(tick, y_low)
        draw.line([(x, top), (x, top + plot_h)], fill=GRID, width=1)
        label = str(int(tick))
        w, _ = text_size(draw, label, tick_font)
        draw.text((x - w / 2, top + plot_h + 8), label, font=tick_font, fill=AXIS)
    draw.rectangle([left, top, left + plot_w, top + plot_h], outline=AXIS, width=2)

    for index, entry in enumerate(series):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        coords = [at(x, y) for x, y in entry.points if math.isfinite(y)]
        if len(coords) > 1:
            draw.line(coords, fill=colour, width=3, joint="curve")
        for x, y in coords:
            draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=colour, outline=WHITE)

    w, _ = text_size(draw, title, title_font)
    draw.text(((width - w) / 2, 16), title, font=title_font, fill=BLACK)
    w, _ = text_size(draw, x_label, label_font)
    draw.text((left + (plot_w - w) / 2, height - 40), x_label, font=label_font, fill=BLACK)
    vertical = _vertical_text(y_label, label_font, BLACK)
    image.paste(vertical, (18, int(top + (plot_h - vertical.height) / 2)), vertical)

    # Legend: one row above the plot, right-aligned, so it never hides a point.
    entries = [(SERIES_COLOURS[i % len(SERIES_COLOURS)], s.label) for i, s in enumerate(series)]
    x = left + plot_w
    for colour, label in reversed(entries):
        w, h = text_size(draw, label, label_font)
        x -= w
        draw.text((x, top - 32), label, font=label_font, fill=BLACK)
        x -= 34
        draw.line([(x, top - 22), (x + 26, top - 22)], fill=colour, width=3)
        draw.ellipse([x + 8, top - 27, x + 18, top - 17], fill=colour)
        x -= 22
    save_png(image, path)


def percent(value: float) -> str:
    return f"{value * 100:.4g}%"


def confusion_chart(path: Path, confusion: torch.Tensor, classes: Sequence[str], title: str) -> None:
    """Rows are true classes, columns predicted ones; each cell is shaded by the share of its
    row (so the diagonal reads as per-class accuracy) and shows its count when it fits."""
    count = len(classes)
    cell = max(6, min(56, 640 // max(count, 1)))
    label_font, tick_font, title_font = font(18), font(max(9, min(15, cell - 6))), font(22)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    every = max(1, math.ceil(13 / cell))  # label every n-th class when cells are small
    shown = [name[:18] for name in classes]
    name_width = max((text_size(probe, name, tick_font)[0] for name in shown[::every]), default=10)
    left, top = 60 + name_width + 12, 80
    bar_width = 110
    grid = cell * count
    width, height = left + grid + 30 + bar_width, top + grid + name_width + 70
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    totals = confusion.sum(dim=1).clamp(min=1).tolist()
    values = confusion.tolist()
    number_font = font(max(8, min(16, cell // 3)))
    for row in range(count):
        for col in range(count):
            share = values[row][col] / totals[row]
            colour = tuple(round(255 - (255 - c) * share) for c in HEAT)
            x0, y0 = left + col * cell, top + row * cell
            draw.rectangle([x0, y0, x0 + cell, y0 + cell], fill=colour, outline=GRID if cell >= 12 else None)
            text = str(values[row][col])
            tw, th = text_size(draw, text, number_font)
            if cell >= 24 and tw <= cell - 4:
                draw.text((x0 + (cell - tw) / 2, y0 + (cell - th) / 2 - 2), text, font=number_font,
                          fill=WHITE if share > 0.5 else BLACK)
    draw.rectangle([left, top, left + grid, top + grid], outline=AXIS, width=2)
    for index in range(0, count, every):
        name = shown[index]
        w, h = text_size(draw, name, tick_font)
        draw.text((left - 8 - w, top + index * cell + (cell - h) / 2 - 2), name, font=tick_font, fill=AXIS)
        vertical = _vertical_text(name, tick_font, AXIS)
        image.paste(vertical, (int(left + index * cell + (cell - vertical.width) / 2), top + grid + 6), vertical)
    w, _ = text_size(draw, title, title_font)
    draw.text(((width - w) / 2, 18), title, font=title_font, fill=BLACK)
    w, _ = text_size(draw, "predicted class", label_font)
    draw.text((left + (grid - w) / 2, height - 34), "predicted class", font=label_font, fill=BLACK)
    vertical = _vertical_text("true class", label_font, BLACK)
    image.paste(vertical, (14, int(top + (grid - vertical.height) / 2)), vertical)
    # Colour bar: what a shade means.
    bar_x, bar_h = left + grid + 30, min(grid, 300)
    for y in range(bar_h):
        share = 1 - y / max(bar_h - 1, 1)
        draw.line([(bar_x, top + y), (bar_x + 18, top + y)], fill=tuple(round(255 - (255 - c) * share) for c in HEAT))
    draw.rectangle([bar_x, top, bar_x + 18, top + bar_h], outline=AXIS)
    small = font(13)
    for share in (0, 0.5, 1):
        tick_y = top + (1 - share) * (bar_h - 1)
        draw.text((bar_x + 24, tick_y - 8), f"{share:.0%}", font=small, fill=AXIS)
    draw.text((bar_x, top + bar_h + 8), "of true\nclass", font=small, fill=AXIS)
    save_png(image, path)


def samples_chart(path: Path, images: torch.Tensor, targets: Sequence[int], predictions: Sequence[int],
                  classes: Sequence[str], title: str, columns: int = 8) -> None:
    """A grid of uint8 images (`N x C x H x W`, 1 or 3 channels), each captioned with its
    predicted class: green when right, red with the true class when wrong."""
    count = images.shape[0]
    rows = max(1, math.ceil(count / columns))
    tile = 112
    caption_font, title_font = font(14), font(20)
    pad, caption_h, top = 12, 36, 56
    width = columns * (tile + pad) + pad
    height = top + rows * (tile + caption_h + pad) + pad
    sheet = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(sheet)
    small = images.shape[-1] <= tile // 2
    for index in range(count):
        array = images[index].permute(1, 2, 0).numpy()
        picture = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array[:, :, :3]).convert("RGB")
        picture = picture.resize((tile, tile), Image.Resampling.NEAREST if small else Image.Resampling.BILINEAR)
        row, col = divmod(index, columns)
        x, y = pad + col * (tile + pad), top + row * (tile + caption_h + pad)
        sheet.paste(picture, (x, y))
        right = predictions[index] == targets[index]
        draw.rectangle([x - 2, y - 2, x + tile + 1, y + tile + 1], outline=RIGHT if right else WRONG, width=2)
        lines = [classes[predictions[index]]] if right else [classes[predictions[index]], f"true: {classes[targets[index]]}"]
        for line_number, line in enumerate(lines):
            while line and text_size(draw, line, caption_font)[0] > tile:
                line = line[:-1]
            draw.text((x, y + tile + 3 + 16 * line_number), line, font=caption_font, fill=RIGHT if right else WRONG)
    w, _ = text_size(draw, title, title_font)
    draw.text(((width - w) / 2, 16), title, font=title_font, fill=BLACK)
    save_png(sheet, path)
