"""The modules a network's structure needs beyond `torch.nn`: residual, concat and add.

Each is as small as the hand-written equivalent (torchvision's BasicBlock, Inception), so a
compiled model costs no more per call than a hand-written one. They depend on torch alone:
the Python source backend copies their definitions into the standalone files it writes.
"""

from __future__ import annotations

import torch
from torch import nn


class Residual(nn.Module):
    """`body(x) + shortcut(x)`, or `body(x) + x` without a shortcut."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + (x if self.shortcut is None else self.shortcut(x))


class Concat(nn.ModuleList):
    """Every branch on the same input; the outputs joined on the channel axis."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self], dim=1)


class Add(nn.ModuleList):
    """Every branch on the same input; the outputs summed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = iter(self)
        out = next(branches)(x)
        for branch in branches:
            out = out + branch(x)
        return out
