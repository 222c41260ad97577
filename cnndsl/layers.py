"""The layer table: every layer's signature, shape rule, parameter count and MAC count.

One entry per layer of LANGUAGE.md. This module is pure Python on purpose: `check` and
`summary` read it without importing torch; the torch backend maps the same names to modules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, TypedDict, cast

from . import codes, limits
from .codes import Code
from .diagnostics import Diagnostic, Label, error, insert_before, warning
from .ir import Shape, Value, format_shape
from .source import Span

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One parameter of a layer. `kind` names the accepted values:
    int, pair (int or (h, w)), padding (pair, "same" or "valid"), size (adaptive output),
    float, bool, str, scale (number or pair of numbers)."""

    name: str
    kind: str
    default: object = REQUIRED
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


@dataclass
class ShapeContext:
    """What a shape rule sees: the bound arguments, their spans and a diagnostic sink."""

    layer: str
    args: Mapping[str, Value]
    in_shape: Shape
    span: Span
    arg_spans: Mapping[str, Span]
    previous: Span | None = None      # the statement that produced the input, if any
    diagnostics: list[Diagnostic] = field(default_factory=list)
    uncovered: list["Uncovered"] = field(default_factory=list)
    derivation: list[str] = field(default_factory=list)

    def span_of(self, arg: str | None) -> Span:
        return self.arg_spans.get(arg, self.span) if arg else self.span

    def fail(self, code: Code, message: str, arg: str | None = None, label: str = "", **kw) -> None:
        self.diagnostics.append(error(code, message, self.span_of(arg), label, **kw))

    def warn(self, code: Code, message: str, arg: str | None = None, label: str = "", **kw) -> None:
        self.diagnostics.append(warning(code, message, self.span_of(arg), label, **kw))


ShapeRule = Callable[[ShapeContext], "Shape | None"]
Counter = Callable[[Mapping[str, Value], Shape, Shape], int]


@dataclass(frozen=True)
class LayerSpec:
    """What the compiler knows of one layer: its parameters, the module it becomes, its shape
    rule and its counts."""

    name: str
    params: tuple[Param, ...]
    module: str                       # the PyTorch module it becomes (for docs and messages)
    rule: ShapeRule
    count_params: Counter = lambda args, i, o: 0
    count_macs: Counter = lambda args, i, o: 0
    spatial: bool = False             # needs a CxHxW input
    # In training, each sample's output depends on that sample alone: no statistics over the
    # batch, no draws from a random stream (a step's batch may then be shared among threads).
    per_sample: bool = True


# ---- shape rules -------------------------------------------------------------------------

@dataclass(frozen=True)
class Uncovered:
    """One axis whose last real rows (or columns) no window reads, and what would fix it."""

    axis: str
    size: int
    lost: int
    derivation: str
    padding_fix: int | None
    grown: int

    @property
    def unit(self) -> str:
        return ("row" if self.axis == "H" else "column") + ("s" if self.lost > 1 else "")


AXES = ("H", "W")


def _window_axis(ctx: ShapeContext, axis: int, size: int, kernel: int, stride: int, padding: int,
                 dilation: int, ceil: bool) -> int | None:
    """The output length of a sliding window along one axis, with PyTorch's rules."""
    name = AXES[axis]
    span_num = size + 2 * padding - dilation * (kernel - 1) - 1
    effective = f"{kernel}" if dilation == 1 else f"{dilation}*({kernel} - 1) + 1"
    formula = f"({size} - {effective} + 2*{padding})/{stride} + 1"
    if span_num < 0:
        what = "the window is larger than the padded input" if ceil else \
            f"{name} would be {span_num // stride + 1}: the window is larger than the input"
        ctx.fail(codes.E0102, what,
                 "kernel", f"window {dilation * (kernel - 1) + 1} on a padded {name} of {size + 2 * padding}",
                 notes=(f"{name} = {formula} = {span_num / stride + 1:g}",),
                 help=f"use a smaller kernel, more padding, or a larger input (at least "
                      f"{dilation * (kernel - 1) + 1 - 2 * padding} along {name})")
        return None
    if ceil:
        out = -(-span_num // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
        ctx.derivation.append(f"{name} = ceil({formula[:-4]}) + 1 = {out}")
        return out
    out = span_num // stride + 1
    exact = span_num % stride == 0
    ctx.derivation.append(f"{name} = {formula} = {out}" if exact
                          else f"{name} = {formula} = {span_num / stride + 1:g}, floored to {out}")
    if not exact:
        _note_uncovered(ctx, name, size, kernel, stride, padding, dilation, formula, span_num / stride + 1)
    return out


def _uncovered(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """How many real rows (not padding) at the far edge no window ever reads."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    last_read = (out - 1) * stride + dilation * (kernel - 1)
    return max(0, padding + size - 1 - last_read)


def _note_uncovered(ctx: ShapeContext, name: str, size: int, kernel: int, stride: int, padding: int,
                    dilation: int, formula: str, exact: float) -> None:
    """Remember an axis whose last real rows or columns no window reads (for W0201).

    A window narrower than its stride skips rows everywhere by design (a 1x1 convolution
    with stride 2), so the edge is not worth a warning there."""
    lost = _uncovered(size, kernel, stride, padding, dilation)
    if not lost or dilation * (kernel - 1) + 1 < stride:
        return
    pad = next((p for p in range(padding + 1, padding + stride + 1)
                if _uncovered(size, kernel, stride, p, dilation) == 0
                and (ctx.layer == "conv" or 2 * p <= dilation * (kernel - 1) + 1)), None)
    grown = next(n for n in range(size + 1, size + stride + 1) if _uncovered(n, kernel, stride, padding, dilation) == 0)
    ctx.uncovered.append(Uncovered(name, size, lost, f"{name} = {formula} = {exact:g}", pad, grown))


def _warn_uncovered(ctx: ShapeContext) -> None:
    """W0201, once per layer, naming every axis that loses rows or columns."""
    if not ctx.uncovered:
        return
    parts = [f"{u.lost} {u.unit} of its {u.size}-long {u.axis} axis" for u in ctx.uncovered]
    fixes = sorted({f"padding={u.padding_fix}" for u in ctx.uncovered if u.padding_fix is not None})
    if len(ctx.uncovered) == 2:
        fixes.append("an input of " + "x".join(str(u.grown) for u in ctx.uncovered))
    else:
        fixes.append(f"an input {ctx.uncovered[0].axis} of {ctx.uncovered[0].grown}")
    ctx.warn(codes.W0201, f"{ctx.layer} never reads the last {' and '.join(parts)}", None,
             "drops " + " and ".join(f"{u.lost} {u.unit}" for u in ctx.uncovered),
             notes=("; ".join(f"{u.derivation} is not an integer" for u in ctx.uncovered),),
             help=f"to cover the whole input use {' or '.join(fixes)}")


# Shape rules and counters run on arguments that `evaluate.coerce` has checked against the
# parameter's kind, so these casts only tell mypy what the layer table already guarantees.

def _int(value: Value) -> int:
    """An argument of kind int."""
    return cast(int, value)


def _pair(value: Value) -> tuple[int, int]:
    """An argument of kind pair, which coerce makes an (h, w) tuple; a bare int (a default read
    with `args.get`) stands for both axes."""
    return cast("tuple[int, int]", value) if isinstance(value, tuple) else (_int(value), _int(value))


def conv_rule(ctx: ShapeContext) -> Shape | None:
    c, h, w = ctx.in_shape
    a = ctx.args
    groups, out = _int(a["groups"]), _int(a["out"])
    ok = True
    if c % groups:
        ctx.fail(codes.E0105, f"{c} input channels are not divisible by groups={groups}", "groups",
                 f"{c} channels", help=f"use a number of groups that divides {c}")
        ok = False
    if out % groups:
        ctx.fail(codes.E0105, f"{out} output channels are not divisible by groups={groups}", "out",
                 f"{out} channels", help=f"use a multiple of {groups} output channels")
        ok = False
    kernel, stride, dilation = _pair(a["kernel"]), _pair(a["stride"]), _pair(a["dilation"])
    if a["padding"] == "same":
        if stride != (1, 1):
            ctx.fail(codes.E0112, "padding=\"same\" needs stride 1", "padding", "\"same\" padding",
                     help="give the padding as a number, or use stride=1")
            return None
        ctx.derivation.append("H, W unchanged (padding=\"same\")")
        return (out, h, w) if ok else None
    padding = _pair(a["padding"])
    dims = [_window_axis(ctx, i, (h, w)[i], kernel[i], stride[i], padding[i], dilation[i], False)
            for i in range(2)]
    if dims[0] is None or dims[1] is None or not ok:
        return None
    return (out, dims[0], dims[1])


def convtranspose_rule(ctx: ShapeContext) -> Shape | None:
    c, h, w = ctx.in_shape
    a = ctx.args
    groups, channels = _int(a["groups"]), _int(a["out"])
    if c % groups or channels % groups:
        ctx.fail(codes.E0105, f"channels {c} -> {channels} are not divisible by groups={groups}", "groups",
                 help="use a number of groups that divides both channel counts")
        return None
    kernel, stride, padding = _pair(a["kernel"]), _pair(a["stride"]), _pair(a["padding"])
    out_pad, dilation = _pair(a["output_padding"]), _pair(a["dilation"])
    dims = []
    for i, size in enumerate((h, w)):
        if out_pad[i] >= max(stride[i], dilation[i]):
            ctx.fail(codes.E0036, f"output_padding {out_pad[i]} must be smaller than the stride {stride[i]}",
                     "output_padding", help="use an output_padding below the stride")
            return None
        out = (size - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + out_pad[i] + 1
        ctx.derivation.append(f"{AXES[i]} = ({size} - 1)*{stride[i]} - 2*{padding[i]} + "
                              f"{dilation[i]}*({kernel[i]} - 1) + {out_pad[i]} + 1 = {out}")
        if out <= 0:
            ctx.fail(codes.E0102, f"{AXES[i]} would be {out}: the padding removes more than the layer produces",
                     "padding", help="use less padding")
            return None
        dims.append(out)
    return (channels, dims[0], dims[1])


def _pool_padding_ok(ctx: ShapeContext, kernel: tuple[int, int], padding: tuple[int, int]) -> bool:
    """PyTorch pads a pooling window by at most half its kernel (rounded down), whatever the
    dilation: a wider effective window does not allow more padding."""
    for i in range(2):
        if padding[i] > kernel[i] // 2:
            ctx.fail(codes.E0106, f"padding {padding[i]} is more than half the kernel {kernel[i]}",
                     "padding", "too much padding",
                     help=f"use padding at most {kernel[i] // 2}")
            return False
    return True


def pool_rule(ctx: ShapeContext) -> Shape | None:
    c, h, w = ctx.in_shape
    a = ctx.args
    kernel = _pair(a["kernel"])
    stride = _pair(a["stride"] if a["stride"] is not None else a["kernel"])
    padding, dilation = _pair(a["padding"]), _pair(a.get("dilation", 1))
    if not _pool_padding_ok(ctx, kernel, padding):
        return None
    ceil = cast(bool, a["ceil"])  # a bool parameter, checked by coerce
    dims = [_window_axis(ctx, i, (h, w)[i], kernel[i], stride[i], padding[i], dilation[i], ceil)
            for i in range(2)]
    return None if dims[0] is None or dims[1] is None else (c, dims[0], dims[1])


def adaptive_rule(ctx: ShapeContext) -> Shape | None:
    size = _pair(ctx.args["size"])
    return (ctx.in_shape[0], size[0], size[1])


def global_rule(ctx: ShapeContext) -> Shape | None:
    return (ctx.in_shape[0], 1, 1)


def same_rule(ctx: ShapeContext) -> Shape | None:
    return ctx.in_shape


def groupnorm_rule(ctx: ShapeContext) -> Shape | None:
    c, groups = ctx.in_shape[0], _int(ctx.args["groups"])
    if c % groups:
        ctx.fail(codes.E0105, f"{c} channels are not divisible by groups={groups}", "groups",
                 help=f"use a number of groups that divides {c}")
        return None
    return ctx.in_shape


def shuffle_rule(ctx: ShapeContext) -> Shape | None:
    c, groups = ctx.in_shape[0], _int(ctx.args["groups"])
    if c % groups:
        ctx.fail(codes.E0105, f"{c} channels cannot be shuffled in groups={groups}: {c} is not divisible by {groups}",
                 "groups", f"{c} channels", help=f"use a number of groups that divides {c}")
        return None
    return ctx.in_shape


def droppath_rule(ctx: ShapeContext) -> Shape | None:
    p = cast(float, ctx.args["p"])  # a float of at least 0, checked by coerce
    if p >= 1:
        ctx.fail(codes.E0036, f"`p` of `droppath` must be below 1, found {p:g}", "p", "drops every sample",
                 help="p is the probability that a sample skips the path; use a value in [0, 1)")
        return None
    return ctx.in_shape


def flatten_rule(ctx: ShapeContext) -> Shape | None:
    size = math.prod(ctx.in_shape)
    if len(ctx.in_shape) > 1:
        ctx.derivation.append(f"{' * '.join(map(str, ctx.in_shape))} = {size}")
    return (size,)


def linear_rule(ctx: ShapeContext) -> Shape | None:
    if len(ctx.in_shape) != 1:
        features = math.prod(ctx.in_shape)
        ctx.fail(codes.E0104, f"`linear` needs a flat vector, but its input is {format_shape(ctx.in_shape)}",
                 None, "expects a vector", secondary=(Label(ctx.previous, f"output is {format_shape(ctx.in_shape)} "
                                                           f"({features} values)"),) if ctx.previous else (),
                 help=f"insert `flatten` before line {ctx.span.line} (it produces {features} features)",
                 fixes=(insert_before(ctx.span, "flatten", "insert `flatten`"),))
        return None
    return (_int(ctx.args["out"]),)


def upsample_rule(ctx: ShapeContext) -> Shape | None:
    c, h, w = ctx.in_shape
    scale = ctx.args["scale"]
    sh, sw = scale if isinstance(scale, tuple) else (scale, scale)
    out_h, out_w = math.floor(h * sh), math.floor(w * sw)
    for axis, size, factor, out in ((0, h, sh, out_h), (1, w, sw, out_w)):
        if out < 1:
            unit = "rows" if axis == 0 else "columns"
            ctx.fail(codes.E0102, f"{AXES[axis]} would be {out}: scaling {size} by {factor:g} leaves no {unit}",
                     "scale", f"floor({size} * {factor:g}) = {out}",
                     help=f"use a scale of at least {1 / size:g}, or a larger input")
            return None
    return (c, out_h, out_w)


# ---- counting ----------------------------------------------------------------------------

def conv_params(a: Mapping[str, Value], i: Shape, o: Shape) -> int:
    kh, kw = _pair(a["kernel"])
    out = _int(a["out"])
    return out * (i[0] // _int(a["groups"])) * kh * kw + (out if a["bias"] else 0)


def conv_macs(a: Mapping[str, Value], i: Shape, o: Shape) -> int:
    kh, kw = _pair(a["kernel"])
    return o[0] * o[1] * o[2] * (i[0] // _int(a["groups"])) * kh * kw


def convtranspose_macs(a: Mapping[str, Value], i: Shape, o: Shape) -> int:
    kh, kw = _pair(a["kernel"])
    return i[0] * i[1] * i[2] * (_int(a["out"]) // _int(a["groups"])) * kh * kw


def norm_params(a: Mapping[str, Value], i: Shape, o: Shape) -> int:
    return 2 * i[0]


def layerscale_params(a: Mapping[str, Value], i: Shape, o: Shape) -> int:
    return i[0]


def linear_params(a: Mapping[str, Value], i: Shape, o: Shape) -> int:
    out = _int(a["out"])
    return i[0] * out + (out if a["bias"] else 0)


def linear_macs(a: Mapping[str, Value], i: Shape, o: Shape) -> int:
    return i[0] * _int(a["out"])


# ---- the table ---------------------------------------------------------------------------

class _Bound(TypedDict):
    """A lower bound spread into `Param(...)`; typed so that mypy sees which keyword it fills."""

    minimum: float


POS = _Bound(minimum=1)
NONNEG = _Bound(minimum=0)


def _activation(name: str, module: str, *params: Param) -> LayerSpec:
    return LayerSpec(name, params, module, same_rule)


_WINDOW = (Param("kernel", "pair", **POS), Param("stride", "pair", None, **POS), Param("padding", "pair", 0, **NONNEG))

LAYERS: dict[str, LayerSpec] = {spec.name: spec for spec in (
    LayerSpec("conv", (Param("out", "int", **POS), Param("kernel", "pair", **POS), Param("stride", "pair", 1, **POS),
                       Param("padding", "padding", 0, **NONNEG), Param("dilation", "pair", 1, **POS),
                       Param("groups", "int", 1, **POS), Param("bias", "bool", True)),
              "Conv2d", conv_rule, conv_params, conv_macs, spatial=True),
    LayerSpec("convtranspose", (Param("out", "int", **POS), Param("kernel", "pair", **POS),
                                Param("stride", "pair", 1, **POS), Param("padding", "pair", 0, **NONNEG),
                                Param("output_padding", "pair", 0, **NONNEG), Param("groups", "int", 1, **POS),
                                Param("bias", "bool", True), Param("dilation", "pair", 1, **POS)),
              "ConvTranspose2d", convtranspose_rule, conv_params, convtranspose_macs, spatial=True),
    LayerSpec("maxpool", _WINDOW + (Param("dilation", "pair", 1, **POS), Param("ceil", "bool", False)),
              "MaxPool2d", pool_rule, spatial=True),
    LayerSpec("avgpool", _WINDOW + (Param("ceil", "bool", False),), "AvgPool2d", pool_rule, spatial=True),
    LayerSpec("adaptiveavgpool", (Param("size", "pair", **POS),), "AdaptiveAvgPool2d", adaptive_rule, spatial=True),
    LayerSpec("adaptivemaxpool", (Param("size", "pair", **POS),), "AdaptiveMaxPool2d", adaptive_rule, spatial=True),
    LayerSpec("globalavgpool", (), "AdaptiveAvgPool2d", global_rule, spatial=True),
    LayerSpec("batchnorm", (Param("eps", "float", 1e-5, minimum=0), Param("momentum", "float", 0.1, minimum=0)),
              "BatchNorm2d", same_rule, norm_params, per_sample=False),
    LayerSpec("groupnorm", (Param("groups", "int", **POS), Param("eps", "float", 1e-5, minimum=0)),
              "GroupNorm", groupnorm_rule, norm_params),
    LayerSpec("layernorm", (Param("eps", "float", 1e-5, minimum=0),), "LayerNorm", same_rule, norm_params),
    LayerSpec("layerscale", (Param("init", "float", 1e-6),), "LayerScale", same_rule, layerscale_params),
    LayerSpec("shuffle", (Param("groups", "int", **POS),), "ChannelShuffle", shuffle_rule, spatial=True),
    LayerSpec("droppath", (Param("p", "float", minimum=0),), "StochasticDepth", droppath_rule, per_sample=False),
    LayerSpec("lrn", (Param("size", "int", **POS), Param("alpha", "float", 1e-4), Param("beta", "float", 0.75),
                      Param("k", "float", 1.0)), "LocalResponseNorm", same_rule, spatial=True),
    LayerSpec("dropout", (Param("p", "float", 0.5, minimum=0, maximum=1),), "Dropout", same_rule, per_sample=False),
    LayerSpec("dropout2d", (Param("p", "float", 0.5, minimum=0, maximum=1),), "Dropout2d", same_rule, spatial=True, per_sample=False),
    LayerSpec("flatten", (), "Flatten", flatten_rule),
    LayerSpec("linear", (Param("out", "int", **POS), Param("bias", "bool", True)),
              "Linear", linear_rule, linear_params, linear_macs),
    LayerSpec("upsample", (Param("scale", "scale", minimum=0, maximum=limits.MAX_ACTIVATION_ELEMENTS),
                           Param("mode", "str", "nearest", choices=("nearest", "nearest-exact", "bilinear", "bicubic", "area"))),
              "Upsample", upsample_rule, spatial=True),
    _activation("relu", "ReLU"),
    _activation("relu6", "ReLU6"),
    _activation("leakyrelu", "LeakyReLU", Param("slope", "float", 0.01)),
    _activation("elu", "ELU", Param("alpha", "float", 1.0)),
    _activation("gelu", "GELU"),
    _activation("silu", "SiLU"),
    _activation("mish", "Mish"),
    _activation("hardswish", "Hardswish"),
    _activation("hardsigmoid", "Hardsigmoid"),
    _activation("sigmoid", "Sigmoid"),
    _activation("tanh", "Tanh"),
    _activation("softmax", "Softmax"),
    _activation("logsoftmax", "LogSoftmax"),
    _activation("identity", "Identity"),
)}

def lookup(name: str) -> LayerSpec | None:
    """Layer names are case-insensitive keywords."""
    return LAYERS.get(name.lower())


def infer(spec: LayerSpec, args: Mapping[str, Value], in_shape: Shape, span: Span,
          arg_spans: Mapping[str, Span], previous: Span | None = None) -> tuple[Shape | None, ShapeContext]:
    """Run a layer's shape rule on an input shape; the context keeps derivation and diagnostics."""
    ctx = ShapeContext(spec.name, args, in_shape, span, arg_spans, previous)
    if spec.spatial and len(in_shape) != 3:
        ctx.fail(codes.E0103, f"`{spec.name}` needs a CxHxW input, but its input is the vector {format_shape(in_shape)}",
                 None, "expects an image-shaped input",
                 help="move it before the `flatten`, or use a layer made for vectors")
        return None, ctx
    if spec.name == "batchnorm" and len(in_shape) not in (1, 3):
        ctx.fail(codes.E0103, f"`batchnorm` needs a vector or a CxHxW input, not {format_shape(in_shape)}", None)
        return None, ctx
    out = spec.rule(ctx)
    _warn_uncovered(ctx)
    return out, ctx
