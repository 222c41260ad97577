"""Backends: what a checked network (`ir.Network`) becomes.

- `torch_module.build`: a `torch.nn.Module` (what `cnndsl.compile` returns);
- `python_source.python_source`: the text of a standalone PyTorch file (`cnndsl export`);
- `onnx_export.onnx_bytes` and `torchscript_export.torchscript_bytes`: the built module as
  an ONNX model or a TorchScript archive (`cnndsl export --to onnx|torchscript`).

The first two read `module_calls`, the one table that maps each layer to its `torch.nn`
module; the binary formats start from the built module. Nothing here is imported by the
static commands, which never import torch.
"""
