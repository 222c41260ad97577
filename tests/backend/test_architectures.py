"""Every network in `architectures/` compiles to a module that holds the parameters the
summary counts, runs forward and backward on a batch of its declared input shape, and
gives its declared output shape."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import cnndsl
from cnndsl.backends.torch_module import build

ARCHITECTURES = Path(__file__).resolve().parents[2] / "architectures"
NETWORKS = [(path, net.name) for path in sorted(ARCHITECTURES.glob("*.net"))
            for net in cnndsl.check(path, every=True).networks]


def test_every_architecture_file_has_a_network() -> None:
    assert {path for path, _ in NETWORKS} == set(ARCHITECTURES.glob("*.net"))


@pytest.mark.parametrize(("path", "name"), NETWORKS, ids=[f"{p.stem}:{n}" for p, n in NETWORKS])
def test_compiled_module_matches_the_summary(path: Path, name: str) -> None:
    net = cnndsl.check(path, network=name).network()
    model = build(net)
    summary = cnndsl.summary(path, network=name)
    assert sum(p.numel() for p in model.parameters()) == summary["total_params"]
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == summary["trainable_params"]
    assert (model.network_name, model.input_shape, model.output_shape) == (net.name, net.input_shape, net.output_shape)

    torch.manual_seed(0)
    out = model.train()(torch.randn(2, *net.input_shape, requires_grad=True))
    assert tuple(out.shape) == (2, *net.output_shape)
    out.square().mean().backward()  # in-place activations must leave autograd intact
    assert all(p.grad is not None for p in model.parameters())
