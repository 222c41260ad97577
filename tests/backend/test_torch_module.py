"""The module tree of a compiled network: names, order, containers, in-place choices."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn

import cnndsl
from cnndsl import ir
from cnndsl.backends.containers import Add, Concat, Residual
from cnndsl.backends.torch_module import CompiledNetwork, build
from cnndsl.compiler import CompileError

SOURCE = """
block Stem(out) {
    conv(out, 3, padding=1)
    batchnorm
    relu
}

network Tree(classes = 5) {
    input 3x8x8
    stem: Stem(4)
    residual {
        relu
        conv(4, 3, padding=1)
        relu
    }
    res: residual {
        conv(8, 1, stride=2)
        batchnorm
    } shortcut {
        proj: conv(8, 1, stride=2)
    }
    relu
    concat {
        branch { conv(2, 1) }
        branch { maxpool(3, stride=1, padding=1); conv(3, 1) }
    }
    add {
        branch { conv(5, 1) }
        branch { identity }
    }
    add {
        branch { relu }
        branch { conv(5, 1) }
    }
    globalavgpool
    flatten
    head: linear(classes)
}
"""


def _net(source: str = SOURCE, **params) -> ir.Network:
    return cnndsl.check(source, **params).network()


def test_state_dict_keys_are_the_summary_layer_names_in_source_order() -> None:
    model = build(_net())
    summary_names = [row["name"] for row in cnndsl.summary(SOURCE)["layers"]]
    owners = [key.rsplit(".", 1)[0] for key in model.state_dict()]
    assert list(dict.fromkeys(owners)) == [name for name in summary_names if name in owners]
    assert list(dict.fromkeys(owners)) == [
        "stem.conv1", "stem.batchnorm1", "residual1.body.conv1", "res.body.conv1", "res.body.batchnorm1",
        "res.shortcut.proj", "concat1.0.conv1", "concat1.1.conv2", "add1.0.conv1", "add2.1.conv1", "head"]


def test_every_named_leaf_is_a_submodule() -> None:
    net = _net()
    model = build(net)
    for path, layer in ir.named_leaves(net.body):
        assert isinstance(model.get_submodule(path), nn.Module), path


def test_containers_mirror_the_ir() -> None:
    model = build(_net())
    assert isinstance(model, CompiledNetwork) and isinstance(model, nn.Sequential)
    assert type(model.stem) is nn.Sequential
    assert isinstance(model.residual1, Residual) and model.residual1.shortcut is None
    assert isinstance(model.res.shortcut, nn.Sequential)
    assert isinstance(model.concat1, Concat) and len(model.concat1) == 2
    assert isinstance(model.add1, Add)
    assert model.network_name == "Tree" and model.input_shape == (3, 8, 8) and model.output_shape == (5,)


def test_network_parameters_are_bound() -> None:
    model = build(_net(classes=7))
    assert model.head.out_features == 7 and model.output_shape == (7,)


def test_compile_takes_source_text() -> None:
    model = cnndsl.compile(SOURCE, classes=3)
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 3)


def _in_place(model: nn.Module) -> dict[str, bool]:
    return {name: bool(getattr(module, "inplace", getattr(module, "in_place", False)))
            for name, module in model.named_modules() if isinstance(module, (nn.ReLU, Residual, Add))}


def test_in_place_only_where_no_one_else_reads_the_tensor() -> None:
    assert _in_place(build(_net())) == {
        "stem.relu1": True,             # after batch norm, as torchvision does
        "residual1": False,             # the body ends in relu, which keeps its output
        "residual1.body.relu1": False,  # its input is also the identity operand
        "residual1.body.relu2": True,
        "res": True,                    # body ends in batch norm: accumulate into it
        "relu1": True,                  # after a residual
        "add1": True,                   # first branch ends in a convolution
        "add2": False,                  # first branch ends in relu
        "add2.0.relu1": False,          # a branch's input is shared
    }


def _without_in_place(model: nn.Module) -> nn.Module:
    reference = copy.deepcopy(model)
    for module in reference.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
        if isinstance(module, (Residual, Add)):
            module.in_place = False
    return reference


def test_in_place_changes_no_value_or_gradient() -> None:
    model = build(_net()).train()
    reference = _without_in_place(model)
    results = []
    for candidate in (model, reference):
        x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
        out = candidate(x)
        out.square().sum().backward()
        results.append((out.detach(), x.grad, [p.grad for p in candidate.parameters()]))
    (out, grad, grads), (ref_out, ref_grad, ref_grads) = results
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(grad, ref_grad)
    for ours, theirs in zip(grads, ref_grads):
        torch.testing.assert_close(ours, theirs)


def test_the_input_is_never_overwritten() -> None:
    model = build(_net("network T { input 4; relu; linear(3) }"))
    x = torch.randn(2, 4)
    before = x.clone()
    model(x)
    assert torch.equal(x, before)


@pytest.mark.parametrize("label", ["eval", "forward", "append", "input_shape"])
def test_a_name_pytorch_reserves_is_refused_by_build_too(label: str) -> None:
    """`check` knows the reserved names of the PyTorch it was tested with (E0029); should a
    newer PyTorch add one, `build` still refuses it with a diagnostic (E0301)."""
    net = _net("network T {\n    input 4\n    fc: linear(3)\n}\n")
    renamed = dataclasses.replace(net, body=(dataclasses.replace(net.body[0], name=label),))
    with pytest.raises(CompileError) as caught:
        build(renamed)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E0301" and f"`{label}`" in diagnostic.message
    assert diagnostic.span.line == 3


def test_a_python_keyword_is_a_fine_label() -> None:
    model = build(_net("network T {\n    input 4\n    lambda: linear(3)\n}\n"))
    assert list(model.state_dict()) == ["lambda.weight", "lambda.bias"]
