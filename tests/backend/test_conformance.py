"""The zoo is torchvision: every `.net` file of a torchvision model builds that model.

For each: the static summary's parameter count is torchvision's (and the figure its weights
metadata publishes); its MACs, in billions rounded as torchvision rounds them, are the
"GFLOPS" (`_ops`) that metadata publishes; and with torchvision's tensors copied in by
`cnndsl.load_weights` (registration order, every shape checked), the compiled module computes
torchvision's outputs in eval mode to 1e-5. Outputs are compared on small inputs (every model
here pools adaptively, so any size its layers accept works); those of models above 30M
parameters only in the slow run (`pytest --slow`).
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
import torchvision
from torch import nn

import cnndsl

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURES = ROOT / "architectures"
ZOO = ARCHITECTURES / "zoo"
README = (ZOO / "README.md").read_text(encoding="utf-8")
LARGE = 30_000_000  # parameters above which outputs are compared only in the slow run


def layer_scale_last(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's ConvNeXt state dict with each block's layer scale moved after the block's
    layers: PyTorch lists a module's own parameters before its children's, and the `.net` file
    writes `layerscale` where it acts."""
    keys = list(state)
    rank = {key: (index, 0) for index, key in enumerate(keys)}
    for key in keys:
        if key.endswith(".layer_scale"):
            block = key[: -len("layer_scale")]
            rank[key] = (max(i for i, other in enumerate(keys) if other.startswith(block)), 1)
    return {key: state[key] for key in sorted(keys, key=rank.__getitem__)}


@dataclass(frozen=True)
class Model:
    path: Path
    size: int = 32  # the side of the images the outputs are compared on
    options: dict[str, Any] = field(default_factory=dict)  # torchvision builder keywords
    order: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None  # torchvision's order -> ours
    meta: bool = True  # whether torchvision can build it on the meta device (RegNet computes its widths with torch)


# Inception's and GoogLeNet's auxiliary classifiers are second outputs used in training only;
# a network has one output, so they are built without them.
WITHOUT_AUX = {"aux_logits": False, "init_weights": False}
MODELS: dict[str, Model] = {
    "alexnet": Model(ZOO / "alexnet.net", 63),
    "vgg11_bn": Model(ZOO / "vgg11_bn.net"),
    "vgg16": Model(ARCHITECTURES / "vgg16.net"),
    "resnet18": Model(ARCHITECTURES / "resnet18.net"),
    "resnet34": Model(ZOO / "resnet34.net"),
    "resnet50": Model(ZOO / "resnet50.net"),
    "resnext50_32x4d": Model(ZOO / "resnext50_32x4d.net"),
    "wide_resnet50_2": Model(ZOO / "wide_resnet50_2.net"),
    "squeezenet1_0": Model(ZOO / "squeezenet1_0.net"),
    "squeezenet1_1": Model(ZOO / "squeezenet1_1.net"),
    "densenet121": Model(ZOO / "densenet121.net"),
    "googlenet": Model(ARCHITECTURES / "googlenet.net", 32, WITHOUT_AUX),
    "inception_v3": Model(ZOO / "inception_v3.net", 75, WITHOUT_AUX),
    "mobilenet_v2": Model(ZOO / "mobilenet_v2.net"),
    "mnasnet1_0": Model(ZOO / "mnasnet1_0.net"),
    "mobilenet_v3_small": Model(ZOO / "mobilenet_v3_small.net"),
    "shufflenet_v2_x1_0": Model(ZOO / "shufflenet_v2_x1_0.net"),
    "efficientnet_b0": Model(ZOO / "efficientnet_b0.net"),
    "efficientnet_v2_s": Model(ZOO / "efficientnet_v2_s.net", 33),
    "regnet_x_400mf": Model(ZOO / "regnet_x_400mf.net", meta=False),
    "regnet_y_400mf": Model(ZOO / "regnet_y_400mf.net", meta=False),
    "convnext_tiny": Model(ZOO / "convnext_tiny.net", order=layer_scale_last),
}


def _meta(name: str) -> dict[str, Any]:
    return torchvision.models.get_model_weights(name).DEFAULT.meta


def _parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _reference(name: str) -> nn.Module:
    return torchvision.models.get_model(name, **MODELS[name].options)


def test_the_zoo_holds_every_file_of_the_folder() -> None:
    assert {path for path in ZOO.glob("*.net")} == {m.path for m in MODELS.values() if m.path.parent == ZOO}


@pytest.mark.parametrize("name", MODELS)
def test_parameter_count_is_torchvisions(name: str) -> None:
    ours = cnndsl.summary(MODELS[name].path)["total_params"]
    with torch.device("meta") if MODELS[name].meta else nullcontext():  # shapes only: no time initialising
        reference = _reference(name)
    assert ours == _parameters(reference)
    published = _meta(name)["num_params"]
    if name == "inception_v3":  # the published figure counts the auxiliary classifier
        with torch.device("meta"):
            aux = torchvision.models.inception.InceptionAux(768, 1000)
        assert ours + _parameters(aux) == published
    else:
        assert ours == published


@pytest.mark.parametrize("name", MODELS)
def test_macs_are_torchvisions_published_gflops(name: str) -> None:
    assert round(cnndsl.summary(MODELS[name].path)["macs"] / 1e9, 3) == _meta(name)["_ops"]


@pytest.mark.parametrize("path", sorted(ZOO.glob("*.net")), ids=lambda path: path.stem)
def test_the_figures_the_zoo_states_are_the_summarys(path: Path) -> None:
    """Each file's header and its row in the zoo's README give its parameters and MACs."""
    summary = cnndsl.summary(path)
    figures = f"{summary['total_params']:,}", f"{summary['macs']:,}"
    header = re.search(r"^# Parameters: ([\d,]+)[.;] MACs:? ([\d,]+)", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert header is not None and header.groups() == figures
    row = re.search(rf"^\| `{path.name}` \| [^|]+ \| ([\d,]+) \| ([\d,]+) \|", README, re.MULTILINE)
    assert row is not None and row.groups() == figures


def test_resnet18_macs_exactly() -> None:
    assert cnndsl.summary(MODELS["resnet18"].path)["macs"] == 1_814_073_344


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


def _slow_if_large(name: str) -> Any:
    large = _meta(name)["num_params"] > LARGE
    return pytest.param(name, marks=pytest.mark.slow) if large else name


@pytest.mark.parametrize("name", [_slow_if_large(name) for name in MODELS])
def test_outputs_match_torchvision_with_its_weights(name: str) -> None:
    torch.manual_seed(0)
    reference = _reference(name).eval()
    _randomise_batchnorm(reference)
    state = reference.state_dict()
    order = MODELS[name].order
    model = cnndsl.load_weights(cnndsl.compile(MODELS[name].path), order(state) if order else state).eval()
    x = torch.randn(2, 3, MODELS[name].size, MODELS[name].size)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=1e-5)
