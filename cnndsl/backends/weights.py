"""Tensors from elsewhere: `cnndsl.load_weights` and `cnndsl train --init`.

A compiled model takes the tensors of another model of the same architecture, usually one
built in plain PyTorch (torchvision's), whose names have nothing in common with the `.net`
file's labels. So tensors are paired by position, in registration order (parameters and
buffers, as `state_dict()` lists them), and every pair's shape is checked: equal, or equal once
trailing 1-sized axes are dropped (a `Linear` weight fills a 1x1 `conv`). Where the file's
names are exactly the model's (a file saved from a cnndsl model), they are paired by name.

Layers named as `fresh` keep their own initialisation: their counterparts are passed over, so
a network pretrained on 1,000 classes can start a 10-class one with a new classifier.

`num_batches_tracked`, the counter PyTorch keeps beside batch statistics, holds no state worth
copying; it is paired only when both sides have it, so files saved without it still fit.

A `.safetensors` file does not keep the order its tensors were registered in (the format sorts
them), so it is paired by name only; anything else would pair tensors by an alphabetical
accident. PyTorch files are read with `torch.load(weights_only=True)`, which refuses pickles
that would run code. Every refusal is a `WeightsError`: a `CompileError` whose one diagnostic
names the `.net` line of the layer and the file's key.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path
from typing import Any, Iterable, Mapping, Union

import torch
from torch import nn

from .. import codes, ir
from ..compiler import CompileError
from ..diagnostics import Diagnostic, error, suggest
from ..source import Span

Source = Union[Mapping[str, Any], str, Path]

COUNTER = "num_batches_tracked"
RUN_WEIGHTS = "weights.pt"  # what a cnndsl run directory keeps its trained weights in
# Where training scripts commonly nest the state dict inside a checkpoint.
_NESTED = ("state_dict", "model_state_dict", "model")
_FIX_ARCHITECTURE = ("these weights are of another architecture, or of this one with other parameters "
                     "(--set): compare the layers `cnndsl summary` lists with the tensors")


class WeightsError(CompileError):
    """Weights that cannot be loaded into a model; `diagnostics` holds the one reason."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__([diagnostic])
        self.diagnostic = diagnostic


def load_weights(model: nn.Module, source: Source, fresh: Iterable[str] = ()) -> nn.Module:
    """Copy the tensors of `source` (a state dict, a PyTorch file or a `.safetensors` file, or
    a cnndsl run directory) into `model` and return it. The layers named in `fresh` (module
    paths as `cnndsl summary` lists them, or a prefix such as a block's label) keep their own
    initialisation: their counterparts in the file are passed over, whatever their shapes, which
    is how a pretrained network gets a new classifier. Raises `WeightsError` when the file
    cannot be read or its tensors do not fit; the model is then unchanged."""
    model.load_state_dict(fitted_state(model, source, fresh), strict=False)
    return model


def fitted_state(model: nn.Module, source: Source, fresh: Iterable[str] = ()) -> dict[str, torch.Tensor]:
    """What `load_weights` copies: the model's keys, each with the tensor of `source` paired
    with it, in the model's shape (fresh layers left out). `model` may live on the meta
    device: only its shapes are read."""
    fresh = tuple(fresh)
    if isinstance(source, (str, Path)):
        origin = file_weights(Path(source)).name
        tensors, ordered = _read(file_weights(Path(source)))
    elif isinstance(source, Mapping):
        origin = "the state dict"
        tensors, ordered = _state_dict(source, origin), True
    else:
        raise TypeError(f"load_weights takes a state dict or a path, not a {type(source).__name__}")
    ours = model.state_dict()
    layers = _layers(model)
    for name in fresh:
        if not any(_within(key, name) for key in ours):
            paths = sorted({key.rpartition(".")[0] for key in ours})
            raise WeightsError(error(
                codes.E0305, f"no layer with tensors is named `{name}`", None,
                help=suggest(name, paths) or "name a layer as `cnndsl summary` lists it, or a block's label"))
    pairs = _pairs(ours, tensors, ordered, origin, layers, fresh)
    return {our_key: tensors[their_key].reshape(ours[our_key].shape) for our_key, their_key in pairs
            if not any(_within(our_key, name) for name in fresh)}


def file_weights(path: Path) -> Path:
    """The file `path` names: itself, or the weights of a cnndsl run directory."""
    return path / RUN_WEIGHTS if path.is_dir() else path


def _pairs(ours: Mapping[str, torch.Tensor], theirs: Mapping[str, torch.Tensor], ordered: bool, origin: str,
           layers: Mapping[str, ir.Layer], fresh: tuple[str, ...]) -> list[tuple[str, str]]:
    """(model key, file key) for every tensor, every shape checked but those of `fresh` layers."""
    our_keys = [k for k in ours if not _counter(k) or any(_counter(t) for t in theirs)]
    their_keys = [k for k in theirs if not _counter(k) or any(_counter(o) for o in our_keys)]
    if set(our_keys) == set(their_keys):
        pairs = [(key, key) for key in our_keys]
    elif not ordered:
        raise WeightsError(error(
            codes.E0303, f"weights do not fit: the names in {origin} are not this network's, and the file keeps no order",
            _span(layers, our_keys[0]) if our_keys else None,
            f"`{our_keys[0]}` is not in {origin}" if our_keys else "",
            notes=[f"the file names its tensors like `{min(their_keys)}`"] if their_keys else [],
            help="a .safetensors file sorts its tensors, so only names can pair them: save the state dict with "
                 "`torch.save(model.state_dict(), path)`, which keeps the order, or load it into the cnndsl "
                 "model first and save that one's tensors"))
    else:
        pairs = list(zip(our_keys, their_keys))
    for index, (our_key, their_key) in enumerate(pairs):
        here, there = tuple(ours[our_key].shape), tuple(theirs[their_key].shape)
        if _squeezed(here) != _squeezed(there) and not any(_within(our_key, name) for name in fresh):
            layer = our_key.rpartition(".")[0]
            raise WeightsError(error(
                codes.E0302, f"weights do not fit: `{our_key}` is {_shape(here)}, but {origin} has "
                         f"`{their_key}` of {_shape(there)} in its place",
                _span(layers, our_key), f"tensor {index + 1} of {len(our_keys)}, in registration order",
                notes=[f"the {index} tensors before it fit"] if index else [],
                help=f"to train `{layer}` from scratch (a new classifier, say), leave it fresh: `--fresh {layer}`, "
                     f"or `fresh=[\"{layer}\"]` from Python; otherwise load weights of this architecture "
                     f"with these parameters"))
    if len(our_keys) != len(their_keys):
        shorter = len(pairs)
        if len(our_keys) > shorter:
            label = f"`{our_keys[shorter]}` has no counterpart in {origin}"
            span = _span(layers, our_keys[shorter])
            note = f"{origin} ends with `{their_keys[-1]}`" if their_keys else f"{origin} holds no tensors"
        else:
            label = f"the network's last tensor, `{our_keys[-1]}`" if our_keys else ""
            span = _span(layers, our_keys[-1]) if our_keys else None
            note = f"{origin} continues with `{their_keys[shorter]}` of {_shape(tuple(theirs[their_keys[shorter]].shape))}"
        raise WeightsError(error(
            codes.E0303, f"weights do not fit: the network has {len(our_keys)} tensors, {origin} {len(their_keys)}",
            span, label, notes=[f"the first {shorter} fit, in registration order", note], help=_FIX_ARCHITECTURE))
    return pairs


def _within(key: str, layer: str) -> bool:
    """Whether tensor `key` belongs to the layer or block at module path `layer`."""
    return key.startswith(f"{layer}.")


def _counter(key: str) -> bool:
    return key.rpartition(".")[2] == COUNTER


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    end = len(shape)
    while end > 0 and shape[end - 1] == 1:
        end -= 1
    return shape[:end]


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "a scalar"


def _layers(model: nn.Module) -> dict[str, ir.Layer]:
    """Module path -> the `.net` layer it was compiled from (empty for other modules)."""
    network = getattr(model, "network", None)
    return dict(ir.named_leaves(network.body)) if isinstance(network, ir.Network) else {}


def _span(layers: Mapping[str, ir.Layer], key: str) -> Span | None:
    """The source span of the layer holding tensor `key` (the longest module path that
    prefixes it), or None for a model that was not compiled from a `.net` file."""
    path = key
    while "." in path:
        path = path.rpartition(".")[0]
        if path in layers:
            return layers[path].span
    return None


def _unreadable(path: Path, why: str, help: str | None = None) -> WeightsError:
    return WeightsError(error(codes.E0304, f"cannot read weights from {path}: {why}", None, help=help))


def _read(path: Path) -> tuple[dict[str, torch.Tensor], bool]:
    """The tensors of a file, and whether their order in it is meaningful."""
    if not path.is_file():
        raise _unreadable(path, "no such file" if not path.exists() else "not a file")
    try:
        with path.open("rb") as handle:
            head = handle.read(9)
    except OSError as exc:
        raise _unreadable(path, exc.strerror or type(exc).__name__) from None
    if path.suffix == ".safetensors" or _looks_like_safetensors(head):
        return _read_safetensors(path), False
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise _unreadable(path, "it holds more than tensors, and loading it could run code",
                          help="save only the tensors: `torch.save(model.state_dict(), path)`") from None
    except Exception as exc:  # a truncated or foreign file: zip, EOF and pickle errors of many types
        raise _unreadable(path, _reason(exc)) from None
    return _state_dict(loaded, path.name), True


def _looks_like_safetensors(head: bytes) -> bool:
    """A safetensors file starts with its header's length (8 bytes) and the header's `{`."""
    return len(head) == 9 and head[8:] == b"{" and struct.unpack("<Q", head[:8])[0] > 1


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, json.JSONDecodeError, ValueError, OSError) as exc:
        raise _unreadable(path, _reason(exc), help="the file is truncated or not a .safetensors file") from None


def _reason(exc: Exception) -> str:
    detail = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _state_dict(loaded: object, origin: str) -> dict[str, torch.Tensor]:
    """A mapping of names to tensors: `loaded` itself, or the state dict a checkpoint nests
    under `state_dict`, `model_state_dict` or `model`."""
    if isinstance(loaded, Mapping) and not _all_tensors(loaded):
        nested = [loaded[key] for key in _NESTED if isinstance(loaded.get(key), Mapping)]
        if nested and _all_tensors(nested[0]):
            loaded = nested[0]
    if not isinstance(loaded, Mapping):
        raise WeightsError(error(codes.E0304, f"{origin} holds a {type(loaded).__name__}, not a state dict", None,
                                 help="save the model's tensors: `torch.save(model.state_dict(), path)`"))
    for key, value in loaded.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise WeightsError(error(
                codes.E0304, f"{origin} is not a state dict: its entry `{str(key)[:80]}` holds a {type(value).__name__}",
                None, help="save the model's tensors: `torch.save(model.state_dict(), path)`"))
    return dict(loaded)


def _all_tensors(mapping: Mapping) -> bool:
    return bool(mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in mapping.items())
