"""The language of LANGUAGE.md, construct by construct, through the static pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

import cnndsl
from cnndsl import ir
from cnndsl.compiler import CompileError


def net(source: str, **params) -> ir.Network:
    return cnndsl.check(source, **params).network()


def codes(source: str, **params) -> list[str]:
    return [d.code for d in cnndsl.check(source, every=True, **params).diagnostics]


def test_lenet_shapes_and_counts() -> None:
    info = cnndsl.summary("""
        network LeNet5(classes = 10) {
            input 1x32x32
            conv(6, 5) -> 6x28x28; relu; maxpool(2) -> 6x14x14
            conv(16, 5) -> 16x10x10 relu maxpool(2) -> 16x5x5
            flatten -> 400 linear(120) relu linear(84) relu linear(classes) -> classes
        }""")
    assert info["total_params"] == 61706 and info["macs"] == 416520
    assert [layer["output_shape"] for layer in info["layers"][:3]] == [[6, 28, 28], [6, 28, 28], [6, 14, 14]]


def test_layer_names_are_case_insensitive_block_names_are_not() -> None:
    assert net("network A { input 3x8x8 CONV(4, 3) ReLU }").output_shape == (4, 6, 6)
    assert "E0010" in codes("block Stage { relu }\nnetwork A { input 3x8x8 stage }")


def test_positional_and_keyword_arguments_follow_python() -> None:
    a = net("network A { input 3x32x32 conv(16, 3, 2, 1) }")
    b = net("network A { input 3x32x32 conv(16, kernel=3, padding=1, stride=2) }")
    assert a.output_shape == b.output_shape == (16, 16, 16)
    assert net("network A { input 4 dropout(0.2) }").body[0].args["p"] == 0.2


def test_tuples_for_kernel_stride_padding() -> None:
    assert net("network A { input 1x10x20 conv(2, (3, 5), stride=(1, 2), padding=(1, 0)) }").output_shape == (2, 10, 8)


def test_same_and_valid_padding() -> None:
    assert net('network A { input 3x17x17 conv(8, 4, padding="same") }').output_shape == (8, 17, 17)
    assert net('network A { input 3x17x17 conv(8, 4, padding="valid") }').output_shape == (8, 14, 14)


def test_channels_is_the_statements_input() -> None:
    n = net("network A { input 3x8x8 conv(channels * 2, 1) conv(channels * 2, 1) }")
    assert n.output_shape == (12, 8, 8)


def test_block_arguments_see_the_call_site_channels() -> None:
    n = net("""
        block Widen(out) { conv(out, 1) conv(out, 1) }
        network A { input 5x4x4 Widen(channels + 1) }""")
    assert n.output_shape == (6, 4, 4)
    assert [layer.in_shape[0] for layer in ir.leaves(n.body)] == [5, 6]


def test_block_defaults_and_parameters() -> None:
    n = net("""
        block Stage(out, kernel = 3, pool = true) { conv(out, kernel, padding = kernel // 2) relu }
        network A(width = 8) { input 3x16x16 Stage(width) Stage(width * 2, kernel = 5) }""")
    assert n.output_shape == (16, 16, 16)
    group = n.body[1]
    assert isinstance(group, ir.Group) and group.block == "Stage" and group.name == "stage2"


def test_repeat_and_times() -> None:
    a = net("network A { input 3x8x8 repeat 3 { conv(4, 3, padding=1) relu } }")
    b = net("network A { input 3x8x8 conv(4, 3, padding=1) * 3 }")
    assert len(ir.leaves(a.body)) == 6 and len(ir.leaves(b.body)) == 3
    assert net("network A(n = 2) { input 3x8x8 relu * (n + 1) }").body[-1].name == "relu3"


def test_residual_identity_and_shortcut() -> None:
    n = net("""network A { input 8x8x8
        residual { conv(8, 3, padding=1) }
        residual { conv(16, 3, stride=2, padding=1) } shortcut { conv(16, 1, stride=2) }
    }""")
    first, second = n.body
    assert isinstance(first, ir.Residual) and first.shortcut is None
    assert second.out_shape == (16, 4, 4)
    assert [p for p, _ in ir.named_leaves(n.body)] == [
        "residual1.body.conv1", "residual2.body.conv1", "residual2.shortcut.conv2"]


def test_concat_and_add() -> None:
    n = net("""network A { input 4x8x8
        concat { branch { conv(2, 1) } branch { conv(3, 3, padding=1) } branch { maxpool(3, 1, 1) } }
        add { branch { conv(5, 1) } branch { conv(5, 3, padding=1) } }
    }""")
    assert n.body[0].out_shape == (9, 8, 8) and n.output_shape == (5, 8, 8)


def test_concat_of_vectors() -> None:
    assert net("network A { input 4 concat { branch { linear(2) } branch { linear(3) } } }").output_shape == (5,)


def test_labels_name_modules() -> None:
    n = net("network A { input 3x8x8 stem: conv(4, 3) c: relu * 2 }")
    assert [layer.name for layer in ir.leaves(n.body)] == ["stem", "c", "c_2"]


def test_assertions_accept_every_shape_form() -> None:
    net("network A(c = 4) { input [3, 8, 8] conv(c, 1) -> [c, 8, 8] conv(4, 1) -> 4x8x8 flatten -> 256 linear(2) -> [2] }")


def test_several_statements_on_one_line_and_comments() -> None:
    net("network A { input 1x4x4; relu; relu6 # comment ; ignored\n flatten; linear(2) }")


def test_integer_division_must_be_exact() -> None:
    assert net("network A(w = 32) { input 3x8x8 conv(w / 4, 1) }").output_shape == (8, 8, 8)
    assert "E0031" in codes("network A(w = 30) { input 3x8x8 conv(w / 4, 1) }")
    assert net("network A(w = 30) { input 3x8x8 conv(w // 4, 1) }").output_shape == (7, 8, 8)


def test_expression_arithmetic() -> None:
    assert net("network A(a = 3) { input 2x8x8 conv(-(-a) * 2 + 10 % 4 - 1, 1) }").output_shape == (7, 8, 8)
    assert "E0032" in codes("network A(a = 0) { input 2x8x8 conv(4 // a, 1) }")
    assert "E0030" in codes("network A { input 2x8x8 conv(true + 1, 1) }")


def test_parameter_overrides() -> None:
    assert net("network A(classes = 10) { input 4 linear(classes) }", classes=3).output_shape == (3,)
    assert "E0014" in codes("network A(classes) { input 4 linear(classes) }")
    assert net("network A(classes) { input 4 linear(classes) }", classes=2).output_shape == (2,)


def test_network_parameter_defaults_see_earlier_parameters() -> None:
    assert net("network A(w = 4, w2 = w * 2) { input 3x8x8 conv(w2, 1) }").output_shape == (8, 8, 8)


def test_use_makes_blocks_visible(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.net").write_text("block Stage(out) { conv(out, 3, padding=1) relu }\n")
    main = tmp_path / "main.net"
    main.write_text('use "lib/blocks.net"\nnetwork A { input 3x8x8 Stage(4) Stage(8) }\n')
    assert cnndsl.check(main).network().output_shape == (8, 8, 8)


def test_use_cycle_between_two_files(tmp_path: Path) -> None:
    (tmp_path / "a.net").write_text('use "b.net"\nnetwork A { input 4 relu }\n')
    (tmp_path / "b.net").write_text('use "a.net"\nblock B { relu }\n')
    assert [d.code for d in cnndsl.check(tmp_path / "a.net").diagnostics] == ["E0019"]


def test_syntax_error_in_used_file_is_reported_there(tmp_path: Path) -> None:
    (tmp_path / "lib.net").write_text("block B { conv(4, }\n")
    (tmp_path / "a.net").write_text('use "lib.net"\nnetwork A { input 4 relu }\n')
    [diagnostic] = cnndsl.check(tmp_path / "a.net").diagnostics
    assert diagnostic.code == "E0001" and diagnostic.span.file.name.endswith("lib.net")


def test_input_must_come_first() -> None:
    assert "E0021" in codes("network A { relu input 4 }")
    assert "E0021" in codes("network A { input 4 relu input 4 }")


def test_train_section_is_read() -> None:
    n = net('network A { input 4 linear(2) train { epochs = 3 lr = 1e-3 data = "digits" } }')
    assert n.train == {"epochs": 3, "lr": 1e-3, "data": "digits"}


def test_train_settings_are_checked_with_the_network() -> None:
    # expressions of the network's parameters are evaluated first, then checked as `train` checks them
    assert net("network A(n = 4) { input 4 linear(2) train { epochs = n * 2 augment = true } }").train == \
        {"epochs": 8, "augment": "auto"}
    assert codes("network A(n = 4) { input 4 linear(2) train { epochs = n - 4 } }") == ["E0037"]
    assert codes("network A(n = 4) { input 4 linear(2) train { epochs = n - 4 } }", n=5) == []
    assert codes('network A { input 4 linear(2) train { data = "minst" optimiser = "sgd" lr = 0.1 lr = 0.2 } }') \
        == ["E0037"] * 3
    assert net('network A { input 4 linear(2) train { recipe = "Plain" } }').train == {"recipe": "plain"}
    assert codes('network A { input 4 linear(2) train { recipe = "slow" } }') == ["E0037"]


def test_every_layer_of_the_table_is_accepted() -> None:
    source = """network All { input 8x16x16
        conv(8, 3, padding=1) convtranspose(8, 2, stride=2) -> 8x32x32 maxpool(2) avgpool(2, ceil=true)
        adaptiveavgpool(4) adaptivemaxpool((4, 4)) batchnorm groupnorm(2) lrn(3) dropout2d(0.1)
        upsample(2) -> 8x8x8 relu relu6 leakyrelu(0.1) elu gelu silu mish hardswish sigmoid tanh
        softmax logsoftmax identity hardsigmoid layernorm layerscale shuffle(2) droppath(0.1)
        globalavgpool -> 8x1x1 flatten batchnorm dropout linear(3)
    }"""
    kinds = {layer.kind for layer in ir.leaves(net(source).body)}
    from cnndsl.layers import LAYERS
    assert kinds == set(LAYERS)


def test_compile_error_carries_diagnostics() -> None:
    with pytest.raises(CompileError) as info:
        cnndsl.summary("network A { input 4 conv(2, 1) }")
    assert info.value.diagnostics[0].code == "E0103"


def test_strict_promotes_warnings() -> None:
    report = cnndsl.check("network A { input 4 relu relu }", strict=True)
    assert not report.ok and report.diagnostics[0].code == "W0203"


def test_any_name_can_be_a_network_parameter_of_compile_and_summary() -> None:
    # `strict` and `every` are flags of `check`, not of `compile` and `summary`: there, they are the network's
    source = "network A(strict = 2) { input 4 linear(strict) }"
    assert cnndsl.summary(source, strict=3)["output"] == [3]


def test_a_label_in_another_file_is_named_in_a_note(tmp_path: Path) -> None:
    """Source lines of one file are drawn; a label in a `use`d file is not dropped but named."""
    from cnndsl.render import plain

    (tmp_path / "lib.net").write_text("block B { relu }\n")
    (tmp_path / "main.net").write_text('use "lib.net"\nblock B { relu }\nnetwork A { input 4 B }\n')
    [diagnostic] = cnndsl.check(tmp_path / "main.net").diagnostics
    assert diagnostic.code == "E0016" and len(diagnostic.secondary) == 1
    label = diagnostic.secondary[0]
    assert label.span.file is not diagnostic.span.file
    assert f"= note: {label.span}: {label.message}" in plain([diagnostic])
