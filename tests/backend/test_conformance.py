"""The `.net` versions of torchvision's models are torchvision's models.

For each: the summary's parameter count is torchvision's; its MACs, in billions and rounded
to two decimals, are the "GFLOPS" torchvision's model documentation publishes; and with
torchvision's weights copied in, state-dict entry by entry, the compiled module computes the
same outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import torch
import torchvision
from torch import nn

import cnndsl
from cnndsl.backends.torch_module import build

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURES = ROOT / "architectures"
CONFORMANCE = ROOT / "tests" / "conformance" / "nets"

# name -> (.net file, torchvision constructor, GFLOPS as torchvision's documentation gives it)
MODELS: dict[str, tuple[Path, Callable[[], nn.Module], float]] = {
    "alexnet": (CONFORMANCE / "alexnet.net", torchvision.models.alexnet, 0.71),
    "vgg16": (ARCHITECTURES / "vgg16.net", torchvision.models.vgg16, 15.47),
    "resnet18": (ARCHITECTURES / "resnet18.net", torchvision.models.resnet18, 1.81),
    "resnet50": (CONFORMANCE / "resnet50.net", torchvision.models.resnet50, 4.09),
    "googlenet": (ARCHITECTURES / "googlenet.net",
                  lambda: torchvision.models.googlenet(aux_logits=False, init_weights=True), 1.50),
    "mobilenet_v2": (CONFORMANCE / "mobilenet_v2.net", torchvision.models.mobilenet_v2, 0.30),
    "squeezenet1_0": (CONFORMANCE / "squeezenet1_0.net", torchvision.models.squeezenet1_0, 0.82),
}


def _network(name: str) -> cnndsl.ir.Network:
    return cnndsl.check(MODELS[name][0]).network()


def _summary(name: str) -> dict:
    return cnndsl.summary(MODELS[name][0])


def _randomise_batchnorm(model: nn.Module) -> None:
    """Fresh batch norms compute the identity in eval mode, which would hide a batch norm
    whose statistics landed in the wrong layer; give every one distinct statistics."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(size, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(size, generator=generator) * 0.1)


@pytest.mark.parametrize("name", MODELS)
def test_parameter_count_is_torchvisions(name: str) -> None:
    with torch.device("meta"):  # shapes only: no time spent initialising weights
        reference = MODELS[name][1]()
    assert _summary(name)["total_params"] == sum(p.numel() for p in reference.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_macs_are_torchvisions_published_gflops(name: str) -> None:
    assert round(_summary(name)["macs"] / 1e9, 2) == MODELS[name][2]


def test_resnet18_macs_exactly() -> None:
    assert _summary("resnet18")["macs"] == 1_814_073_344


@pytest.mark.parametrize("name", MODELS)
def test_outputs_match_torchvision_with_its_weights(name: str) -> None:
    net = _network(name)
    torch.manual_seed(0)
    reference = MODELS[name][1]().eval()
    _randomise_batchnorm(reference)
    model = build(net).eval()
    ours, theirs = model.state_dict(), reference.state_dict()
    assert len(ours) == len(theirs)
    for (key, value), (their_key, their_value) in zip(ours.items(), theirs.items()):
        assert value.shape == their_value.shape, f"{key} {tuple(value.shape)} vs {their_key} {tuple(their_value.shape)}"
    model.load_state_dict(dict(zip(ours, theirs.values())))
    batch = 1 if _summary(name)["macs"] > 10**10 else 2  # keep VGG-16 quick on a CPU
    x = torch.randn(batch, *net.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=1e-5)
