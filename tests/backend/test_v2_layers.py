"""Language version 2 against PyTorch and torchvision as oracles: each new layer and
construct computes what torchvision's own building block computes, with the same tensors
copied over in registration order (torchvision's LayerNorm2d, StochasticDepth,
SqueezeExcitation, channel_shuffle, ShuffleNet v2's unit and ConvNeXt's block)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision.models.convnext import CNBlock, LayerNorm2d
from torchvision.models.shufflenetv2 import InvertedResidual, channel_shuffle
from torchvision.ops import SqueezeExcitation, StochasticDepth

import cnndsl
from cnndsl import ir
from cnndsl.backends.torch_module import build

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "tests" / "conformance" / "nets" / "v2_units.net"
TOLERANCE = dict(rtol=0, atol=1e-6)


def compiled(source: str | Path) -> nn.Module:
    return build(cnndsl.check(source).network())


def randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every parameter and batch-norm statistic drawn at random, so that a tensor in the
    wrong place shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
    return model


def copy_in_order(target: nn.Module, tensors: list[torch.Tensor]) -> None:
    """Fill `target`'s state dict entry by entry, reshaping (a Linear weight fills a 1x1 conv)."""
    entries = list(target.state_dict().values())
    assert len(entries) == len(tensors)
    with torch.no_grad():
        for entry, tensor in zip(entries, tensors):
            assert entry.numel() == tensor.numel()
            entry.copy_(tensor.reshape(entry.shape))


def test_layernorm_normalises_over_channels_as_convnexts_layernorm2d() -> None:
    ours = randomised(compiled("network N { input 6x5x4 layernorm(eps=1e-6) }")).eval()
    theirs = LayerNorm2d(6, eps=1e-6)
    copy_in_order(theirs, list(ours.state_dict().values()))
    x = torch.randn(2, 6, 5, 4)
    torch.testing.assert_close(ours(x), theirs(x), **TOLERANCE)


def test_layernorm_on_a_vector_is_pytorchs_layernorm() -> None:
    ours = randomised(compiled("network N { input 6 layernorm }"))
    assert isinstance(ours[0], nn.LayerNorm) and ours[0].normalized_shape == (6,)
    theirs = nn.LayerNorm(6)
    copy_in_order(theirs, list(ours.state_dict().values()))
    x = torch.randn(3, 6)
    torch.testing.assert_close(ours(x), theirs(x), **TOLERANCE)


@pytest.mark.parametrize("shape, scale_shape", [("6x2x3", (6, 1, 1)), ("6", (6,))])
def test_layerscale_holds_one_factor_per_channel_filled_with_init(shape: str, scale_shape: tuple) -> None:
    model = compiled(f"network N {{ input {shape} layerscale(0.25) }}")
    scale, = model.parameters()
    assert tuple(scale.shape) == scale_shape and bool((scale == 0.25).all())
    x = torch.randn(2, *model.input_shape)
    torch.testing.assert_close(model(x), x * 0.25, **TOLERANCE)


@pytest.mark.parametrize("groups", [1, 2, 3])
def test_shuffle_is_shufflenets_channel_shuffle(groups: int) -> None:
    model = compiled(f"network N {{ input 12x3x2 shuffle({groups}) }}")
    x = torch.randn(2, 12, 3, 2)
    assert torch.equal(model(x), channel_shuffle(x, groups))


def test_hardsigmoid_is_pytorchs() -> None:
    model = compiled("network N { input 4 hardsigmoid }")
    x = torch.linspace(-4, 4, 8).reshape(2, 4)
    assert torch.equal(model(x), nn.Hardsigmoid()(x))


@pytest.mark.parametrize("shape", [(8, 3, 3), (8,)])
def test_droppath_is_torchvisions_stochastic_depth_per_sample(shape: tuple[int, ...]) -> None:
    model = compiled(f"network N {{ input {'x'.join(map(str, shape))} droppath(0.5) }}").train()
    reference = StochasticDepth(0.5, "row").train()
    x = torch.randn(16, *shape)
    torch.manual_seed(3)
    ours = model(x)
    torch.manual_seed(3)
    assert torch.equal(ours, reference(x))
    dropped = (ours.flatten(1) == 0).all(dim=1)
    assert 0 < int(dropped.sum()) < 16  # whole samples dropped, the others scaled by 2
    torch.testing.assert_close(ours[~dropped], 2 * x[~dropped], **TOLERANCE)
    assert torch.equal(model.eval()(x), x)


def test_squeeze_and_excitation_is_torchvisions() -> None:
    ours = randomised(compiled("""network SE { input 16x5x5
        mul { branch { } branch { globalavgpool conv(4, 1) relu conv(16, 1) sigmoid } } }""")).eval()
    theirs = SqueezeExcitation(16, 4).eval()
    copy_in_order(theirs, list(ours.state_dict().values()))
    x = torch.randn(2, 16, 5, 5)
    torch.testing.assert_close(ours(x), theirs(x), **TOLERANCE)


SHUFFLE_UNIT = """network Unit { input 16x6x6
    split {
        branch { }
        branch {
            conv(channels, 1, bias=false) batchnorm relu
            conv(channels, 3, padding=1, groups=channels, bias=false) batchnorm
            conv(channels, 1, bias=false) batchnorm relu
        }
    }
    shuffle(2)
}"""


def test_a_shufflenet_v2_unit_is_torchvisions() -> None:
    theirs = randomised(InvertedResidual(16, 16, 1), seed=1).eval()
    ours = compiled(SHUFFLE_UNIT).eval()
    assert [tuple(t.shape) for t in ours.state_dict().values()] == \
        [tuple(t.shape) for t in theirs.state_dict().values()]
    copy_in_order(ours, list(theirs.state_dict().values()))
    x = torch.randn(2, 16, 6, 6)
    torch.testing.assert_close(ours(x), theirs(x), **TOLERANCE)


CONVNEXT_BLOCK = """network Block { input 8x7x7
    residual {
        conv(8, 7, padding=3, groups=8)
        layernorm(eps=1e-6)
        conv(32, 1) gelu conv(8, 1)
        layerscale
        droppath(0.25)
    }
}"""


@pytest.mark.parametrize("training", [False, True])
def test_a_convnext_block_is_torchvisions(training: bool) -> None:
    """torchvision registers the block's layer scale before its layers; the `.net` writes it
    where it acts, last, so the first of torchvision's tensors goes last."""
    theirs = randomised(CNBlock(8, layer_scale=1e-6, stochastic_depth_prob=0.25), seed=2).train(training)
    ours = compiled(CONVNEXT_BLOCK).train(training)
    tensors = list(theirs.state_dict().values())
    copy_in_order(ours, tensors[1:] + tensors[:1])
    x = torch.randn(8, 8, 7, 7)
    torch.manual_seed(5)
    expected = theirs(x)
    torch.manual_seed(5)
    # its 1x1 convolutions sum in another order than torchvision's Linear on channels-last
    torch.testing.assert_close(ours(x), expected, rtol=1e-6, atol=1e-5)


def test_broadcasting_add_and_mul_and_split_compute_what_they_say() -> None:
    model = compiled("""network N { input 4x3x3
        add { branch { } branch { globalavgpool } } -> 4x3x3
        mul { branch { globalavgpool } branch { } } -> 4x3x3
        split { branch { } branch { relu } } }""")
    x = torch.randn(2, 4, 3, 3)
    summed = x + x.mean(dim=(2, 3), keepdim=True)
    scaled = summed.mean(dim=(2, 3), keepdim=True) * summed
    expected = torch.cat([scaled[:, :2], scaled[:, 2:].relu()], dim=1)
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-6)


def test_an_add_whose_first_operand_broadcasts_is_not_summed_in_place() -> None:
    model = compiled("network N { input 4x3x3 conv(4, 1) add { branch { globalavgpool } branch { conv(4, 1) } } }")
    assert not model.add1.in_place
    x = torch.randn(2, 4, 3, 3)
    assert model(x).shape == (2, 4, 3, 3)


def test_zero_counts_register_no_module() -> None:
    model = compiled("network N(depth = 0) { input 4 linear(4) * depth repeat 0 { relu } identity }")
    assert [name for name, _ in model.named_children()] == ["identity1"]


def test_every_count_of_the_units_network_is_pytorchs() -> None:
    """Parameters as the compiled module holds them, layer by layer, and MACs from
    convolutions and linear layers alone."""
    net = cnndsl.check(UNITS).network()
    model = build(net)
    rows = cnndsl.summary(UNITS)["layers"]
    held = {name.rsplit(".", 1)[0]: 0 for name, _ in model.named_parameters()}
    for name, parameter in model.named_parameters():
        held[name.rsplit(".", 1)[0]] += parameter.numel()
    assert {row["name"]: row["params"] for row in rows if row["params"]} == held
    assert all(row["macs"] == 0 for row in rows if row["layer"] not in ("conv", "linear"))
    assert [path for path, _ in ir.named_leaves(net.body)] == [row["name"] for row in rows]
