"""Compiled module -> the bytes of a TorchScript archive: what `cnndsl export --to torchscript`
writes, and what `torch.jit.load` reads back without cnndsl.

The module is scripted (`torch.jit.script`), not traced: every container cnndsl builds
compiles as it is (a residual without shortcut, the loops of concat and add), and a
scripted module keeps what a trace would lose: the switch between training and eval
behaviour of dropout and batch norm, and the attributes `network_name`, `input_shape` and
`output_shape`. It is scripted and saved in eval mode, so it loads in eval mode.

The archive holds TorchScript code that names every module, and TorchScript cannot read
back a module named with one of its reserved words: `def:` or `None:` as a label would give
an archive that saves but never loads. Such labels are refused before scripting.

Recent PyTorch releases deprecate TorchScript and warn on every `torch.jit` call. Those
warnings are about cnndsl's calls, not the user's, so they are silenced here; the docs say
what the deprecation means for an exported file.
"""

from __future__ import annotations

import io
import keyword
import warnings
from typing import Optional

import torch

from .export_checks import refuse_names
from .torch_module import CompiledNetwork, evaluating


def torchscript_bytes(model: CompiledNetwork) -> bytes:
    """The `torch.jit.save` archive of `model` scripted in eval mode; `model`'s own mode is
    left as it was.

    Raises `ExportError` for a label TorchScript cannot read back."""
    refuse_names(model.network, "TorchScript", _objection)
    buffer = io.BytesIO()
    with evaluating(model), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        torch.jit.save(torch.jit.script(model), buffer)
    return buffer.getvalue()


def _objection(name: str, top_level: bool) -> Optional[str]:
    """TorchScript's reserved words are Python's keywords (all but a few) and `NoneType`;
    all of Python's are refused, one rule being easier to remember than the exceptions."""
    if keyword.iskeyword(name) or name == "NoneType":
        return "TorchScript's code names every module, and this word is reserved there"
    return None
