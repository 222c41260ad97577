"""Random `.net` programs for property tests, with a second, independent meaning.

A program is generated as data, written out as `.net` source for the compiler, and also
interpreted directly with PyTorch: each statement becomes the `torch.nn` module LANGUAGE.md
names, constructed at run time from the tensor that actually arrives (its channel count,
its rank). That interpretation never consults the checker's shape rules, so it says what
PyTorch itself accepts and produces.

Arguments are drawn so that many programs are valid and many are not in every way the
checker knows: windows larger than the input, groups that do not divide, too much pooling
padding, `"same"` with a stride, `linear` before `flatten`, residual operands that differ,
`split` into parts that do not divide the channels, `shuffle` groups that do not divide them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch
from hypothesis import strategies as st
from torch import nn
from torchvision.models.convnext import LayerNorm2d
from torchvision.ops import StochasticDepth

CHANNELS = "channels"  # the read-only name: the channel count of a statement's input


@dataclass(frozen=True)
class Leaf:
    kind: str
    args: tuple[object, ...] = ()
    keywords: tuple[tuple[str, object], ...] = ()
    label: str | None = None


@dataclass(frozen=True)
class Residual:
    body: tuple["Statement", ...]
    shortcut: tuple["Statement", ...] | None


@dataclass(frozen=True)
class Branches:
    op: str
    branches: tuple[tuple["Statement", ...], ...]


Statement = Union[Leaf, Residual, Branches]


@dataclass(frozen=True)
class Program:
    input_shape: tuple[int, ...]
    body: tuple[Statement, ...]

    def source(self) -> str:
        lines = ["network Random {", f"    input {'x'.join(map(str, self.input_shape))}"]
        lines += _statements(self.body, 1)
        return "\n".join(lines + ["}", ""])

    def run(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self.body, x)


# ---- source text -------------------------------------------------------------------------

def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return f"({', '.join(_value(v) for v in value)})"
    if value == CHANNELS:
        return CHANNELS
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _statements(body: tuple[Statement, ...], depth: int) -> list[str]:
    pad = "    " * depth
    lines: list[str] = []
    for statement in body:
        if isinstance(statement, Leaf):
            parts = [_value(a) for a in statement.args] + [f"{k}={_value(v)}" for k, v in statement.keywords]
            call = statement.kind + (f"({', '.join(parts)})" if parts else "")
            lines.append(f"{pad}{statement.label}: {call}" if statement.label else f"{pad}{call}")
        elif isinstance(statement, Residual):
            lines += [f"{pad}residual {{", *_statements(statement.body, depth + 1)]
            if statement.shortcut is not None:
                lines += [f"{pad}}} shortcut {{", *_statements(statement.shortcut, depth + 1)]
            lines.append(f"{pad}}}")
        else:
            lines.append(f"{pad}{statement.op} {{")
            for branch in statement.branches:
                lines += [f"{pad}    branch {{", *_statements(branch, depth + 2), f"{pad}    }}"]
            lines.append(f"{pad}}}")
    return lines


# ---- PyTorch's own reading ---------------------------------------------------------------

class NotABatch(ValueError):
    """A layer's output is no longer a batch of samples: it has no elements, or its first
    axis is no longer the batch. PyTorch raises for most such mistakes, but not all: a
    transposed convolution may return an empty tensor, and `AdaptiveAvgPool2d` reads an
    N x D matrix as one unbatched image."""


def _run(body: tuple[Statement, ...], x: torch.Tensor) -> torch.Tensor:
    batch = x.shape[0]
    for statement in body:
        if isinstance(statement, Leaf):
            x = _module(statement, x)(x)
            if x.numel() == 0 or x.shape[0] != batch:
                raise NotABatch(f"{statement.kind} produced {tuple(x.shape)}")
        elif isinstance(statement, Residual):
            out = _run(statement.body, x)
            x = out + (x if statement.shortcut is None else _run(statement.shortcut, x))
        elif statement.op == "concat":
            x = torch.cat([_run(branch, x) for branch in statement.branches], dim=1)
        elif statement.op == "split":
            chunks = x.tensor_split(len(statement.branches), dim=1)
            x = torch.cat([_run(branch, chunk) for branch, chunk in zip(statement.branches, chunks)], dim=1)
        else:
            outputs = [_run(branch, x) for branch in statement.branches]
            x = outputs[0]
            for out in outputs[1:]:
                x = x + out if statement.op == "add" else x * out
    return x


def _module(leaf: Leaf, x: torch.Tensor) -> nn.Module:
    """The module LANGUAGE.md names for the layer, built for the tensor `x` as it arrives."""
    channels = x.shape[1]
    args = [channels if a == CHANNELS else a for a in leaf.args]
    kw = dict(leaf.keywords)
    kind = leaf.kind
    if kind == "conv":
        return nn.Conv2d(channels, *args, **kw)
    if kind == "convtranspose":
        return nn.ConvTranspose2d(channels, *args, **kw)
    if kind in ("maxpool", "avgpool"):
        kw["ceil_mode"] = kw.pop("ceil", False)
        return (nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d)(*args, **kw)
    if kind == "batchnorm":
        return (nn.BatchNorm2d if x.dim() == 4 else nn.BatchNorm1d)(channels)
    if kind == "groupnorm":
        return nn.GroupNorm(args[0], channels)
    if kind == "linear":
        return nn.Linear(x.shape[-1], *args)
    if kind == "upsample":
        return nn.Upsample(scale_factor=args[0], **kw)
    if kind == "globalavgpool":
        return nn.AdaptiveAvgPool2d(1)
    if kind in ("softmax", "logsoftmax"):
        return (nn.Softmax if kind == "softmax" else nn.LogSoftmax)(dim=1)
    if kind == "leakyrelu":
        return nn.LeakyReLU(*args)
    if kind == "layernorm":
        return LayerNorm2d(channels) if x.dim() == 4 else nn.LayerNorm(channels)
    if kind == "layerscale":
        return _Scale(torch.full((channels, 1, 1) if x.dim() == 4 else (channels,), args[0]))
    if kind == "droppath":
        return StochasticDepth(args[0], "row")
    return _SIMPLE[kind](*args)


class _Scale(nn.Module):
    def __init__(self, scale: torch.Tensor) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


_SIMPLE = {
    "adaptiveavgpool": nn.AdaptiveAvgPool2d, "adaptivemaxpool": nn.AdaptiveMaxPool2d,
    "lrn": nn.LocalResponseNorm, "dropout": nn.Dropout, "dropout2d": nn.Dropout2d, "flatten": nn.Flatten,
    "relu": nn.ReLU, "relu6": nn.ReLU6, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU, "mish": nn.Mish,
    "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid, "shuffle": nn.ChannelShuffle, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "identity": nn.Identity,
}


# ---- strategies --------------------------------------------------------------------------

def _pair(low: int, high: int) -> st.SearchStrategy:
    number = st.integers(low, high)
    return st.one_of(number, number, st.tuples(number, number))


@st.composite
def _keywords(draw, **options: st.SearchStrategy) -> tuple[tuple[str, object], ...]:
    """Each keyword present or left to its default, at random."""
    return tuple((name, draw(strategy)) for name, strategy in options.items() if draw(st.booleans()))


_OUT = st.one_of(st.integers(1, 8), st.just(CHANNELS))
_GROUPS = st.sampled_from([1, 1, 1, 2, 3, 4])


def _conv():
    padding = st.one_of(_pair(0, 2), st.sampled_from(["same", "valid"]))
    return st.builds(lambda out, kernel, kw: Leaf("conv", (out, kernel), kw), _OUT, _pair(1, 4),
                     _keywords(stride=_pair(1, 3), padding=padding, dilation=_pair(1, 2), groups=_GROUPS,
                               bias=st.booleans()))


def _convtranspose():
    return st.builds(lambda out, kernel, kw: Leaf("convtranspose", (out, kernel), kw), _OUT, _pair(1, 3),
                     _keywords(stride=_pair(1, 2), padding=_pair(0, 1), output_padding=_pair(0, 1),
                               groups=st.sampled_from([1, 1, 2]), dilation=_pair(1, 2)))


def _pool(kind: str):
    options = dict(stride=_pair(1, 3), padding=_pair(0, 2), ceil=st.booleans())
    if kind == "maxpool":
        options["dilation"] = _pair(1, 2)
    return st.builds(lambda kernel, kw: Leaf(kind, (kernel,), kw), _pair(1, 3), _keywords(**options))


_ACTIVATIONS = ["relu", "relu6", "elu", "gelu", "silu", "mish", "hardswish", "hardsigmoid", "sigmoid", "tanh",
                "softmax", "logsoftmax", "identity", "layernorm"]

_ANY_RANK = st.one_of(
    st.just(Leaf("batchnorm")), st.just(Leaf("flatten")),
    st.builds(lambda p: Leaf("dropout", (p,)), st.sampled_from([0.0, 0.5])),
    st.builds(lambda out: Leaf("linear", (out,)), st.integers(1, 8)),
    st.builds(lambda slope: Leaf("leakyrelu", (slope,)), st.sampled_from([0.01, 0.2])),
    st.sampled_from([Leaf(kind) for kind in _ACTIVATIONS]),
    st.builds(lambda init: Leaf("layerscale", (init,)), st.sampled_from([1e-6, 0.5])),
    st.builds(lambda p: Leaf("droppath", (p,)), st.sampled_from([0.0, 0.5])),
)
_SPATIAL = st.one_of(
    _conv(), _conv(), _convtranspose(), _pool("maxpool"), _pool("avgpool"),
    st.builds(lambda size: Leaf("adaptiveavgpool", (size,)), _pair(1, 3)),
    st.builds(lambda size: Leaf("adaptivemaxpool", (size,)), _pair(1, 3)),
    st.just(Leaf("globalavgpool")),
    st.builds(lambda groups: Leaf("groupnorm", (groups,)), st.integers(1, 3)),
    st.builds(lambda size: Leaf("lrn", (size,)), st.integers(1, 3)),
    st.builds(lambda groups: Leaf("shuffle", (groups,)), st.integers(1, 3)),
    st.builds(lambda p: Leaf("dropout2d", (p,)), st.sampled_from([0.0, 0.5])),
    st.builds(lambda scale, mode: Leaf("upsample", (scale,), (("mode", mode),)),
              st.sampled_from([2, 1.5, 0.5, (2, 1)]), st.sampled_from(["nearest", "bilinear"])),
)


@st.composite
def _leaf(draw, vector: bool) -> Leaf:
    """Mostly layers that suit the rank the generator believes the input has; now and then
    any layer at all, so that rank mistakes are made too."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(_ANY_RANK, _SPATIAL))
    return draw(_ANY_RANK if vector else st.one_of(_SPATIAL, _SPATIAL, _ANY_RANK))


@st.composite
def _sequence(draw, depth: int, vector: bool, labels: list[int]) -> tuple[tuple[Statement, ...], bool]:
    """Statements, and whether their output is (believed to be) a vector."""
    body: list[Statement] = []
    for _ in range(draw(st.integers(1, 5 if depth == 0 else 3))):
        choice = draw(st.integers(0, 9)) if depth < 2 else 0
        if choice < 7:
            leaf = draw(_leaf(vector))
            if draw(st.integers(0, 5)) == 0:
                labels.append(len(labels) + 1)
                leaf = Leaf(leaf.kind, leaf.args, leaf.keywords, f"l{labels[-1]}")
            body.append(leaf)
            vector = vector or leaf.kind in ("flatten", "linear")
        elif choice < 8:
            inner, after = draw(_sequence(depth + 1, vector, labels))
            shortcut = draw(st.one_of(st.none(), _sequence(depth + 1, vector, labels).map(lambda s: s[0])))
            body.append(Residual(inner, shortcut))
            vector = after
        else:
            branches = draw(st.lists(_sequence(depth + 1, vector, labels), min_size=1, max_size=3))
            body.append(Branches(draw(st.sampled_from(["concat", "add", "mul", "split"])),
                                 tuple(b for b, _ in branches)))
            vector = branches[0][1]
    return tuple(body), vector


@st.composite
def programs(draw) -> Program:
    image = st.tuples(st.integers(1, 6), st.integers(1, 12), st.integers(1, 12))
    shape = draw(st.one_of(image, image, image, st.tuples(st.integers(1, 16))))
    body, _ = draw(_sequence(0, len(shape) == 1, []))
    return Program(shape, body)
