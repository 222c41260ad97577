"""`eval` and `predict`: a finished (or stopped) run directory put back to work.

The model is rebuilt from the network source stored in the run, with the run's parameter
values, and given the stored weights (loaded without executing code). Data and image files
go through the stored adaptation, so they reach the network exactly as in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ... import ir
from ...train_schema import TrainSettings
from ..data.adapt import Adaptation, Normaliser, geometry, plan
from ..data.batches import DeviceSplit
from ..data.imagefolder import decode_image, pil_mode
from ..data.images import Log
from ..data.sources import load_dataset, parse_spec
from ..errors import TrainError, UsageError
from ..loop.device import DevicePlan, pick_device
from ..loop.memory import check_fits, inference_need
from ..loop.metrics import Evaluation
from ..loop.recipe import build_criterion
from ..loop.trainer import evaluate, model_inputs
from ..rundir.files import COMPLETE, RunDir

EVAL_BATCH_SIZE = 256

Rebuild = Callable[[ir.Network], nn.Module]


def stored_network(source: Path, network: str, params: dict) -> ir.Network:
    """The run's network, checked from its stored source with its stored parameters (a
    mapping, so that a parameter may have any name, `network` included)."""
    from ...compiler import check_source

    report = check_source(source, network, params)
    if not report.ok:
        first = next((d for d in report.diagnostics if d.is_error), None)
        detail = f": {first.code} {first.message}" if first is not None else ""
        raise TrainError(f"the network source stored in the run no longer compiles{detail}")
    return report.network()


def compile_stored(net: ir.Network) -> nn.Module:
    from ...backends.torch_module import build

    return build(net)


@dataclass(frozen=True)
class LoadedRun:
    run: RunDir
    net: ir.Network
    config: dict
    settings: TrainSettings
    model: nn.Module
    adaptation: Adaptation
    classes: tuple[str, ...]
    plan: DevicePlan


def load_run(path: Path, device: str, warn: Log, rebuild: Rebuild = compile_stored,
             allow_changed_source: bool = False) -> LoadedRun:
    """Open a run directory and rebuild its trained model on `device`. Every file is checked
    first: config.json and status.json against their schema, the stored network source
    against the SHA-256 config.json records (a changed source is refused, or only warned
    about with `allow_changed_source`), and weights.pt and metrics.jsonl against the digests status.json records."""
    run = RunDir.open(path)
    config, status = run.read_config(), run.read_status()
    changed = run.check_sources(config)
    if changed:
        what = f"{', '.join(changed)} changed after training (its SHA-256 is not the one config.json records)"
        if not allow_changed_source:
            raise TrainError(f"{path}: {what}", help="the weights belong to the network as it was trained: restore "
                                                     "the file, or pass --allow-changed-source to use it anyway")
        warn(f"{path}: {what}; using it anyway")
    damaged = run.mismatch(status)
    if damaged is not None:
        raise TrainError(f"{path}: {damaged}",
                         help=f"`cnndsl train ... --resume --out {path}` repairs the run from its checkpoint")
    if status["state"] != COMPLETE:
        warn(f"{path} is not a finished run ({status['state']}, {status['epochs_completed']} of "
             f"{status['epochs']} epochs); using the weights of its last finished epoch")
    device_plan = pick_device(device)
    network = config["network"]
    source = (run.path / network["source"]).resolve()
    if not source.is_relative_to(run.path.resolve()) or not source.is_file():
        raise TrainError(f"{run.path}: the network source {network['source']} is missing from the run directory")
    params = {name: tuple(value) if isinstance(value, list) else value for name, value in network["params"].items()}
    net = stored_network(source, network["name"], params)
    model = rebuild(net)
    weights = run.load_weights(device_plan.device)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise TrainError(f"{run.path / 'weights.pt'} does not fit the network {network['name']}: {first}") from None
    model.to(device_plan.device).eval()
    if device_plan.channels_last:
        model.to(memory_format=torch.channels_last)
    return LoadedRun(run, net, config, TrainSettings.from_json(config["settings"]), model,
                     Adaptation.from_json(config["adaptation"]), tuple(config["data"]["classes"]), device_plan)


def evaluate_run(loaded: LoadedRun, data: str | None, data_root: Path | None, log: Log,
                 follow_links: bool = False) -> tuple[Evaluation, str, tuple[str, ...]]:
    """Evaluate on the test split of the run's data set, or of `data`; returns the
    evaluation, the data set's name and its class names."""
    config, stored = loaded.config, loaded.adaptation
    spec = parse_spec(data or config["data"]["spec"])
    root = data_root or Path(config["data"]["root"])
    outputs = len(loaded.classes)
    dataset = load_dataset(spec, root, stored.target, outputs, log, follow_links)
    if len(dataset.classes) != outputs:
        raise TrainError(f"{dataset.spec} has {len(dataset.classes)} classes, but the run's network outputs {outputs}")
    if len(dataset.test) == 0:
        raise TrainError(f"the test split of {dataset.spec} is empty")
    plan(dataset.image_shape, stored.target)
    adaptation = Adaptation(dataset.image_shape, stored.target, stored.mean, stored.std)
    check_fits(inference_need(loaded.net, EVAL_BATCH_SIZE), loaded.plan.device,
               f"evaluating in batches of {EVAL_BATCH_SIZE}", "evaluate on a machine with more memory")
    split = DeviceSplit(dataset.test, adaptation, loaded.plan.device)
    normaliser = Normaliser(adaptation, loaded.plan.device)

    def inputs(part: DeviceSplit, index: slice) -> torch.Tensor:
        return model_inputs(part.images_at(index), normaliser, loaded.plan)

    evaluation = evaluate(loaded.model, split, inputs, build_criterion(loaded.settings), loaded.plan, outputs,
                          EVAL_BATCH_SIZE)
    return evaluation, dataset.spec, dataset.classes


@dataclass(frozen=True)
class Prediction:
    image: Path
    top: list[tuple[int, str, float]]  # (class index, class name, probability), best first


def predict_images(loaded: LoadedRun, images: Sequence[Path], top_k: int) -> list[Prediction]:
    """Top-k classes for each image file, decoded to the training data's channels and size
    and then adapted like the training data."""
    if top_k < 1:
        raise UsageError(f"--top-k must be at least 1, not {top_k}")
    for path in images:
        if not path.is_file():
            raise UsageError(f"no such image file: {path}")
    check_fits(inference_need(loaded.net, len(images)), loaded.plan.device, f"predicting {len(images):,} images at once",
               "give fewer images per command")
    adaptation = loaded.adaptation
    channels, height, width = adaptation.source
    arrays = [decode_image(path, pil_mode(channels), (height, width)) for path in images]
    batch = torch.from_numpy(np.stack(arrays))
    if batch.shape[1] != channels:  # a grey data set decoded in RGB mode, say
        batch = batch[:, :channels]
    normaliser = Normaliser(adaptation, loaded.plan.device)
    with torch.inference_mode(), loaded.plan.autocast():
        inputs = model_inputs(geometry(batch, adaptation).to(loaded.plan.device), normaliser, loaded.plan)
        probabilities = torch.softmax(loaded.model(inputs).float(), dim=1).cpu()
    k = min(top_k, probabilities.shape[1])
    values, indices = probabilities.topk(k, dim=1)
    return [Prediction(path, [(int(i), _name(loaded.classes, int(i)), float(p)) for p, i in zip(vs, ix)])
            for path, vs, ix in zip(images, values.tolist(), indices.tolist())]


def _name(classes: tuple[str, ...], index: int) -> str:
    return classes[index] if index < len(classes) else str(index)
