"""Property tests over random networks: the checker's static shapes are PyTorch's.

- A network the checker accepts compiles, and every layer's output at run time has the
  shape the checker inferred for it (forward hooks at the `ir.named_leaves` paths); PyTorch's
  own reading of the program (see `random_networks`) ends in the same output shape; and the
  in-place choices of the backend change no value and no gradient.
- A network the checker rejects for a shape reason fails in PyTorch too, either when its
  modules are built or when they run, except where the checker is stricter on purpose:
  * `linear` on a CxHxW tensor (E0104): PyTorch applies it to the last axis alone;
  * `residual`, `add` or `mul` operands of different shapes (E0107, E0109, E0113): PyTorch
    broadcasts whenever one side has size 1 where the other does not (the language only
    broadcasts a Cx1x1 operand of `add` and `mul`, over H x W);
  * `split` into parts that do not divide the channels (E0114): PyTorch's `tensor_split`
    cuts unequal parts;
  * `dropout2d` on a vector (E0103): PyTorch only warns that this is deprecated;
  * a ceil-mode pooling window larger than the padded input (E0102, as LANGUAGE.md defines
    it): PyTorch's ceil mode still gives one partial window there.

`CNNDSL_PROPERTY_EXAMPLES=2000 pytest tests/backend/test_properties.py` runs a longer search.
"""

from __future__ import annotations

import copy
import math
import os
import warnings

import pytest
import torch
from hypothesis import HealthCheck, assume, event, given, note, settings
from torch import nn

import cnndsl
from cnndsl import ir
from cnndsl.backends.containers import Add, Residual
from cnndsl.backends.torch_module import build
from cnndsl.diagnostics import Diagnostic

from .random_networks import Program, programs

EXAMPLES = int(os.environ.get("CNNDSL_PROPERTY_EXAMPLES", "150"))
BATCH = 2  # batch norm in training mode needs more than one value per channel
LARGEST_ACTIVATION = 50_000  # elements per sample: keeps each example to milliseconds

# The shape errors PyTorch reports too, and those where the checker is stricter on purpose.
SHAPE_ERRORS = {"E0036", "E0102", "E0103", "E0104", "E0105", "E0106", "E0107", "E0108", "E0109", "E0112",
                "E0113", "E0114"}
STRICTER_ON_PURPOSE = {"E0104", "E0107", "E0109", "E0113", "E0114"}


def _input(program: Program) -> torch.Tensor:
    return torch.randn(BATCH, *program.input_shape, generator=torch.Generator().manual_seed(0))


def _runtime_shapes(model: nn.Module, net: ir.Network, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    handles = [model.get_submodule(path).register_forward_hook(
        lambda module, args, out, path=path: shapes.__setitem__(path, tuple(out.shape[1:])))
        for path, _ in ir.named_leaves(net.body)]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def _without_in_place(model: nn.Module) -> nn.Module:
    reference = copy.deepcopy(model)
    for module in reference.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
        if isinstance(module, (Residual, Add)):
            module.in_place = False
    return reference


def _output_and_gradients(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    x = x.clone().requires_grad_()
    torch.manual_seed(1)  # the same dropout masks for both models
    out = model(x)
    out.square().sum().backward()
    return [out.detach(), x.grad, *(p.grad for p in model.parameters() if p.grad is not None)]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_the_checker_agrees_with_pytorch(program: Program) -> None:
    source = program.source()
    note(source)
    report = cnndsl.check(source)
    x = _input(program)
    if report.ok:
        _accepted(report.network(), program, x)
    else:
        _rejected(report, program, x)


def _accepted(net: ir.Network, program: Program, x: torch.Tensor) -> None:
    event("accepted")
    leaves = ir.named_leaves(net.body)
    assume(max(math.prod(layer.out_shape) for _, layer in leaves) <= LARGEST_ACTIVATION)
    torch.manual_seed(0)
    model = build(net).train()
    shapes = _runtime_shapes(model, net, x)
    assert shapes == {path: layer.out_shape for path, layer in leaves}
    with torch.no_grad():
        assert tuple(program.run(x).shape) == (BATCH, *net.output_shape)
    for ours, reference in zip(_output_and_gradients(model, x), _output_and_gradients(_without_in_place(model), x)):
        torch.testing.assert_close(ours, reference, equal_nan=True)


def _stricter_at(diagnostic: Diagnostic, code: str, statement_text: str) -> bool:
    """Whether `diagnostic` has `code` and points at a statement that contains the text."""
    return diagnostic.code == code and statement_text in diagnostic.span.file.line(diagnostic.span.line)


def _rejected(report: cnndsl.Report, program: Program, x: torch.Tensor) -> None:
    errors = [d for d in report.diagnostics if d.is_error]
    assert {d.code for d in errors} <= SHAPE_ERRORS, [f"{d.code} {d.message}" for d in errors]
    first = errors[0]  # in file order, which is execution order here
    note(f"{first.code} {first.message}")
    event(f"rejected: {first.code}")
    if first.code in STRICTER_ON_PURPOSE or _stricter_at(first, "E0103", "dropout2d") or \
            _stricter_at(first, "E0102", "ceil=true"):
        return
    with warnings.catch_warnings(), torch.no_grad(), pytest.raises((RuntimeError, ValueError, IndexError)):
        warnings.simplefilter("ignore")
        program.run(x)
