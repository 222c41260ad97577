"""Shape rules, one test per formula, plus properties against a brute-force count of windows."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, strategies as st

import cnndsl
from cnndsl.layers import _uncovered


def out_shape(layer: str, input: str = "3x32x32") -> tuple[int, ...]:
    return cnndsl.check(f"network A {{ input {input} {layer} }}").network().output_shape


def diagnostics(layer: str, input: str = "3x32x32") -> list[str]:
    return [d.code for d in cnndsl.check(f"network A {{ input {input} {layer} }}").diagnostics]


@pytest.mark.parametrize("layer, expected", [
    ("conv(6, 5)", (6, 28, 28)),                                  # (32 - 5 + 0)/1 + 1
    ("conv(6, 5, stride=2, padding=2)", (6, 16, 16)),             # (32 - 5 + 4)/2 + 1 = 16.5 -> 16
    ("conv(6, 3, dilation=2)", (6, 28, 28)),                      # effective kernel 5
    ("conv(6, 3, dilation=(1, 3), padding=(1, 3))", (6, 32, 32)),
    ("conv(6, 3, groups=3)", (6, 30, 30)),
    ('conv(6, 4, padding="same")', (6, 32, 32)),
    ("convtranspose(4, 2, stride=2)", (4, 64, 64)),               # (32 - 1)*2 + 1*(2 - 1) + 1
    ("convtranspose(4, 3, stride=2, padding=1, output_padding=1)", (4, 64, 64)),
    ("convtranspose(4, 3, dilation=2)", (4, 36, 36)),
    ("maxpool(2)", (3, 16, 16)),
    ("maxpool(3, 2)", (3, 15, 15)),
    ("maxpool(3, 2, ceil=true)", (3, 16, 16)),
    ("maxpool(3, 2, padding=1, dilation=2)", (3, 15, 15)),
    ("avgpool(3, stride=3, ceil=true)", (3, 11, 11)),
    ("avgpool(2, 2, 1)", (3, 17, 17)),
    ("adaptiveavgpool((6, 4))", (3, 6, 4)),
    ("globalavgpool", (3, 1, 1)),
    ("upsample(2)", (3, 64, 64)),
    ("upsample(1.5)", (3, 48, 48)),
    ("flatten", (3072,)),
])
def test_formula(layer: str, expected: tuple[int, ...]) -> None:
    assert out_shape(layer) == expected


def test_ceil_mode_last_window_must_start_inside() -> None:
    # PyTorch drops a last window that would start in the right padding
    assert out_shape("maxpool(2, 2, 1, ceil=true)", "1x4x4") == (1, 3, 3)


def test_linear_and_batchnorm_on_vectors() -> None:
    assert out_shape("batchnorm linear(7)", "12") == (7,)


@pytest.mark.parametrize("layer, code", [
    ("conv(6, 33)", "E0102"),
    ("maxpool(64)", "E0102"),
    ("conv(8, 3, groups=2)", "E0105"),
    ("conv(7, 3, groups=3)", "E0105"),
    ("groupnorm(2)", "E0105"),
    ("maxpool(3, padding=2)", "E0106"),
    ("avgpool(2, padding=2)", "E0106"),
    ("convtranspose(4, 3, stride=2, output_padding=2)", "E0036"),
    ('conv(4, 3, stride=2, padding="same")', "E0112"),
    ('conv(4, 3, padding="full")', "E0030"),
    ("linear(4)", "E0104"),
])
def test_rejections(layer: str, code: str) -> None:
    assert code in diagnostics(layer)


@pytest.mark.parametrize("layer", ["conv(4, 3)", "maxpool(2)", "lrn(3)", "dropout2d", "upsample(2)", "globalavgpool"])
def test_spatial_layers_reject_vectors(layer: str) -> None:
    assert "E0103" in diagnostics(layer, "16")


def brute_force_windows(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool) -> int:
    """Enumerate window starts as PyTorch's pooling defines them: a window must fit in the
    padded input, except that ceil mode admits one last partial window, provided it
    starts inside the input or its left padding."""
    reach = dilation * (kernel - 1) + 1
    slack = stride - 1 if ceil else 0
    starts = [k * stride for k in range(size + 2 * padding + 1) if k * stride + reach <= size + 2 * padding + slack]
    return len([s for s in starts if not ceil or s == 0 or s < size + padding])


@given(size=st.integers(1, 64), kernel=st.integers(1, 7), stride=st.integers(1, 4),
       padding=st.integers(0, 3), dilation=st.integers(1, 3), ceil=st.booleans())
def test_pool_formula_matches_enumeration(size, kernel, stride, padding, dilation, ceil) -> None:
    reach = dilation * (kernel - 1) + 1
    assume(padding <= kernel // 2 and reach <= size + 2 * padding)
    source = f"maxpool(({kernel}, 1), ({stride}, 1), ({padding}, 0), ({dilation}, 1), {str(ceil).lower()})"
    assert out_shape(source, f"1x{size}x1")[1] == brute_force_windows(size, kernel, stride, padding, dilation, ceil)


@given(size=st.integers(1, 64), kernel=st.integers(1, 7), stride=st.integers(1, 4), padding=st.integers(0, 3))
def test_conv_formula_is_the_tutorials(size, kernel, stride, padding) -> None:
    assume(kernel <= size + 2 * padding)
    expected = math.floor((size - kernel + 2 * padding) / stride) + 1
    assert out_shape(f"conv(1, ({kernel}, 1), ({stride}, 1), ({padding}, 0))", f"1x{size}x1")[1] == expected


@given(size=st.integers(1, 40), kernel=st.integers(1, 6), stride=st.integers(1, 4), padding=st.integers(0, 2))
def test_uncovered_rows_are_really_unread(size, kernel, stride, padding) -> None:
    assume(kernel <= size + 2 * padding)
    read = set()
    out = (size + 2 * padding - kernel) // stride + 1
    for o in range(out):
        read.update(range(o * stride - padding, o * stride - padding + kernel))
    beyond_last_window = [row for row in range(size) if row > max(read)]
    assert _uncovered(size, kernel, stride, padding, 1) == len(beyond_last_window)


def test_uncovered_warning_names_rows_and_fix() -> None:
    report = cnndsl.check("network A { input 64x5x5 maxpool(2) }")
    [warning] = report.diagnostics
    assert warning.code == "W0201" and "padding=1" in warning.help and "6x6" in warning.help


def test_no_uncovered_warning_when_only_padding_is_skipped() -> None:
    # ResNet's stem: (224 - 7 + 6)/2 + 1 = 112.5, but the unread column is padding
    assert diagnostics("conv(64, 7, stride=2, padding=3)", "3x224x224") == []


def test_no_uncovered_warning_for_strided_pointwise_convolution() -> None:
    assert diagnostics("conv(8, 1, stride=2)", "3x7x7") == []
