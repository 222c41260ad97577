"""The modules a network needs beyond `torch.nn`: the containers of its structure (residual,
concat, add, mul, split) and the layers PyTorch has no module for (layer norm over channels,
layer scale, channel shuffle, stochastic depth).

Each is as small as the hand-written equivalent (torchvision's BasicBlock, Inception,
ConvNeXt's LayerNorm2d, ShuffleNet's channel_shuffle, StochasticDepth), and computes the
same thing in the same order, so a compiled model costs no more per call than a hand-written
one and gives the same numbers with the same weights. They depend on torch alone:
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


class Mul(nn.ModuleList):
    """Every branch on the same input; the outputs multiplied element-wise (a Cx1x1 output
    scales every position, as in squeeze-and-excitation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self[0](x)
        for index, branch in enumerate(self):
            if index > 0:
                out = out * branch(x)
        return out


class Split(nn.ModuleList):
    """The input's channels cut into one equal, consecutive chunk per branch; branch i gets
    chunk i; the outputs joined on the channel axis."""

    def __init__(self, branches: list[nn.Module]) -> None:
        super().__init__(branches)
        self.parts = len(branches)  # TorchScript has no len() of a module list

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunks = x.chunk(self.parts, dim=1)
        outs: list[torch.Tensor] = []
        for index, branch in enumerate(self):
            outs.append(branch(chunks[index]))
        return torch.cat(outs, dim=1)


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels at each position of an N x C x H x W batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """A learnable factor per channel (shape C x 1 x 1) or per feature, filled with `init`."""

    def __init__(self, shape: tuple[int, ...], init: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full(shape, init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class ChannelShuffle(nn.Module):
    """The channels, seen as `groups` rows of C / groups, read column by column."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        x = x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).contiguous()
        return x.view(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class DropPath(nn.Module):
    """Stochastic depth per sample: in training, each sample's input is zeroed with
    probability `p` and the others scaled by 1 / (1 - p); the identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1)
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}"
