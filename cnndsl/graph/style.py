"""How the diagram looks: the colour of each layer family, font sizes, and text widths.

The layout has to know how wide a caption is before anything is drawn, and an SVG file
cannot ask the viewer's font. So widths come from a small table of DejaVu Sans advance
widths (the default sans-serif font on most Linux systems, and wider than Arial or
Helvetica): a box sized with it fits its caption in any of those fonts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """Fill and outline colours, as `#rrggbb` (both writers accept them as they are)."""

    fill: str
    stroke: str


INK = "#111827"         # text
MUTED = "#4b5563"       # shape labels on edges, captions
EDGE = "#374151"        # arrows
BACKGROUND = "#ffffff"
FRAME = Style("#f8fafc", "#94a3b8")
FRAME_TITLE = "#475569"

FAMILY_STYLES: dict[str, Style] = {
    "conv": Style("#dbeafe", "#2563eb"),
    "pool": Style("#dcfce7", "#16a34a"),
    "norm": Style("#fef9c3", "#ca8a04"),
    "activation": Style("#ffedd5", "#ea580c"),
    "linear": Style("#ede9fe", "#7c3aed"),
    "dropout": Style("#f1f5f9", "#64748b"),
    "structural": Style("#e5e7eb", "#374151"),
    "block": Style("#ccfbf1", "#0d9488"),
}

_FAMILY_OF: dict[str, str] = {
    kind: family
    for family, kinds in {
        "conv": ("conv", "convtranspose"),
        "pool": ("maxpool", "avgpool", "adaptiveavgpool", "adaptivemaxpool", "globalavgpool"),
        "norm": ("batchnorm", "groupnorm", "lrn", "layernorm", "layerscale"),
        "activation": ("relu", "relu6", "leakyrelu", "elu", "gelu", "silu", "mish", "hardswish",
                       "hardsigmoid", "sigmoid", "tanh", "softmax", "logsoftmax"),
        "linear": ("linear",),
        "dropout": ("dropout", "dropout2d", "droppath"),
    }.items()
    for kind in kinds
}


def family(kind: str) -> str:
    """The family a layer kind is coloured by; flatten, upsample, shuffle and identity only
    move or reshape values, so they are `structural`, like the input, the output and the joins."""
    return _FAMILY_OF.get(kind, "structural")


FONT_FAMILY = "DejaVu Sans, Verdana, Geneva, Arial, Helvetica, sans-serif"
TITLE_SIZE = 20.0
TEXT_SIZE = 13.0      # layer captions, the subtitle
SMALL_SIZE = 11.0     # shapes on edges, frame titles, legend, construct labels
BASELINE = 0.35       # from the vertical centre of a line of text down to its baseline, in em

# Advance widths in em of DejaVu Sans (rounded up), grouped; anything else counts as 1 em.
_WIDTHS: dict[str, float] = {
    char: width
    for chars, width in (("'ijlIJ,. :;|!/\\", 0.35), ("f-t()[]r\"", 0.42), ("*_`szc?L", 0.56),
                         ("kFvxyPaoTYebdghnpquES0123456789${}", 0.65), ("KAVBRXZCUHNDG&OQ", 0.80),
                         ("w#+<=>^~M%m@W", 1.0))
    for char in chars
}
BOLD_FACTOR = 1.1


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width of `text` in pixels at `size`, from the table above (an upper bound for
    the usual sans-serif fonts)."""
    em = sum(_WIDTHS.get(char, 1.0) for char in text)
    return em * size * (BOLD_FACTOR if bold else 1.0)
