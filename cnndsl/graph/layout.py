"""Where everything goes: the checked network laid out top to bottom.

Every statement becomes a piece that is measured before it is placed: how far it reaches
left and right of the vertical axis through its middle, how tall it is, where an incoming
arrow ends (its entry) and where the outgoing one starts (its exit). A sequence stacks
pieces with a gap that holds the shape on the arrow between them; a frame pads a sequence
and adds a title; a parallel piece sets lanes side by side, forks above them and joins
below. Only once the whole network is measured is it placed, at absolute positions, so no
shape is moved after it is made and nothing needs a general graph layout.

A long network is cut between top-level statements into columns, side by side, with an
arrow from the bottom of each column to the top of the next, so that the picture stays
close to the proportions of a page instead of becoming a thin strip.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

from .. import ir
from ..counting import summarize
from ..ir import format_shape
from .captions import block_tooltip, caption, clip, given_label, layer_tooltip
from .scene import Box, Circle, Dot, Edge, Frame, Point, Scene, Shape, Swatch, Text
from .style import (EDGE, FAMILY_STYLES, FRAME, FRAME_TITLE, MUTED, SMALL_SIZE, TEXT_SIZE, TITLE_SIZE, family,
                    text_width)

GAP = 30.0             # between stacked pieces; the shape label sits in it
LABEL_DX = 6.0         # a shape label starts this far right of its arrow
LANE_GAP = 28.0        # between parallel lanes
FORK = 18.0            # from the fork down to the lanes
DOT_R = 3.0
CAPTION_H = 16.0       # the row above a labelled residual, concat or add
BOX_PAD_X, BOX_PAD_Y, LINE_H = 14.0, 7.0, 17.0
MIN_BOX_W = 120.0
FRAME_PAD, FRAME_TITLE_H, FRAME_TEXT_X = 12.0, 22.0, 8.0
AXIS_CLEAR = 10.0      # text beside the axis keeps this far from the arrow on it
JOIN_R = 11.0
JOIN_H = 22.0
MARGIN = 24.0
COLUMN_GAP = 56.0
CONNECT = 22.0         # how far an arrow between columns runs below and above them
MAX_COLUMN_HEIGHT = 1400.0
ASPECT = 1.15          # columns are chosen so that height / width comes near this


class Canvas:
    """Shapes collected while placing: frames behind edges, edges behind boxes and text."""

    def __init__(self) -> None:
        self.back: list[Shape] = []
        self.middle: list[Shape] = []
        self.front: list[Shape] = []

    def shapes(self) -> tuple[Shape, ...]:
        return tuple(self.back + self.middle + self.front)

    def edge(self, points: list[Point], arrow: bool) -> None:
        kept = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        if len(kept) >= 2:
            self.middle.append(Edge(tuple(kept), arrow, EDGE))

    def shape_label(self, x: float, y: float, shape: str) -> None:
        self.front.append(Text(x + LABEL_DX, y, shape, SMALL_SIZE, "start", colour=MUTED))


class Piece(ABC):
    """A measured part of the picture, placed later by `emit`; all lengths are relative to
    its axis (x) and its top (y)."""

    left: float          # reach left of the axis
    right: float         # reach right of the axis
    height: float
    entry: float         # where an incoming arrow ends, on the axis
    arrow: bool          # whether that arrow has a head (not when it ends at a fork)
    exit: float          # where the outgoing arrow starts, on the axis
    shape: str           # the output shape, as the label of the outgoing arrow

    @abstractmethod
    def emit(self, axis: float, top: float, canvas: Canvas) -> None:
        """Add the piece's shapes to `canvas`, its axis at x = `axis`, its top at y = `top`."""


class BoxPiece(Piece):
    """One box: a layer, a collapsed block call, the input or the output."""

    def __init__(self, lines: list[tuple[str, bool]], style_name: str, role: str, kind: str, tooltip: str,
                 shape: str) -> None:
        self.lines, self.style_name, self.role, self.kind, self.tooltip = lines, style_name, role, kind, tooltip
        width = max([MIN_BOX_W] + [text_width(text, TEXT_SIZE, bold) + 2 * BOX_PAD_X for text, bold in lines])
        self.left = self.right = width / 2
        self.height = len(lines) * LINE_H + 2 * BOX_PAD_Y
        self.entry, self.arrow, self.exit, self.shape = 0.0, True, self.height, shape

    def emit(self, axis: float, top: float, canvas: Canvas) -> None:
        texts = tuple(Text(axis, top + BOX_PAD_Y + LINE_H * (index + 0.5), text, TEXT_SIZE, bold=bold)
                      for index, (text, bold) in enumerate(self.lines))
        canvas.front.append(Box(axis - self.left, top, self.left + self.right, self.height,
                                FAMILY_STYLES[self.style_name], texts, self.role, self.kind, self.tooltip))


class Sequence(Piece):
    """Pieces one below the other, each joined to the next by a labelled arrow. An empty
    sequence (an identity shortcut) has no size and passes its input `shape` through."""

    def __init__(self, pieces: list[Piece], shape: str) -> None:
        self.pieces = pieces
        self.tops: list[float] = []
        y = 0.0
        for piece in pieces:
            self.tops.append(y)
            y += piece.height + GAP
        labels = [LABEL_DX + text_width(p.shape, SMALL_SIZE) for p in pieces[:-1]]
        self.left = max((p.left for p in pieces), default=0.0)
        self.right = max([p.right for p in pieces] + labels, default=0.0)
        self.height = max(y - GAP, 0.0)
        self.entry = pieces[0].entry if pieces else 0.0
        self.arrow = pieces[0].arrow if pieces else False
        self.exit = self.tops[-1] + pieces[-1].exit if pieces else 0.0
        self.shape = pieces[-1].shape if pieces else shape

    def emit(self, axis: float, top: float, canvas: Canvas) -> None:
        for index, (piece, y) in enumerate(zip(self.pieces, self.tops)):
            piece.emit(axis, top + y, canvas)
            if index:
                before, before_top = self.pieces[index - 1], self.tops[index - 1]
                canvas.edge([(axis, top + before_top + before.exit), (axis, top + y + piece.entry)], piece.arrow)
                canvas.shape_label(axis, top + y - GAP / 2, before.shape)


class FramePiece(Piece):
    """The layers of one block call inside a titled frame. The title sits left of the
    axis, where no arrow or shape label runs, and the frame widens to make room for it."""

    def __init__(self, inner: Sequence, title: str, tooltip: str) -> None:
        self.inner, self.title, self.tooltip = inner, title, tooltip
        title_width = text_width(title, SMALL_SIZE, bold=True)
        self.left = max(inner.left + FRAME_PAD, FRAME_TEXT_X + title_width + AXIS_CLEAR)
        self.right = inner.right + FRAME_PAD
        self.height = FRAME_TITLE_H + inner.height + FRAME_PAD
        self.entry, self.arrow = FRAME_TITLE_H + inner.entry, inner.arrow
        self.exit, self.shape = FRAME_TITLE_H + inner.exit, inner.shape

    def emit(self, axis: float, top: float, canvas: Canvas) -> None:
        x = axis - self.left
        title = Text(x + FRAME_TEXT_X, top + FRAME_TITLE_H / 2, self.title, SMALL_SIZE, "start", True, FRAME_TITLE)
        canvas.back.append(Frame(x, top, self.left + self.right, self.height, FRAME, title, self.tooltip))
        self.inner.emit(axis, top + FRAME_TITLE_H, canvas)


# The joins drawn as a circled operator; the others are a box with the construct's name.
_SYMBOLS = {"add": "+", "mul": "\u00d7"}


class Parallel(Piece):
    """Lanes that share one input (or, for `split`, its chunks), side by side, joined by `+`
    (residual, add), `×` (mul) or a box naming the construct (concat, split). A residual
    keeps its body on the axis, so the main path runs straight
    down, and puts its shortcut, or the bare skip arrow of an identity, to its right;
    branches are centred. Each lane's output shape labels the arrow under it."""

    def __init__(self, lanes: list[Sequence], op: str, anchored: bool, label: str | None, tooltip: str,
                 shape: str) -> None:
        self.lanes, self.op, self.label, self.tooltip, self.shape = lanes, op, label, tooltip, shape
        self.join_half = JOIN_R if op in _SYMBOLS else (text_width(op, SMALL_SIZE) + 20) / 2
        reach = [max(lane.right, LABEL_DX + text_width(lane.shape, SMALL_SIZE)) if lane.pieces else lane.right
                 for lane in lanes]
        xs, x = [], 0.0
        for index, lane in enumerate(lanes):
            if index:
                x += reach[index - 1] + LANE_GAP + lane.left
            xs.append(x)
        shift = 0.0 if anchored else (xs[0] + xs[-1]) / 2
        self.xs = [x - shift for x in xs]
        self.fork = CAPTION_H if label else 0.0
        self.lanes_top = self.fork + FORK
        self.join_top = self.lanes_top + max(lane.height for lane in lanes) + GAP
        self.height = self.join_top + JOIN_H
        caption_reach = [AXIS_CLEAR + text_width(label, SMALL_SIZE)] if label else []
        self.left = max([lane.left - x for lane, x in zip(lanes, self.xs)] + [self.join_half] + caption_reach)
        self.right = max([x + r for x, r in zip(self.xs, reach)] + [self.join_half])
        self.entry, self.arrow, self.exit = self.fork, False, self.height

    def emit(self, axis: float, top: float, canvas: Canvas) -> None:
        fork_y, lanes_y = top + self.fork, top + self.lanes_top
        if self.label:
            canvas.front.append(Text(axis - AXIS_CLEAR, top + CAPTION_H / 2, self.label, SMALL_SIZE, "end",
                                     colour=MUTED))
        canvas.middle.append(Dot(axis, fork_y, DOT_R, EDGE))
        for x, lane in zip(self.xs, self.lanes):
            lane_x = axis + x
            if lane.pieces:
                lane.emit(lane_x, lanes_y, canvas)
                canvas.edge([(axis, fork_y), (lane_x, fork_y), (lane_x, lanes_y + lane.entry)], lane.arrow)
                canvas.shape_label(lane_x, lanes_y + lane.height + GAP / 2, lane.shape)
                canvas.edge(self._into_join(axis, top, x, lanes_y + lane.exit), True)
            else:
                canvas.edge([(axis, fork_y)] + self._into_join(axis, top, x, fork_y), True)
        self._emit_join(axis, top + self.join_top, canvas)

    def _into_join(self, axis: float, top: float, x: float, start: float) -> list[Point]:
        """From a lane's end down into the join: straight in from above when the lane is over
        the join, else down to the join's middle and in from the side."""
        if abs(x) <= self.join_half - 4:
            return [(axis + x, start), (axis + x, top + self.join_top)]
        middle = top + self.join_top + JOIN_H / 2
        side = self.join_half if x > 0 else -self.join_half
        return [(axis + x, start), (axis + x, middle), (axis + side, middle)]

    def _emit_join(self, axis: float, top: float, canvas: Canvas) -> None:
        style = FAMILY_STYLES["structural"]
        if self.op in _SYMBOLS:
            text = Text(axis, top + JOIN_R, _SYMBOLS[self.op], TEXT_SIZE + 3, bold=True)
            canvas.front.append(Circle(axis, top + JOIN_R, JOIN_R, style, text, "join", self.op, self.tooltip))
        else:
            text = Text(axis, top + JOIN_H / 2, self.op, SMALL_SIZE)
            canvas.front.append(Box(axis - self.join_half, top, 2 * self.join_half, JOIN_H, style, (text,), "join",
                                    self.op, self.tooltip))


class _Builder:
    """Turns IR nodes into pieces and remembers which layer families it drew (for the
    legend)."""

    def __init__(self, collapse: bool) -> None:
        self.collapse = collapse
        self.families: set[str] = {"structural"}

    def sequence(self, nodes: tuple[ir.Node, ...], prefix: str, in_shape: ir.Shape) -> Sequence:
        return Sequence([self.piece(node, prefix) for node in nodes], format_shape(in_shape))

    def piece(self, node: ir.Node, prefix: str) -> Piece:
        path = f"{prefix}{node.name}"
        shape = format_shape(node.out_shape)
        if isinstance(node, ir.Layer):
            name = family(node.kind)
            self.families.add(name)
            return BoxPiece(_lines(given_label(node), caption(node)), name, "layer", node.kind,
                            layer_tooltip(path, node), shape)
        if isinstance(node, ir.Group):
            label = given_label(node)
            if self.collapse:
                self.families.add("block")
                count = len(ir.leaves(node.body))
                return BoxPiece(_lines(label, clip(f"{node.block}, {count} layer{'s' * (count != 1)}")), "block",
                                "block", node.block, block_tooltip(path, node), shape)
            title = clip(f"{label}: {node.block}" if label else node.block)
            return FramePiece(self.sequence(node.body, f"{path}.", node.in_shape), title, block_tooltip(path, node))
        if isinstance(node, ir.Residual):
            lanes = [self.sequence(node.body, f"{path}.body.", node.in_shape),
                     self.sequence(node.shortcut or (), f"{path}.shortcut.", node.in_shape)]
            what = "shortcut" if node.shortcut is not None else "identity"
            return Parallel(lanes, "add", True, _label(node, "residual"),
                            f"{path}: residual, body + {what} -> {shape} (line {node.span.line})", shape)
        parts = len(node.branches)
        lane_input = (node.in_shape[0] // parts,) + node.in_shape[1:] if node.op == "split" else node.in_shape
        lanes = [self.sequence(branch, f"{path}.{index}.", lane_input) for index, branch in enumerate(node.branches)]
        how = {"concat": "joined on channels", "add": "summed", "mul": "multiplied",
               "split": f"each on 1/{parts} of the channels, joined on channels"}[node.op]
        return Parallel(lanes, node.op, False, _label(node, node.op),
                        f"{path}: {node.op} of {len(lanes)} branches, {how} -> {shape} (line {node.span.line})", shape)


def _label(node: ir.Node, kind: str) -> str | None:
    label = given_label(node)
    return clip(label) if label else None


def _lines(label: str | None, text: str) -> list[tuple[str, bool]]:
    """A box's lines: the label in bold above the caption, when there is a label."""
    return ([(clip(label), True)] if label else []) + [(text, False)]


def layout(net: ir.Network, collapse: bool = False, columns: int | None = None) -> Scene:
    """The diagram of `net`. With `collapse`, each block call is one box instead of a frame
    around its layers. `columns` fixes the number of columns; by default a network taller
    than MAX_COLUMN_HEIGHT is cut into as many as bring the picture near ASPECT, but never
    into more than it takes to keep each column under MAX_COLUMN_HEIGHT."""
    builder = _Builder(collapse)
    into, out = format_shape(net.input_shape), format_shape(net.output_shape)
    pieces: list[Piece] = [BoxPiece([(f"input {into}", True)], "structural", "input", "input",
                                    f"{net.name} input, {into}", into)]
    pieces += [builder.piece(node, "") for node in net.body]
    pieces.append(BoxPiece([(f"output {out}", True)], "structural", "output", "output",
                           f"{net.name} output, {out}", out))
    stacks = [Sequence(group, group[-1].shape) for group in _split(pieces, columns)]

    header, header_height, header_width = _header(net, builder.families)
    diagram_width = sum(s.left + s.right for s in stacks) + COLUMN_GAP * (len(stacks) - 1)
    width = max(diagram_width, header_width) + 2 * MARGIN
    room = CONNECT if len(stacks) > 1 else 0.0
    top = MARGIN + header_height + room
    canvas = Canvas()
    canvas.front.extend(header)
    axes, x = [], MARGIN + (width - 2 * MARGIN - diagram_width) / 2
    for stack in stacks:
        axes.append(x + stack.left)
        x += stack.left + stack.right + COLUMN_GAP
        stack.emit(axes[-1], top, canvas)
    for index in range(len(stacks) - 1):
        _connect(stacks[index], axes[index], stacks[index + 1], axes[index + 1], top, canvas)
    height = top + max(stack.height for stack in stacks) + room + MARGIN
    return Scene(width, height, f"{net.name}: {into} -> {out}", canvas.shapes())


def _split(pieces: list[Piece], columns: int | None) -> list[list[Piece]]:
    """The top-level pieces cut into columns of about equal height (never inside a piece)."""
    heights = [piece.height for piece in pieces]
    total = sum(heights) + GAP * (len(pieces) - 1)
    if columns is None:
        widest = max(piece.left + piece.right for piece in pieces)
        near_aspect = max(2, round(math.sqrt(total / ((widest + COLUMN_GAP) * ASPECT))))
        columns = min(len(_fill(pieces, MAX_COLUMN_HEIGHT)), near_aspect)
    columns = max(1, min(columns, len(pieces)))
    limit = max(total / columns, max(heights))
    while len(groups := _fill(pieces, limit)) > columns:
        limit *= 1.05
    return groups


def _fill(pieces: list[Piece], limit: float) -> list[list[Piece]]:
    """The pieces in order, in as few columns as keep each within `limit` (a piece taller
    than that gets a column of its own)."""
    groups: list[list[Piece]] = [[]]
    used = 0.0
    for piece in pieces:
        if groups[-1] and used + GAP + piece.height > limit:
            groups.append([])
        used = (used + GAP if groups[-1] else 0.0) + piece.height
        groups[-1].append(piece)
    return groups


def _connect(before: Sequence, before_axis: float, after: Sequence, after_axis: float, top: float,
             canvas: Canvas) -> None:
    """The arrow from the bottom of one column, through the gap between them, to the top of
    the next; it carries the shape of the column's last piece."""
    below, above = top + before.height + CONNECT, top - CONNECT
    gutter = (before_axis + before.right + after_axis - after.left) / 2
    canvas.edge([(before_axis, top + before.exit), (before_axis, below), (gutter, below), (gutter, above),
                 (after_axis, above), (after_axis, top + after.entry)], after.arrow)
    canvas.shape_label(before_axis, top + before.height + CONNECT / 2, before.shape)


def _header(net: ir.Network, families: set[str]) -> tuple[list[Shape], float, float]:
    """Title, totals and legend, top left; with their height and width."""
    info = summarize(net)
    subtitle = (f"input {format_shape(net.input_shape)}, output {format_shape(net.output_shape)} · "
                f"{info.total_params:,} parameters · {info.macs:,} MACs per sample")
    name = clip(net.name)
    shapes: list[Shape] = [Text(MARGIN, MARGIN + 12, name, TITLE_SIZE, "start", True),
                           Text(MARGIN, MARGIN + 38, subtitle, TEXT_SIZE, "start", colour=MUTED)]
    width = max(text_width(name, TITLE_SIZE, True), text_width(subtitle, TEXT_SIZE))
    x, y = MARGIN, MARGIN + 62
    for entry in (f for f in FAMILY_STYLES if f in families):
        advance = 20 + text_width(entry, SMALL_SIZE) + 18
        if x > MARGIN and x + advance - MARGIN > width:
            x, y = MARGIN, y + 20
        shapes += [Swatch(x, y - 7, 14, FAMILY_STYLES[entry]), Text(x + 20, y, entry, SMALL_SIZE, "start")]
        x += advance
    return shapes, y + 12 - MARGIN + 16, width
