"""The label names `check` refuses (E0029) are the ones PyTorch's containers really have."""

from __future__ import annotations

from torch import nn

import cnndsl
from cnndsl.module_names import RESERVED


def test_reserved_names_cover_the_installed_pytorch() -> None:
    model = cnndsl.compile("network A { input 4 fc: linear(2) }")
    attributes = set(dir(model)) | set(dir(nn.Sequential())) | set(vars(model))
    clashing = {name for name in attributes - set(model._modules)
                if name.isidentifier() and not (name.startswith("__") and name.endswith("__"))}
    assert clashing <= RESERVED, f"add to cnndsl/module_names.py: {sorted(clashing - RESERVED)}"

