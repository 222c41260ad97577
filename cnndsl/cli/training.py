"""`cnndsl train`, `cnndsl eval` and `cnndsl predict`.

torch is imported inside the command functions only, so that `check` and `summary` (which
share this application) start without it. Every error a user can cause arrives here as a
`TrainError` and leaves as a message and an exit code, never a traceback.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.markup import escape

from ..compiler import CompileError
from ..render import print_diagnostics
from ..train.errors import Interrupted, TrainError
from ..settings_schema import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LIMIT, MAX_PROCESSES, MAX_SEED, MAX_TOP_K
from .app import NetworkOption, SetOption, StrictOption, app, console, err_console, load_network, usage_error


class Recipe(str, Enum):
    fast = "fast"
    plain = "plain"


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
    """Turn a TrainError into its message on stderr and its exit code, and weights that do not
    fit (`--init`) into their diagnostic, at the line of the `.net` file (exit 1)."""
    try:
        yield
    except CompileError as exc:
        print_diagnostics(err_console, exc.diagnostics)
        raise typer.Exit(1) from None
    except TrainError as exc:
        err_console.print(f"[bold red]error[/]: {escape(exc.message)}", highlight=False)
        help = f"continue with: {resume_command(sys.argv[1:], exc.run)}" if isinstance(exc, Interrupted) else exc.help
        if help:
            err_console.print(f"  [bold cyan]help[/]: {escape(help)}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def resume_command(argv: list[str], run: Optional[Path]) -> str:
    """The command that continues an interrupted run: the one that was typed, with
    `--resume --out RUN` in place of any `--resume` or `--out` it had."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--out", "-o"):
            skip = True
        elif arg != "--resume" and not arg.startswith("--out="):
            kept.append(arg)
    return shlex.join(["cnndsl", *kept, "--resume", "--out", str(run) if run else "RUN_DIR"])


def _log(message: str) -> None:
    err_console.print(escape(message), highlight=False)


def _warn(message: str) -> None:
    err_console.print(f"[bold yellow]warning[/]: {escape(message)}", highlight=False)


def _value(option: Optional[Enum]) -> Optional[str]:
    return None if option is None else option.value


@app.command()
def train(
    file: Path = typer.Argument(..., readable=False, help="The .net file.", show_default=False),
    data: Optional[str] = typer.Option(
        None, "--data", "-d", help="mnist, fashion-mnist, kmnist, cifar10, cifar100, svhn, digits, "
                                   "imagefolder:PATH or fake (default: the network's train section)."),
    recipe: Optional[Recipe] = typer.Option(
        None, "--recipe", help="fast: the tuned default (one-cycle, smoothing, decay); plain: the stated optimizer "
                               "and rate, constant, nothing added. Stating --optimizer or --lr selects plain."),
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
    init: Optional[Path] = typer.Option(None, "--init", help="Start from the tensors of this file (a PyTorch state "
                                                             "dict, a .safetensors file or a run directory): "
                                                             "fine-tuning.", show_default=False),
    fresh: Optional[list[str]] = typer.Option(None, "--fresh", help="With --init: a layer (or a block's label) that "
                                                                    "keeps its own initialisation, such as a new "
                                                                    "classifier. Repeatable.", show_default=False),
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
    if fresh and init is None:
        raise usage_error("--fresh names layers to leave out of --init; give --init PATH too")
    net = load_network(file, network, set_, strict)
    flags = {"data": data, "recipe": _value(recipe), "epochs": epochs, "batch_size": batch_size,
             "optimizer": _value(optimizer), "lr": lr,
             "momentum": momentum, "weight_decay": weight_decay, "schedule": _value(schedule),
             "label_smoothing": label_smoothing, "augment": _value(augment), "seed": seed}
    with reported_errors():
        from ..train.commands.launch import train_network

        train_network(net, flags, console, data_root=data_root, limit=limit, device=device.value, compile=compile_,
                      out=out, resume=resume, nproc=nproc, timeout=dist_timeout, init=init, fresh=tuple(fresh or ()),
                      follow_links=follow_links)


def _quiet_unless_rank_zero() -> None:
    """Under torchrun every process runs this command; only rank 0 prints (warnings,
    progress, errors). The others' failures reach the launcher's report through its
    error files."""
    if os.environ.get("RANK", "0") != "0":
        console.quiet = err_console.quiet = True


@app.command(name="eval")
def eval_(
    run_dir: Path = typer.Argument(..., readable=False, help="A run directory written by `cnndsl train`.",
                                   show_default=False),
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
        from ..train.commands.inference import evaluation_report, load_run

        loaded = load_run(run_dir, device.value, _warn, allow_changed_source=allow_changed_source)
        report = evaluation_report(str(run_dir), loaded, data, data_root, _log, follow_links)
        if format is Format.json:
            print(json.dumps(report))
            return
        for table in report.tables:
            console.print(table)


@app.command()
def predict(
    run_dir: Path = typer.Argument(..., readable=False, help="A run directory written by `cnndsl train`.",
                                   show_default=False),
    images: list[Path] = typer.Argument(..., readable=False, help="Image files (PNG, JPEG, ...), or folders of them.",
                                        show_default=False),
    top_k: int = typer.Option(3, "--top-k", "-k", min=1, max=MAX_TOP_K, help="How many classes to show per image."),
    invert: bool = typer.Option(False, "--invert", help="Invert the images first (a dark digit on light paper "
                                                        "for a network trained on light digits on dark)."),
    device: Device = DeviceOption,
    format: Format = FormatOption,
    allow_changed_source: bool = AllowChangedSourceOption,
) -> None:
    """The most likely classes for image files, adapted as the training images were."""
    with reported_errors():
        from ..train.commands.inference import load_run, predict_images

        loaded = load_run(run_dir, device.value, _warn, allow_changed_source=allow_changed_source)
        predictions = predict_images(loaded, images, top_k, log=_log, warn=_warn, invert=invert)
        if format is Format.json:
            print(json.dumps([prediction.as_json() for prediction in predictions]))
            return
        for prediction in predictions:
            console.print(prediction.line(), highlight=False, markup=False)
