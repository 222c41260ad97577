"""Backends: what a checked network (`ir.Network`) becomes.

- `torch_module.build`: a `torch.nn.Module` (what `cnndsl.compile` returns);
- `python_source.python_source`: the text of a standalone PyTorch file (`cnndsl export`).

Both read `module_calls`, the one table that maps each layer to its `torch.nn` module.
Nothing here is imported by the static commands, which never import torch.
"""
