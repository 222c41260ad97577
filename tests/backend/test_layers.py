"""One network per layer formula: the shape the checker infers (and a hand computation of
the formula) against the shape PyTorch produces. The cases sit where a rule matters: the
ceil-mode last window, dilation, groups, transposed convolution, "same" padding."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

import cnndsl
from cnndsl.backends.torch_module import build

# (statement, input shape, output shape worked out by hand, the module it must become)
CASES = [
    # floor((W + 2P - D*(F - 1) - 1) / S) + 1
    ("conv(2, 3, stride=2)", "1x8x8", (2, 3, 3), nn.Conv2d),
    ("conv(2, 3, dilation=2)", "1x9x9", (2, 5, 5), nn.Conv2d),
    ("conv(2, (3, 2), padding=(1, 2), dilation=(2, 3))", "1x9x10", (2, 7, 11), nn.Conv2d),
    ("conv(6, 3, groups=3)", "3x5x5", (6, 3, 3), nn.Conv2d),
    ("conv(4, 3, padding=1, groups=4)", "4x5x5", (4, 5, 5), nn.Conv2d),
    ("conv(2, 4, padding=\"same\")", "1x7x6", (2, 7, 6), nn.Conv2d),
    ("conv(2, 3, padding=\"same\", dilation=2)", "1x7x7", (2, 7, 7), nn.Conv2d),
    ("conv(2, 3, padding=\"valid\")", "1x7x7", (2, 5, 5), nn.Conv2d),
    # (W - 1)*S - 2P + D*(F - 1) + output_padding + 1
    ("convtranspose(2, 3, stride=2, padding=1, output_padding=1)", "1x5x5", (2, 10, 10), nn.ConvTranspose2d),
    ("convtranspose(2, 3, stride=2, dilation=2)", "1x4x4", (2, 11, 11), nn.ConvTranspose2d),
    ("convtranspose(4, (2, 3), stride=(2, 1), groups=2)", "2x3x3", (4, 6, 5), nn.ConvTranspose2d),
    # ceil mode: ceil instead of floor, but no window may start in the right padding
    ("maxpool(2, ceil=true)", "1x5x5", (1, 3, 3), nn.MaxPool2d),
    ("maxpool(2)", "1x5x5", (1, 2, 2), nn.MaxPool2d),
    ("maxpool(3, stride=2, padding=1, ceil=true)", "1x6x6", (1, 4, 4), nn.MaxPool2d),
    ("maxpool(3, stride=3, padding=1, ceil=true)", "1x5x5", (1, 2, 2), nn.MaxPool2d),
    ("maxpool(2, stride=1, dilation=2)", "1x5x5", (1, 3, 3), nn.MaxPool2d),
    ("maxpool(2, stride=2, dilation=2, ceil=true)", "1x6x6", (1, 3, 3), nn.MaxPool2d),
    ("avgpool(3, stride=2, padding=1, ceil=true)", "1x6x6", (1, 4, 4), nn.AvgPool2d),
    ("avgpool((2, 3))", "1x7x7", (1, 3, 2), nn.AvgPool2d),
    ("adaptiveavgpool((3, 2))", "2x7x5", (2, 3, 2), nn.AdaptiveAvgPool2d),
    ("adaptivemaxpool(3)", "2x7x5", (2, 3, 3), nn.AdaptiveMaxPool2d),
    ("globalavgpool", "3x4x5", (3, 1, 1), nn.AdaptiveAvgPool2d),
    ("upsample(2)", "1x3x4", (1, 6, 8), nn.Upsample),
    ("upsample(1.5)", "1x5x5", (1, 7, 7), nn.Upsample),
    ("upsample((2, 3), mode=\"bilinear\")", "1x2x2", (1, 4, 6), nn.Upsample),
    ("batchnorm", "3x4x4", (3, 4, 4), nn.BatchNorm2d),
    ("batchnorm", "6", (6,), nn.BatchNorm1d),
    ("groupnorm(2)", "4x3x3", (4, 3, 3), nn.GroupNorm),
    ("lrn(3)", "4x5x5", (4, 5, 5), nn.LocalResponseNorm),
    ("flatten", "2x3x4", (24,), nn.Flatten),
    ("linear(5)", "7", (5,), nn.Linear),
    ("dropout2d(0.1)", "2x3x3", (2, 3, 3), nn.Dropout2d),
]


def _compile(statement: str, input_shape: str):
    net = cnndsl.check(f"network T {{\n    input {input_shape}\n    {statement}\n}}\n").network()
    return net, build(net)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's note on cost
@pytest.mark.parametrize(("statement", "input_shape", "expected", "module"), CASES,
                         ids=[f"{s} on {i}" for s, i, _, _ in CASES])
def test_inferred_shape_is_pytorchs(statement: str, input_shape: str, expected: tuple, module: type) -> None:
    net, model = _compile(statement, input_shape)
    (layer,) = list(model.children())
    assert type(layer) is module
    assert net.output_shape == expected
    torch.manual_seed(0)
    out = model.eval()(torch.randn(2, *net.input_shape))
    assert tuple(out.shape) == (2, *expected)


@pytest.mark.parametrize("kind", ["softmax", "logsoftmax"])
def test_softmax_normalises_over_channels(kind: str) -> None:
    _, model = _compile(kind, "4x3x2")
    out = model(torch.randn(2, 4, 3, 2))
    probabilities = out.exp() if kind == "logsoftmax" else out
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(2, 3, 2))


def test_pool_stride_defaults_to_the_kernel() -> None:
    _, model = _compile("maxpool(3)", "1x9x9")
    assert model[0].stride == 3


@pytest.mark.parametrize(("statement", "attribute", "value"), [
    ("leakyrelu(0.2)", "negative_slope", 0.2),
    ("elu(alpha=0.5)", "alpha", 0.5),
    ("dropout(0.3)", "p", 0.3),
    ("batchnorm(eps=0.001, momentum=0.2)", "momentum", 0.2),
    ("lrn(5, alpha=0.0005, beta=0.7, k=2.0)", "k", 2.0),
])
def test_arguments_reach_the_module(statement: str, attribute: str, value: float) -> None:
    _, model = _compile(statement, "4x3x3")
    assert getattr(model[0], attribute) == value


@settings(max_examples=120, deadline=None)
@given(kind=st.sampled_from(["maxpool", "avgpool"]), kernel=st.integers(1, 5), padding=st.integers(0, 3),
       dilation=st.integers(1, 3))
def test_pool_padding_is_refused_exactly_where_pytorch_refuses_it(kind: str, kernel: int, padding: int,
                                                                    dilation: int) -> None:
    """E0106 for a pooling padding PyTorch rejects, nothing for one it takes (dilation
    widens the window, not the padding PyTorch allows)."""
    dilated = f", dilation={dilation}" if kind == "maxpool" else ""
    report = cnndsl.check(f"network P {{ input 1x24x24 {kind}({kernel}, 1, padding={padding}{dilated}) }}")
    module = nn.MaxPool2d(kernel, 1, padding, dilation) if kind == "maxpool" else nn.AvgPool2d(kernel, 1, padding)
    try:
        module(torch.zeros(1, 1, 24, 24))
        accepted = True
    except RuntimeError:
        accepted = False
    assert ("E0106" not in {d.code for d in report.diagnostics}) == accepted
