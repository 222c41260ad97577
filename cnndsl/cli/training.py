"""`cnndsl train`, `cnndsl eval` and `cnndsl predict`.

torch is imported inside the command functions only, so that `check` and `summary` (which
share this application) start without it. Every error a user can cause arrives here as a
`TrainError` and leaves as a message and an exit code, never a traceback.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.markup import escape

from ..train.errors import TrainError
from ..train_schema import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LIMIT, MAX_PROCESSES, MAX_SEED, MAX_TOP_K
from .app import NetworkOption, SetOption, StrictOption, app, console, err_console, load_network


class Optimizer(str, Enum):
    sgd = "sgd"
    adam = "adam"
    adamw = "adamw"


class Schedule(str, Enum):
    onecycle = "onecycle"
    cosine = "cosine"
    constant = "constant"


class Augment(str, Enum):
    auto = "auto"
    none = "none"
    crop = "crop"
    flip = "flip"
    crop_flip = "crop+flip"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class Format(str, Enum):
    text = "text"
    json = "json"


DeviceOption = typer.Option(Device.auto, "--device", help="Where to run: auto picks cuda, then mps, then cpu.")
FormatOption = typer.Option(Format.text, "--format", "-f", help="Output format.")
FollowLinksOption = typer.Option(False, "--follow-links",
                                 help="Let an image folder's links lead out of it (refused by default).")
AllowChangedSourceOption = typer.Option(False, "--allow-changed-source",
                                        help="Use the run's network source even if it was edited after training "
                                             "(a warning instead of an error).")


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a TrainError into its message on stderr and its exit code."""
    try:
        yield
    except TrainError as exc:
        err_console.print(f"[bold red]error[/]: {escape(exc.message)}", highlight=False)
        if exc.help:
            err_console.print(f"  [bold cyan]help[/]: {escape(exc.help)}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def _warn(message: str) -> None:
    err_console.print(f"[bold yellow]warning[/]: {escape(message)}", highlight=False)


def _value(option: Optional[Enum]) -> Optional[str]:
    return None if option is None else option.value


@app.command()
def train(
    file: Path = typer.Argument(..., help="The .net file.", show_default=False),
    data: Optional[str] = typer.Option(
        None, "--data", "-d", help="mnist, fashion-mnist, kmnist, cifar10, cifar100, svhn, digits, "
                                   "imagefolder:PATH or fake (default: the network's train section)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", "-e", min=1, max=MAX_EPOCHS,
                                         help="Passes over the training set."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", min=1, max=MAX_BATCH_SIZE,
                                             help="Images per optimizer step."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (the peak rate under onecycle)."),
    optimizer: Optional[Optimizer] = typer.Option(None, "--optimizer", help="The optimizer."),
    momentum: Optional[float] = typer.Option(None, "--momentum", help="SGD momentum, or Adam's beta1."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="Weight decay (not on biases)."),
    schedule: Optional[Schedule] = typer.Option(None, "--schedule", help="Learning-rate schedule, per batch."),
    label_smoothing: Optional[float] = typer.Option(None, "--label-smoothing", help="Label smoothing in [0, 1)."),
    augment: Optional[Augment] = typer.Option(None, "--augment", help="Augmentation; auto augments runs of 10+ "
                                                                      "epochs, flipping only photos."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, max=MAX_SEED,
                                       help="Seed for initialisation, shuffling, augmentation."),
    device: Device = DeviceOption,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: runs/NETWORK-TIME)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last finished epoch."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, max=MAX_LIMIT,
                                        help="Use only the first N training images."),
    data_root: Path = typer.Option(Path("data"), "--data-root", help="Where data sets are read and downloaded."),
    compile_: bool = typer.Option(False, "--compile", help="Compile the model with torch.compile."),
    follow_links: bool = FollowLinksOption,
    nproc: Optional[int] = typer.Option(None, "--nproc", min=1, max=MAX_PROCESSES,
                                        help="Train with N processes on this machine (DistributedDataParallel: one "
                                             "per GPU, or CPU processes); --batch-size stays the global batch."),
    dist_timeout: Optional[float] = typer.Option(None, "--dist-timeout", min=1.0,
                                                 help="Seconds a process waits for the others before the run stops "
                                                      "with an error (default 600)."),
    network: Optional[str] = NetworkOption,
    set_: Optional[list[str]] = SetOption,
    strict: bool = StrictOption,
) -> None:
    """Train a network and write a run directory (weights, metrics, plots)."""
    _quiet_unless_rank_zero()
    net = load_network(file, network, set_, strict)
    flags = {"data": data, "epochs": epochs, "batch_size": batch_size, "optimizer": _value(optimizer), "lr": lr,
             "momentum": momentum, "weight_decay": weight_decay, "schedule": _value(schedule),
             "label_smoothing": label_smoothing, "augment": _value(augment), "seed": seed}
    with reported_errors():
        from ..backends.torch_module import build
        from ..train.commands.launch import launch, train_here
        from ..train.commands.session import TrainRequest

        request = TrainRequest(net, build, flags, data_root, limit, device.value, compile_, out, resume, follow_links)
        if nproc is not None and nproc > 1:
            launch(request, nproc, dist_timeout)
        else:
            train_here(request, console, dist_timeout)


def _quiet_unless_rank_zero() -> None:
    """Under torchrun every process runs this command; only rank 0 prints (warnings,
    progress, errors). The others' failures reach the launcher's report through its
    error files."""
    if os.environ.get("RANK", "0") != "0":
        console.quiet = err_console.quiet = True


@app.command(name="eval")
def eval_(
    run_dir: Path = typer.Argument(..., help="A run directory written by `cnndsl train`.", show_default=False),
    data: Optional[str] = typer.Option(None, "--data", "-d", help="Evaluate on this data set's test split "
                                                                  "(default: the run's)."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Where the data set is (default: the run's)."),
    device: Device = DeviceOption,
    format: Format = FormatOption,
    allow_changed_source: bool = AllowChangedSourceOption,
    follow_links: bool = FollowLinksOption,
) -> None:
    """Test loss, accuracy, per-class accuracy and confusion matrix of a trained run."""
    with reported_errors():
        from ..train.commands.inference import evaluate_run, load_run
        from ..train.commands.report import confusion_table, results_table

        def log(message: str) -> None:
            err_console.print(message, highlight=False)

        loaded = load_run(run_dir, device.value, _warn, allow_changed_source=allow_changed_source)
        evaluation, spec, classes = evaluate_run(loaded, data, data_root, log, follow_links)
        if format is Format.json:
            print(json.dumps({"run": str(run_dir), "network": loaded.config["network"]["name"], "data": spec,
                              **evaluation.as_json(classes)}))
            return
        console.print(results_table(evaluation, classes, f"{loaded.config['network']['name']} on {spec} (test set)"))
        console.print(confusion_table(evaluation, classes))


@app.command()
def predict(
    run_dir: Path = typer.Argument(..., help="A run directory written by `cnndsl train`.", show_default=False),
    images: list[Path] = typer.Argument(..., help="Image files (PNG, JPEG, ...).", show_default=False),
    top_k: int = typer.Option(3, "--top-k", "-k", min=1, max=MAX_TOP_K, help="How many classes to show per image."),
    device: Device = DeviceOption,
    format: Format = FormatOption,
    allow_changed_source: bool = AllowChangedSourceOption,
) -> None:
    """The most likely classes for image files, adapted as the training images were."""
    with reported_errors():
        from ..train.commands.inference import load_run, predict_images

        loaded = load_run(run_dir, device.value, _warn, allow_changed_source=allow_changed_source)
        predictions = predict_images(loaded, images, top_k)
        if format is Format.json:
            print(json.dumps([{"image": str(p.image), "predictions": [
                {"class": name, "index": index, "probability": probability} for index, name, probability in p.top]}
                for p in predictions]))
            return
        for prediction in predictions:
            ranked = ", ".join(f"{name} {probability:.1%}" for _, name, probability in prediction.top)
            console.print(f"{prediction.image}: {ranked}", highlight=False)
