"""The modules a network's structure needs beyond `torch.nn`: residual, concat and add.

Each is as small as the hand-written equivalent (torchvision's BasicBlock, Inception), so a
compiled model costs no more per call than a hand-written one. They depend on torch alone:
the Python source backend copies their definitions into the standalone files it writes.
Their `forward` keeps to what `torch.jit.script` compiles (no `iter`/`next`), so that the
TorchScript export scripts them as they are.
"""

from __future__ import annotations

import torch
from torch import nn


class Residual(nn.Module):
    """`body(x) + shortcut(x)`, or `body(x) + x` without a shortcut. With `in_place`, the
    sum is accumulated into the body's output, as torchvision's `out += identity` does;
    only for a body whose output nothing else reads."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None, in_place: bool = False) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.in_place = in_place

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        identity = x if self.shortcut is None else self.shortcut(x)
        return out.add_(identity) if self.in_place else out + identity

    def extra_repr(self) -> str:
        return "in_place=True" if self.in_place else ""


class Concat(nn.ModuleList):
    """Every branch on the same input; the outputs joined on the channel axis."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self], dim=1)


class Add(nn.ModuleList):
    """Every branch on the same input; the outputs summed. With `in_place`, the sum is
    accumulated into the first branch's output (only for one that nothing else reads)."""

    def __init__(self, branches: list[nn.Module], in_place: bool = False) -> None:
        super().__init__(branches)
        self.in_place = in_place

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self[0](x)
        for index, branch in enumerate(self):
            if index > 0:
                out = out.add_(branch(x)) if self.in_place else out + branch(x)
        return out

    def extra_repr(self) -> str:
        return "in_place=True" if self.in_place else ""
