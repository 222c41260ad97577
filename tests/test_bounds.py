"""Expressions evaluate within bounds, and nothing the file controls sets how deep any pass
recurses: each case ends in its diagnostic, never in an OverflowError or a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import invoke
from cnndsl import limits
from cnndsl.compiler import check_file
from cnndsl.evaluate import show_number
from cnndsl.parser import decode_source


def codes(source: str, **overrides) -> list[str]:
    file, problems = decode_source(source.encode(), "bounds.net")
    assert file is not None, problems
    return [d.code for d in check_file(file, overrides=overrides, every=True).diagnostics]


def net(body: str, params: str = "") -> str:
    return f"network N{params} {{\n    input 1x28x28\n    {body}\n}}\n"


@pytest.mark.parametrize("body", [
    "dropout(1" + "0" * 400 + " / 3)",            # an integer far past a float
    "dropout(" + "9" * 400 + " + 0.5)",           # an int plus a float
    "conv(" + "9" * 5000 + ", 3)",                # past Python's 4,300-digit conversion limit
    "upsample(1e308 * 10)",                       # overflow to infinity
    "dropout(1e308 * 10 - 1e308 * 10)",           # what would be NaN
    "dropout(1e999)",                             # a literal that is infinite
    "upsample(1e300 // 1e-300)",                  # floor of a quotient that overflows
    "conv(4611686018427387904 + 4611686018427387904, 3)",
    "conv(-4611686018427387904 * 2, 3)",
    "linear(99999999999999999999)",               # 20 digits
    "input 99999999999999999999x2",               # a compact shape, too
])
def test_numbers_out_of_range_are_e0038(body: str) -> None:
    found = codes(net(body))
    assert "E0038" in found, found


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 2**63, (1, float("inf"))])
def test_set_values_out_of_range_are_e0038(value) -> None:
    assert codes(net("upsample(s)", "(s = 2)"), s=value) == ["E0038"]


def test_bounds_themselves_are_fine() -> None:
    assert "E0038" not in codes(net("dropout(4611686018427387904 / 4611686018427387904 - 0.5)"))
    assert "E0038" not in codes(net("dropout(1e308 / 1e308 - 0.5)"))


def test_upsample_scale_is_bounded() -> None:
    assert codes(net("upsample(1e300)")) == ["E0036"]


def test_numbers_print_at_any_size() -> None:
    assert show_number(10**5000) == "about 10^5000"
    assert show_number(-(10**40)) == "-about 10^40"
    assert show_number(2**62) == "4611686018427387904"


@pytest.mark.parametrize("body", [
    "conv(1, 1)" + " -> 1x28x28" * 3000,
    "a: " * 3000 + "relu",
    "relu" + " * 1" * 3000,
    "residual { " * 60 + "relu" + " * 1" * 60 + " }" * 60,
])
def test_deep_statements_are_e0005_in_check_and_fmt(body: str, tmp_path: Path) -> None:
    assert codes(net(body)) == ["E0005"]
    path = tmp_path / "deep.net"
    path.write_text(net(body))
    for command in ("check", "fmt"):
        result = invoke([command, path])
        assert result.exit_code == 1 and "E0005" in result.output


def test_nesting_through_block_calls_is_bounded() -> None:
    depth = 95
    blocks = [f"block B{i} {{ " + "residual { " * depth + (f"B{i + 1}" if i < 3 else "relu") + " }" * depth + " }"
              for i in range(4)]
    assert codes("\n".join(blocks) + net("B0")) == ["E0035"]


def test_a_chain_of_thousands_of_blocks_is_checked_without_recursion() -> None:
    n = 3000
    blocks = [f"block B{i} {{ B{i + 1} }}" for i in range(n)] + [f"block B{n} {{ relu }}"]
    assert codes("\n".join(blocks) + net("B0")) == ["E0035"]
    cycle = [f"block B{i} {{ B{(i + 1) % n} }}" for i in range(n)]
    assert codes("\n".join(cycle) + net("B0")) == ["E0018"]



@pytest.mark.parametrize("digits", [20, 5_000])
def test_a_huge_set_value_is_an_integer_out_of_range_at_any_length(tmp_path: Path, digits: int) -> None:
    """`--set classes=999...9` is refused as the same literal in a file is (E0038), also past
    the 4,300 digits that Python's int() takes, never read as a string instead."""
    net = tmp_path / "n.net"
    net.write_text("network N(classes = 10) {\n    input 4\n    linear(classes)\n}\n")
    result = invoke(["check", str(net), "--set", f"classes={'9' * digits}"])
    assert result.exit_code == 1 and "error[E0038]: integer out of range" in result.output
    assert "expected an integer" not in result.output and len(result.output) < 2_000


def test_the_networks_of_a_file_share_one_expansion_budget() -> None:
    """Each network within the bound, thirty of them far past it: `check` expands every
    network of a file, so the bound holds for the file."""
    one = "network A{n}{{input 4x1x1 conv(4, 1) * 49000}}\n"
    assert codes(one.format(n=0)) == []
    report = check_file(decode_source("".join(one.format(n=n) for n in range(30)).encode(), "many.net")[0],
                        every=True)
    errors = [d for d in report.diagnostics if d.code == "E0034"]
    first = errors[0].span.line  # the first network past the budget, and every one after it
    assert first in (2, 3) and [d.span.line for d in errors] == list(range(first, 31))
    assert "the networks of this file expand together" in errors[0].message
