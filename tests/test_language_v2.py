"""Language version 2 (LANGUAGE-v2.md) through the static pipeline: the constructs, the
layers' shapes and counts, the builtins `height` and `width`, shape assertions that take
expressions, and that version 1 files keep their meaning or fail loudly."""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl import ir


def net(source: str, **params) -> ir.Network:
    return cnndsl.check(source, **params).network()


def codes(source: str, **params) -> list[str]:
    return [d.code for d in cnndsl.check(source, every=True, **params).diagnostics]


def messages(source: str) -> list[str]:
    report = cnndsl.check(source, every=True)
    return [f"{d.code} {d.message} | {' '.join(d.notes)} | {d.help}" for d in report.diagnostics]


def kinds(network: ir.Network) -> list[str]:
    return [layer.kind for layer in ir.leaves(network.body)]


# ---- mul and broadcasting add ------------------------------------------------------------

SE = """
block SE(c, squeeze) {
    mul {
        branch { }
        branch { globalavgpool conv(squeeze, 1) silu conv(c, 1) sigmoid }
    }
}
network N { input 16x8x8 SE(channels, channels / 4) -> 16x8x8 }
"""


def test_squeeze_and_excitation_keeps_the_shape_and_counts_only_its_convolutions() -> None:
    info = cnndsl.summary(SE)
    assert info["output"] == [16, 8, 8]
    assert info["total_params"] == (16 * 4 + 4) + (4 * 16 + 16)
    assert info["macs"] == 16 * 4 + 4 * 16  # the two 1x1 convolutions on a 1x1 map; mul counts none


@pytest.mark.parametrize("op", ["add", "mul"])
def test_a_cx1x1_operand_broadcasts_over_the_common_size(op: str) -> None:
    both = f"network N {{ input 8x4x4 {op} {{ branch {{ globalavgpool }} branch {{ conv(8, 1) }} branch {{ }} }} }}"
    assert net(both).output_shape == (8, 4, 4)
    only_1x1 = f"network N {{ input 8x4x4 {op} {{ branch {{ globalavgpool }} branch {{ maxpool(4) }} }} }}"
    assert net(only_1x1).output_shape == (8, 1, 1)
    vectors = f"network N {{ input 6 {op} {{ branch {{ linear(6) }} branch {{ }} }} }}"
    assert net(vectors).output_shape == (6,)


@pytest.mark.parametrize("op, code", [("add", "E0109"), ("mul", "E0113")])
@pytest.mark.parametrize("branches", [
    "branch { conv(4, 1) } branch { }",                    # channels differ
    "branch { maxpool(2) } branch { }",                    # two sizes, neither 1x1
    "branch { globalavgpool conv(4, 1) } branch { }",      # a 1x1 operand with other channels
    "branch { flatten } branch { flatten linear(64) }",    # vectors of different lengths
])
def test_operands_that_do_not_broadcast_are_rejected(op: str, code: str, branches: str) -> None:
    assert codes(f"network N {{ input 8x4x4 {op} {{ {branches} }} }}") == [code]


def test_residual_stays_strict() -> None:
    assert codes("network N { input 8x4x4 residual { globalavgpool } }") == ["E0107"]


# ---- split and empty branches -----------------------------------------------------------

def test_split_gives_each_branch_one_chunk_and_joins_the_outputs() -> None:
    network = net("network N { input 12x4x4 split { branch { conv(channels * 2, 1) } branch { } branch { } } }")
    split = network.body[0]
    assert isinstance(split, ir.Branches) and split.op == "split"
    assert split.branches[0][0].in_shape == (4, 4, 4) and split.branches[0][0].out_shape == (8, 4, 4)
    assert network.output_shape == (16, 4, 4)
    assert net("network N { input 12 split { branch { linear(2) } branch { } } }").output_shape == (8,)


def test_split_needs_channels_divisible_by_its_branches() -> None:
    found = messages("network N { input 10x4x4 split { branch { } branch { } branch { } } }")
    assert len(found) == 1 and found[0].startswith("E0114 `split` cannot cut 10 channels into 3 equal parts")
    assert codes("network N { input 8x4x4 split { branch { maxpool(2) } branch { } } }") == ["E0108"]


@pytest.mark.parametrize("op, output", [("concat", (16, 4, 4)), ("add", (8, 4, 4)), ("mul", (8, 4, 4)),
                                        ("split", (8, 4, 4))])
def test_an_empty_branch_is_the_identity(op: str, output: tuple[int, ...]) -> None:
    network = net(f"network N {{ input 8x4x4 {op} {{ branch {{ }} branch {{ }} }} }}")
    assert network.output_shape == output and kinds(network) == []


def test_an_unknown_construct_gets_a_did_you_mean() -> None:
    found = messages("network N { input 8x4x4 mull { branch { } } }")
    assert len(found) == 1 and found[0].startswith("E0010 unknown construct `mull`")
    assert found[0].endswith("did you mean `mul`?")


def test_version_one_labels_and_blocks_named_mul_or_split_keep_their_meaning() -> None:
    network = net("block split { relu }\nnetwork N { input 4 mul: linear(4) split }")
    assert kinds(network) == ["linear", "relu"] and network.body[0].name == "mul"


# ---- zero repeat counts -----------------------------------------------------------------

def test_a_zero_count_expands_nothing() -> None:
    network = net("network N(depth = 0) { input 4 relu * depth repeat depth { linear(9) } linear(2) }")
    assert kinds(network) == ["linear"] and network.output_shape == (2,)
    assert net("network N { input 4 linear(8) * 0 -> 4 }").output_shape == (4,)


def test_names_under_a_zero_count_are_still_resolved() -> None:
    assert codes("network N { input 4 repeat 0 { rleu } }") == ["E0010"]
    assert codes("network N { input 4 linear(nope) * 0 }") == ["E0011"]


@pytest.mark.parametrize("count, code", [("-1", "E0033"), ("1.5", "E0030"), ("true", "E0030")])
def test_negative_and_fractional_counts_stay_errors(count: str, code: str) -> None:
    assert codes(f"network N {{ input 4 relu * ({count}) }}") == [code]


# ---- the new layers ------------------------------------------------------------------------

@pytest.mark.parametrize("layer, shape, params", [
    ("hardsigmoid", (6, 4, 4), 0), ("layernorm", (6, 4, 4), 12), ("layernorm", (6,), 12),
    ("layerscale", (6, 4, 4), 6), ("layerscale", (6,), 6), ("shuffle(3)", (6, 4, 4), 0),
    ("droppath(0.2)", (6, 4, 4), 0), ("droppath(0.2)", (6,), 0),
])
def test_new_layers_keep_the_shape_hold_their_parameters_and_count_no_macs(
        layer: str, shape: tuple[int, ...], params: int) -> None:
    info = cnndsl.summary(f"network N {{ input {'x'.join(map(str, shape))} {layer} }}")
    assert info["output"] == list(shape) and info["total_params"] == params and info["macs"] == 0


def test_layer_defaults_are_pytorchs_and_torchvisions() -> None:
    layers = ir.leaves(net("network N { input 6x4x4 layernorm layerscale }").body)
    assert layers[0].args == {"eps": 1e-5} and layers[1].args == {"init": 1e-6}


@pytest.mark.parametrize("source, code", [
    ("input 6x4x4 shuffle(4)", "E0105"),
    ("input 6 shuffle(2)", "E0103"),
    ("input 6 droppath(1)", "E0036"),
    ("input 6 droppath(-0.1)", "E0036"),
    ("input 6 droppath", "E0014"),
    ("input 6 layernorm(eps=-1)", "E0036"),
])
def test_new_layers_reject_what_cannot_work(source: str, code: str) -> None:
    assert codes(f"network N {{ {source} }}") == [code]


# ---- height and width --------------------------------------------------------------------

def test_height_and_width_are_the_spatial_size_reaching_the_statement() -> None:
    network = net("network N { input 3x12x10 conv(8, 3) conv(4, (height, width)) -> 4x1x1 }")
    assert ir.leaves(network.body)[1].args["kernel"] == (10, 8)


def test_block_arguments_read_height_at_the_call() -> None:
    source = "block Pool(size) { avgpool(size) }\nnetwork N { input 3x6x6 Pool(height) -> 3x1x1 }"
    assert net(source).output_shape == (3, 1, 1)


def test_height_on_a_vector_is_an_error_at_the_name() -> None:
    report = cnndsl.check("network N { input 3x4x4 flatten linear(width) }", every=True)
    assert [d.code for d in report.diagnostics] == ["E0039"]
    assert (report.diagnostics[0].span.column, report.diagnostics[0].span.end_column) == (40, 45)


def test_a_parameter_named_width_shadows_the_builtin() -> None:
    assert net("network N(width = 2) { input 3x8x8 conv(width, 1) }").output_shape == (2, 8, 8)
    assert net("block B(height) { linear(height) }\nnetwork N { input 4 B(3) }").output_shape == (3,)


def test_height_has_no_value_outside_a_statement() -> None:
    assert codes("network N(size = height) { input 3x8x8 }") == ["E0011"]
    assert codes("network N { input [3, width, 8] }") == ["E0011"]


# ---- shape assertions take expressions ----------------------------------------------------

def test_after_the_arrow_the_rest_of_the_statement_is_the_shape() -> None:
    network = net("network N { input 16x5x5 flatten -> 16*5*5 relu * 3 -> 1 * 400 }")
    assert kinds(network) == ["flatten", "relu", "relu", "relu"] and network.output_shape == (400,)
    assert net("network N { input 1x8x8 relu * 3 -> 1x8x8 }").output_shape == (1, 8, 8)


def test_the_version_one_reading_of_assert_then_repeat_fails_loudly() -> None:
    found = messages("network N { input 4 relu -> 4 * 2 }")
    assert len(found) == 1 and found[0].startswith("E0101 shape assertion does not hold: inferred 4, asserted 8")
    assert "put the count first: `* 2 -> 4`" in found[0]
    found = messages("network N { input 4x2x2 relu -> 4x2x2 * 2 }")
    assert len(found) == 1 and found[0].startswith("E0001") and "relu * 3 -> 1x8x8" in found[0]


# ---- did-you-mean for top-level keywords ---------------------------------------------------

@pytest.mark.parametrize("text, keyword", [("netwrok N { input 4 }", "network"), ("blok B { relu }", "block"),
                                           ('uss "other.net"\nnetwork N { input 4 }', "use")])
def test_a_misspelt_top_level_keyword_gets_a_did_you_mean(text: str, keyword: str) -> None:
    found = messages(text)
    assert len(found) == 1 and found[0].startswith("E0001") and found[0].endswith(f"did you mean `{keyword}`?")


def test_a_misspelt_body_keyword_gets_a_did_you_mean() -> None:
    found = messages("network N { input 4 resdiual { relu } }")
    assert len(found) == 1 and found[0].endswith("did you mean `residual`?")
