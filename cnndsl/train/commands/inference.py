"""`eval` and `predict`: a finished (or stopped) run directory put back to work.

The model is rebuilt from the network source stored in the run, with the run's parameter
values, and given the stored weights (loaded without executing code). Data and image files
go through the stored adaptation, so they reach the network exactly as in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence, Union, cast

import numpy as np
import torch
from torch import nn

from ... import ir
from ...ir import format_shape
from ...settings_schema import TORCHVISION_SETS, TrainSettings, check_option
from ..data.adapt import Adaptation, Normaliser, geometry, plan
from ..data.batches import DeviceSplit
from ..data.imagefolder import MAX_IMAGE_PIXELS, decode_image, image_array, pil_mode
from ..data.images import ImageSet, Log
from ..data.sources import load_dataset, parse_spec
from ..errors import TrainError, UsageError, does_not_fit
from ..loop.cores import Cores
from ..loop.device import DevicePlan, pick_device
from ..loop.layout import recorded_layout
from ..loop.memory import check_fits, inference_need
from ..loop.metrics import Evaluation
from ..loop.recipe import build_criterion
from ..loop.trainer import evaluate, model_inputs
from ..rundir.files import COMPLETE, RunDir
from .report import EvaluationReport, Prediction, Predictions, confusion_table, results_table

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

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
    device_plan = recorded_layout(pick_device(device), config)
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
        raise does_not_fit(run.path / "weights.pt", network["name"], exc) from None
    model.to(device_plan.device).eval()
    if device_plan.channels_last:
        model.to(memory_format=torch.channels_last)
    adaptation, classes = Adaptation.from_json(config["adaptation"]), tuple(config["data"]["classes"])
    problem = inconsistency(net, adaptation, classes)
    if problem is not None:
        raise TrainError(f"{run.path / 'config.json'}: {problem}",
                         help="config.json was edited or damaged: restore it, or train the network again")
    return LoadedRun(run, net, config, TrainSettings.from_json(config["settings"]), model, adaptation, classes,
                     device_plan)


def inconsistency(net: ir.Network, adaptation: Adaptation, classes: tuple[str, ...]) -> str | None:
    """What in config.json does not fit the network it describes (the schema checks each field
    alone, this checks them against each other); None when all fits."""
    if adaptation.target != net.input_shape:
        return (f"adaptation.target is {format_shape(adaptation.target)}, but the network takes "
                f"{format_shape(net.input_shape)}")
    if math.prod(adaptation.source[1:]) > MAX_IMAGE_PIXELS:  # no data set's images are larger: see imagefolder.py
        return (f"adaptation.source {format_shape(adaptation.source)} has more than the {MAX_IMAGE_PIXELS:,} pixels "
                "an image may have")
    try:
        channels = plan(adaptation.source, adaptation.target)[0]
    except TrainError as exc:
        return f"adaptation.source {format_shape(adaptation.source)} cannot feed the network: {exc.message}"
    if len(adaptation.mean) != channels or len(adaptation.std) != channels:
        return f"adaptation.mean and adaptation.std need {channels} value{'s' if channels != 1 else ''}, one a channel"
    if not all(std > 0 for std in adaptation.std):
        return "adaptation.std must be above 0 (it divides every pixel)"
    outputs = net.output_shape[0] if len(net.output_shape) == 1 else None
    if outputs is not None and len(classes) != outputs:
        return f"data.classes names {len(classes)} classes, but the network outputs {outputs}"
    return None


def evaluate_run(loaded: LoadedRun, data: str | None, data_root: Path | None, log: Log,
                 follow_links: bool = False) -> tuple[Evaluation, str, tuple[str, ...]]:
    """Evaluate on the test split of the run's data set, or of `data`; returns the
    evaluation, the data set's name and its class names."""
    config, stored = loaded.config, loaded.adaptation
    spec = parse_spec(data or config["data"]["spec"])
    root = data_root or Path(config["data"]["root"])
    if data_root is None and spec.kind in TORCHVISION_SETS and not root.is_dir():
        raise UsageError(f"the run read {spec} from {root}, which does not exist here",
                         help="point --data-root at the folder that holds the data set (or where it may be "
                              "downloaded)")
    outputs = len(loaded.classes)
    dataset = load_dataset(spec, root, stored.target, outputs, log, follow_links)
    if len(dataset.classes) != outputs:
        raise TrainError(f"{dataset.spec} has {len(dataset.classes)} classes, but the run's network outputs {outputs}")
    if len(dataset.test) == 0:
        raise TrainError(f"the test split of {dataset.spec} is empty")
    test, classes = dataset.test, dataset.classes
    if classes != loaded.classes:
        if sorted(classes) == sorted(loaded.classes):  # an image folder lists its classes alphabetically
            order = torch.tensor([loaded.classes.index(name) for name in classes])
            test, classes = ImageSet(test.images, order[test.labels]), loaded.classes
            log(f"{dataset.spec} names the run's classes in another order: matched by name")
        else:
            log(f"{dataset.spec}'s classes ({_some(classes)}) are not the run's ({_some(loaded.classes)}): "
                "paired by position")
    plan(dataset.image_shape, stored.target)
    adaptation = Adaptation(dataset.image_shape, stored.target, stored.mean, stored.std)
    check_fits(inference_need(loaded.net, EVAL_BATCH_SIZE), loaded.plan.device,
               f"evaluating in batches of {EVAL_BATCH_SIZE}", "evaluate on a machine with more memory")
    split = DeviceSplit(test, adaptation, loaded.plan.device)
    normaliser = Normaliser(adaptation, loaded.plan.device)

    def inputs(part: DeviceSplit, index: slice) -> torch.Tensor:
        return model_inputs(part.images_at(index), normaliser, loaded.plan)

    with Cores(Cores.available(loaded.plan.device, alone=True)) as cores:
        evaluation = evaluate(loaded.model, split, inputs, build_criterion(loaded.settings), loaded.plan, outputs,
                              EVAL_BATCH_SIZE, cores=cores)
    return evaluation, dataset.spec, classes


def _some(names: Sequence[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def evaluation_report(run: str, loaded: LoadedRun, data: str | None, data_root: Path | None,
                      log: Log, follow_links: bool = False) -> EvaluationReport:
    """`evaluate_run` as `cnndsl eval` reports it: the JSON object of `--format json`, which
    displays itself as the two tables of the text output."""
    evaluation, spec, classes = evaluate_run(loaded, data, data_root, log, follow_links)
    name = loaded.config["network"]["name"]
    return EvaluationReport({"run": run, "network": name, "data": spec, **evaluation.as_json(classes)},
                            [results_table(evaluation, classes, f"{name} on {spec} (test set)"),
                             confusion_table(evaluation, classes)])


# What `predict` takes: image files, PIL images, tensors and arrays (one image, or a batch).
ImageInput = Union[str, Path, "PILImage", torch.Tensor, np.ndarray]


def single_images(images: ImageInput | Sequence[ImageInput]) -> list[ImageInput]:
    """One image, a batch or a sequence of either, as a list of images. A tensor or array
    is a batch when it is `N x C x H x W`, or `N x H x W` with N neither 1 nor 3 (which
    would read as the channels of one image): grey images, as MNIST's tensors hold them."""
    one = isinstance(images, (str, Path, torch.Tensor, np.ndarray)) or _is_pil(images)
    items = cast("Sequence[ImageInput]", [images] if one else images)
    out: list[ImageInput] = []
    for item in items:
        if isinstance(item, (torch.Tensor, np.ndarray)) and item.ndim == 3 and item.shape[0] not in (1, 3) and \
                item.shape[-1] in (1, 3):
            raise TrainError(f"an image of shape {'x'.join(map(str, item.shape))} looks like channels last",
                             help="give channels first (C x H x W), e.g. image.permute(2, 0, 1) or "
                                  "array.transpose(2, 0, 1)")
        if isinstance(item, (torch.Tensor, np.ndarray)) and (item.ndim == 4 or
                                                             (item.ndim == 3 and item.shape[0] not in (1, 3))):
            out.extend(item)
        else:
            out.append(item)
    return out


def _is_pil(value: object) -> bool:
    try:
        from PIL.Image import Image
    except ImportError:
        return False
    return isinstance(value, Image)


def _decode(item: ImageInput, number: int, mode: str, size: tuple[int, int]) -> np.ndarray:
    if isinstance(item, (str, Path)):
        return decode_image(Path(item), mode, size)
    if _is_pil(item):
        try:
            return image_array(item, mode, size)  # type: ignore[arg-type]
        except TrainError as exc:  # its pixels: named by its place, as a file is by its path
            raise TrainError(f"{_label(item, number)}: {exc.message}", help=exc.help) from None
    if isinstance(item, (torch.Tensor, np.ndarray)):
        return image_array(_pil_from_tensor(item), mode, size)
    raise TypeError(f"cannot read an image from a {type(item).__name__}: give image files, PIL images, tensors "
                    "or arrays")


def _pil_from_tensor(value: torch.Tensor | np.ndarray) -> "PILImage":
    """A `H x W` or `C x H x W` (1 or 3 channels) tensor or array as a PIL image: uint8
    pixels as they are, floats read in [0, 1] (what torchvision's ToTensor gives)."""
    from PIL import Image

    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[0] not in (1, 3):
        raise TrainError(f"an image of shape {'x'.join(map(str, array.shape))} cannot be read",
                         help="give H x W, C x H x W or N x C x H x W with 1 or 3 channels, channels first")
    if array.dtype != np.uint8:
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise TrainError(f"an image of {array.dtype} values cannot be read", help="give uint8 pixels or floats")
        scale = 255.0 if np.issubdtype(array.dtype, np.floating) else 1.0
        if array.size == 0:
            raise TrainError(f"an image of shape {'x'.join(map(str, array.shape))} has no pixels")
        if scale > 1 and not np.isfinite(array).all():
            raise TrainError("an image holds NaN or infinite values", help="pass the image as it was loaded, before "
                                                                          "any arithmetic that could produce them")
        low, high = float(array.min()), float(array.max())
        if low < 0 or high * scale > 255:
            limits = "[0, 1]" if scale > 1 else "[0, 255]"
            raise TrainError(f"image values run from {low:g} to {high:g}, outside {limits}",
                             help="pass images before normalisation: uint8 pixels, or floats in [0, 1] as "
                                  "ToTensor gives them")
        array = np.rint(array * scale).astype(np.uint8)
    return Image.fromarray(array[0], "L") if array.shape[0] == 1 else Image.fromarray(array.transpose(1, 2, 0), "RGB")


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
"""What `predict` takes from a folder: the formats Pillow reads that people keep images in."""

POLARITY_MARGIN = 0.15
"""How far from mid-grey (0.5) a mean brightness must be to count as dark or light."""


def image_files(paths: Sequence[Path], log: Log) -> list[Path]:
    """The files to classify: each file as given, and the images directly inside each
    folder (sorted by name, hidden files skipped)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir()
                            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())
            if not inside:
                raise UsageError(f"{path} is a directory with no image files in it",
                                 help=f"give image files, or a folder of {', '.join(sorted(IMAGE_SUFFIXES))} files")
            log(f"{path} is a directory: classifying the {len(inside)} image{'s' if len(inside) != 1 else ''} in it")
            files.extend(inside)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such image file: {path}")
    return files


def polarity_warning(path: Path | str, image_mean: float, training_mean: float, inverted: bool) -> str | None:
    """A warning when an image is light where the training images are dark, or the other way
    round (a dark digit on white paper given to an MNIST network); None when they agree or
    either is mid-grey."""
    image_side, training_side = image_mean - 0.5, training_mean - 0.5
    if min(abs(image_side), abs(training_side)) < POLARITY_MARGIN or (image_side > 0) == (training_side > 0):
        return None
    shade = {True: "light", False: "dark"}
    advice = "it is inverted by --invert; leave --invert out" if inverted else "if so, add --invert"
    return (f"{path} is mostly {shade[image_side > 0]} (mean {image_mean:.2f}), but the training images are mostly "
            f"{shade[training_side > 0]} (mean {training_mean:.2f}); the prediction is likely wrong if the image "
            f"has the opposite polarity: {advice}")


def predict_images(loaded: LoadedRun, images: ImageInput | Sequence[ImageInput], top_k: int, *,
                   log: Log, warn: Log, invert: bool = False) -> Predictions:
    """Top-k classes for each image (a file, the images of a folder, a PIL image, a tensor or
    array), decoded to the training data's channels and size, inverted when asked, and then
    adapted like the training data."""
    if (problem := check_option("top_k", top_k)) is not None:
        raise UsageError(problem.message, problem.help)
    items: list[ImageInput] = []
    for item in single_images(images):
        items.extend(image_files([Path(item)], log) if isinstance(item, (str, Path)) else [item])
    check_fits(inference_need(loaded.net, len(items)), loaded.plan.device, f"predicting {len(items):,} images at once",
               "give fewer images per call")
    if not items:
        raise UsageError("no images to classify", help="give image files, folders of them, PIL images or tensors")
    adaptation = loaded.adaptation
    channels, height, width = adaptation.source
    arrays = np.stack([_decode(item, number, pil_mode(channels), (height, width)) for number, item in enumerate(items)])
    if invert:
        arrays = 255 - arrays
    training_mean = float(np.mean(adaptation.mean))
    for number, (item, array) in enumerate(zip(items, arrays)):
        warning = polarity_warning(_label(item, number), float(array.mean()) / 255, training_mean, invert)
        if warning:
            warn(warning)
    batch = torch.from_numpy(arrays)
    if batch.shape[1] != channels:  # a grey data set decoded in RGB mode, say
        batch = batch[:, :channels]
    normaliser = Normaliser(adaptation, loaded.plan.device)
    with torch.inference_mode(), loaded.plan.autocast():
        inputs = model_inputs(geometry(batch, adaptation).to(loaded.plan.device), normaliser, loaded.plan)
        probabilities = torch.softmax(loaded.model(inputs).float(), dim=1).cpu()
    k = min(top_k, probabilities.shape[1])
    values, indices = probabilities.topk(k, dim=1)
    return Predictions(
        Prediction(_label(item, number), [(int(i), _name(loaded.classes, int(i)), float(p)) for p, i in zip(vs, ix)],
                   pixels)
        for number, (item, vs, ix, pixels) in enumerate(zip(items, values.tolist(), indices.tolist(), batch.numpy())))


def _label(item: ImageInput, number: int) -> Path | str:
    """How an image is named in the output: its path, or its place among the inputs."""
    return item if isinstance(item, Path) else Path(item) if isinstance(item, str) else f"image {number}"


def _name(classes: tuple[str, ...], index: int) -> str:
    return classes[index] if index < len(classes) else str(index)
