"""One `cnndsl train` run, from a checked network to a finished run directory.

The order matters: every check that can reject the input (settings, data set, class
count, device, an existing run directory) happens before anything is written, so a
rejected command leaves nothing behind; after that, each finished epoch is saved before
the next begins, and the run is marked complete last.

A session may be one rank of several (distributed/cluster.py): then every rank loads the data and
trains, rank 0 alone reads and writes the run directory and prints, and what rank 0
decides (the run directory, a checkpoint to resume from) is sent to the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from rich.console import Console
from rich.markup import escape
from torch import nn

from ... import ir
from ...counting import BYTES_PER_VALUE, summarize
from ...backends.weights import file_weights, fitted_state
from ...version import __version__
from ...ir import format_shape
from ...settings_schema import FAST, DataSpec, TrainSettings
from ..data.adapt import Adaptation, Normaliser, adaptation_for
from ..data.augment import Augmentation, Augmenter, choose
from ..data.batches import DeviceSplit
from ..data.images import Dataset, ImageSet
from ..data.sources import load_dataset, parse_spec
from ..distributed.cluster import Cluster
from ..errors import Interrupted, RunUnchanged, TrainError, does_not_fit, epochs_saved
from ..loop.cores import Cores, whole_batch_layers
from ..loop.device import DevicePlan, pick_device
from ..loop.layout import recorded_layout
from ..loop.memory import check_fits, training_need
from ..loop.metrics import Evaluation
from ..loop.recipe import schedule_used
from ..loop.settings import Resolved, resolve_explained
from ..loop.trainer import Diverged, Trainer, effective_batch_size
from ..loop.warmup import FAILED_RUN_WAIT_SECONDS, WarmShapes, Warmup, takes_a_step
from ..rundir.files import (ACCURACY_PLOT, CHECKPOINT, COMPLETE, CONFIG, CONFUSION_PLOT, DIVERGED, FAILED,
                            INTERRUPTED, LOSS_PLOT, RUNNING, SAMPLES_PLOT, RunDir, file_digest)
from ..rundir.plots import Series, confusion_chart, line_chart, percent, samples_chart
from .report import epoch_bar, epoch_line, results_table
from .signals import interrupts_held

CONFIG_FORMAT = 1
MIN_TRAINING_IMAGES = 2
SAMPLE_GRID_SIZE = 32
# What must be equal for `--resume` to continue a run rather than start a different one.
# The number of processes is among them: batch-norm statistics and dropout streams are
# per process, so only the same number continues a run exactly.
RESUME_KEYS = (("network", "name"), ("network", "sources"), ("network", "params"), ("data", "spec"),
               ("data", "limit"), ("settings",), ("distributed", "world_size"), ("init",))
# Runs written before distributed training was added were trained by one process.
SINGLE_PROCESS = {"world_size": 1, "backend": None}


@dataclass(frozen=True)
class TrainRequest:
    net: ir.Network
    build_model: Callable[[ir.Network], nn.Module]
    flags: Mapping[str, Any]
    data_root: Path
    limit: int | None = None
    device: str = "auto"
    compile: bool = False
    out: Path | None = None
    resume: bool = False
    init: Path | None = None  # --init: the weights to start from
    fresh: tuple[str, ...] = ()  # --fresh: the layers that keep their own initialisation
    follow_links: bool = False  # --follow-links: an image folder may link out of itself


@dataclass(frozen=True)
class Init:
    """The tensors `--init` gives the model (by the model's keys), and the file they came from."""

    state: Mapping[str, torch.Tensor]
    path: Path
    sha256: str
    fresh: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "fresh": list(self.fresh)}


def initial_weights(request: TrainRequest) -> Init | None:
    """`--init`, read and checked against the network's shapes (the model is built on the meta
    device, so nothing is allocated): a file that does not fit stops the run before anything
    is written, with the `.net` line of the first tensor at fault."""
    if request.init is None:
        return None
    with torch.device("meta"):
        shapes = request.build_model(request.net)
    state = fitted_state(shapes, request.init, request.fresh)
    path = file_weights(request.init).resolve()
    return Init(state, path, file_digest(path), request.fresh)


def json_value(value: Any) -> Any:
    """Network parameter values as JSON (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


def partial_batch(batch: int, samples: int) -> str | None:
    """What an epoch leaves out when the training images do not fill whole batches: every
    step takes a full batch, so the remainder (a different, shuffled few each epoch) waits.
    A `batch` larger than the training set becomes one batch of all of it."""
    if batch > samples:
        return f"one batch of all {samples:,} training images a step (batch_size {batch:,} is more than there are)"
    steps, rest = divmod(samples, batch)
    if not rest:
        return None
    return (f"{steps:,} full batches of {batch:,} ({steps * batch:,} images); the last {rest:,} of each shuffled "
            f"epoch are left out, different ones each time")


def classes_of(net: ir.Network) -> int:
    if len(net.output_shape) != 1:
        raise TrainError(f"{net.name} outputs {format_shape(net.output_shape)}, but training a classifier needs "
                         "one score per class", help="end the network with `flatten` and `linear(classes)`")
    return net.output_shape[0]


def class_count_hint(net: ir.Network, wanted: int) -> str:
    """Which `--set` gives the network `wanted` outputs: an integer parameter equal to the
    current class count that, changed to `wanted`, makes the output `wanted` long."""
    from ...compiler import check_file

    have = net.output_shape[0]
    candidates = sorted((name for name, value in net.params.items() if type(value) is int and value == have),
                        key=lambda name: "class" not in name.lower())
    for name in candidates:
        report = check_file(net.files[0], net.name, {**net.params, name: wanted}) if net.files else None
        if report is not None and report.ok and report.networks[0].output_shape == (wanted,):
            return f"use --set {name}={wanted}"
    return f"change the network's last layer to produce {wanted} outputs"


def check_classes(net: ir.Network, dataset: Dataset) -> None:
    wanted, have = len(dataset.classes), classes_of(net)
    if wanted != have:
        raise TrainError(f"{dataset.spec} has {wanted} classes, but {net.name} outputs {have} scores",
                         help=class_count_hint(net, wanted))


def checked_settings(request: TrainRequest) -> tuple[Resolved, DataSpec]:
    """The request's settings (with what was filled in, and why) and data set, with the
    checks that need no data: made by every process, and by `--nproc` before it starts any."""
    net = request.net
    if summarize(net).trainable_params == 0:
        raise TrainError(f"{net.name} has no weights to train: none of its layers has parameters",
                         help="add a layer that learns (conv, linear, batchnorm, ...); `cnndsl summary` counts "
                              "the parameters of each layer")
    resolved = resolve_explained(net.train, request.flags, f"the train section of {net.name}")
    spec = parse_spec(resolved.settings.data)
    if spec.path is not None:  # a folder: found where the reader of the command or the file expects it
        spec = DataSpec(spec.kind, (_data_base(request) / spec.path).resolve())
        resolved = replace(resolved, settings=replace(resolved.settings, data=str(spec)))
    if request.limit is not None and request.limit < 1:
        raise TrainError(f"--limit must be at least 1, not {request.limit}")
    return resolved, spec


def _data_base(request: TrainRequest) -> Path:
    """Where a relative `imagefolder:PATH` starts: the working directory for `--data`, the
    network file's folder for a `train` section (as `use` paths do), so that a file naming
    the folder beside it trains from anywhere. The run records the absolute path."""
    source = request.net.span.file.path
    return source.parent if request.flags.get("data") is None and source is not None else Path.cwd()


def _mismatch(stored: dict, current: dict) -> str | None:
    stored = {"distributed": SINGLE_PROCESS, **stored}
    if isinstance(stored.get("settings"), dict):  # runs from before recipes had names ran `fast`
        stored["settings"] = {"recipe": FAST.name, **stored["settings"]}
    old: object
    new: object
    for path in RESUME_KEYS:
        old, new = stored, current
        for key in path:
            old, new = old.get(key) if isinstance(old, dict) else None, new.get(key) if isinstance(new, dict) else None
        if old != new:
            if isinstance(old, dict) and isinstance(new, dict):
                keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
                return "; ".join(f"{k} was {old.get(k)!r}, now {new.get(k)!r}" for k in keys)
            return f"{'.'.join(path)} was {old!r}, now {new!r}"
    return None


class Session:
    """Carries one training run; `run()` does it and returns the run directory."""

    def __init__(self, request: TrainRequest, console: Console, cluster: Cluster = Cluster()) -> None:
        self.request = request
        self.console = console
        self.net = request.net
        self.cluster = cluster
        self.init: Init | None = None
        self.warmup: Warmup | None = None
        # Threads to share work among on the CPU (loop/cores.py): the test pass always, a
        # training step when the network trains per sample (`cores.steps`).
        self.cores = Cores()

    def log(self, message: str) -> None:
        self.console.print(message, highlight=False, markup=False)

    def run(self) -> RunDir:
        request, cluster = self.request, self.cluster
        resolved, spec = checked_settings(request)
        settings = resolved.settings
        if request.out is not None and not request.resume and cluster.is_main:
            RunDir.check_new(request.out)  # before the data is loaded: a wrong --out costs nothing
        seeded = request.flags.get("seed") is not None or "seed" in request.net.train
        plan = pick_device(request.device, cluster.cuda_index, deterministic=seeded)
        batch = max(settings.batch_size // cluster.world_size, 1)
        check_fits(training_need(request.net, batch, settings.optimizer), plan.device,
                   f"training {request.net.name} in batches of {batch}",
                   "use a smaller --batch-size, or a smaller network (`cnndsl summary` shows where the memory goes)")
        cluster.limit_threads(plan.device)
        self.cores = Cores.for_training(self.net, plan.device, alone=not cluster.distributed and not request.compile)
        self.warmup = self._start_warmup(resolved.settings, plan, measure=not seeded and not request.resume)
        failed = True
        try:
            with cluster.connected(plan.device):
                self._print_recipe(resolved)
                run = self._prepare(resolved.settings, spec, plan)
            failed = False
            return run
        finally:
            if self.warmup is not None:  # a failed run stops it, and waits only so long (loop/warmup.py)
                if failed:
                    self.warmup.stop()
                self.warmup.join(FAILED_RUN_WAIT_SECONDS if failed else None)

    def _start_warmup(self, settings: TrainSettings, plan: DevicePlan, measure: bool) -> Warmup | None:
        """On the CPU, in a single process, the first step's imports and kernel creation are
        done while the data loads (loop/warmup.py), for the batch shapes and thread counts that
        the steps and the test pass will use; with `measure`, for a network of images, its
        steps time the two layouts (loop/layout.py)."""
        net = self.net
        if plan.device.type != "cpu" or self.cluster.distributed or len(net.output_shape) != 1:
            return None
        return Warmup(lambda: self.request.build_model(net), net.input_shape, net.output_shape[0], settings,
                      WarmShapes.of_run(self.cores, settings.batch_size), self._warmup_steps(settings.batch_size),
                      measure and len(net.input_shape) == 3)

    def _warmup_steps(self, batch_size: int) -> bool:
        summary = summarize(self.net)
        return takes_a_step(summary.macs, summary.activation_bytes // BYTES_PER_VALUE, batch_size)

    def _print_recipe(self, resolved: Resolved) -> None:
        """The run's first lines: the recipe that runs, why, and every value it filled in."""
        first, *rest = resolved.describe()
        self.console.print(f"[bold]recipe[/] {escape(first)}", highlight=False)
        for line in rest:
            self.console.print(f"  {line}", highlight=False, markup=False)

    def _prepare(self, settings: TrainSettings, spec: DataSpec, plan: DevicePlan) -> RunDir:
        request, net, cluster = self.request, self.net, self.cluster
        self.init = initial_weights(request)
        existing = cluster.main_decides(self._open_for_resume) if request.resume else None
        dataset = cluster.in_turn(lambda: load_dataset(spec, request.data_root, net.input_shape, classes_of(net),
                                                       self.log, request.follow_links))
        check_classes(net, dataset)
        train_set = dataset.train.first(request.limit) if request.limit else dataset.train
        if len(train_set) < MIN_TRAINING_IMAGES:
            raise TrainError(f"training needs at least {MIN_TRAINING_IMAGES} images (batch normalisation needs two "
                             f"per batch); {dataset.spec} gives {len(train_set)}")
        if len(dataset.test) == 0:
            raise TrainError(f"the test split of {dataset.spec} is empty")
        cluster.share(effective_batch_size(settings, len(train_set)))  # refuses a batch too small to share
        adaptation = adaptation_for(train_set.images, net.input_shape)
        augmentation = choose(settings.augment, adaptation.image_shape, dataset.flip, adaptation.flattens,
                              settings.epochs)
        previous = (existing, cluster.main_decides(existing.read_config)) if existing is not None else None
        plan = self._settle_layout(plan, previous)
        config = self._config(settings, dataset, train_set, adaptation, augmentation, plan)
        run, complete = cluster.main_decides(lambda: self._run_dir(previous, config, settings))
        if complete:
            return run
        return self._train(run, settings, dataset, train_set, adaptation, augmentation, plan)

    def _settle_layout(self, plan: DevicePlan, previous: tuple[RunDir, dict] | None) -> DevicePlan:
        """The CPU layout of a single process's run: the one a resumed run recorded, else the
        faster one where the warm-up timed both (loop/layout.py), else the rule `pick_device`
        applied."""
        if plan.device.type != "cpu" or self.cluster.distributed:
            return plan
        if previous is not None:
            return recorded_layout(plan, previous[1])
        if self.warmup is not None and self.warmup.measures:
            self.warmup.join()
            timing = self.warmup.layout
            if timing is not None:
                return timing.applied(plan)
        return plan

    def _run_dir(self, previous: tuple[RunDir, dict] | None, config: dict,
                 settings: TrainSettings) -> tuple[RunDir, bool]:
        """The run directory to train in, created, or checked for resuming when `previous` gives
        the run to resume and its stored config (rank 0 only); true when it holds a complete run
        already."""
        if previous is None:
            run = RunDir.create(self.request.out or RunDir.default_path(self.net.name))
            try:
                run.write_sources(self.net.files)
                run.write_config(config)
                run.write_status(RUNNING, 0, settings.epochs)
            except OSError as exc:
                raise TrainError(f"cannot write the run directory {run.path}: {exc.strerror or exc}",
                                 help="free some space, or give --out a folder you can write") from None
            return run, False
        existing, stored = previous
        problem = _mismatch(stored, config)
        if problem:
            raise TrainError(f"cannot resume {existing.path}: {problem}",
                             help="resume with the same network, --set values, data, settings, --init and number of "
                                  "processes, or start a new run with another --out")
        self._note_other_threads(stored, config)
        changed = existing.check_sources(stored)
        if changed:
            raise TrainError(f"cannot resume {existing.path}: {', '.join(changed)} changed after training (its "
                             "SHA-256 is not the one config.json records)",
                             help="restore the file as it was trained, or start a new run with another --out")
        status = existing.read_status()
        has_checkpoint = (existing / CHECKPOINT).is_file()
        if status["epochs_completed"] > 0 and not has_checkpoint:
            raise TrainError(f"cannot resume {existing.path}: it says {status['epochs_completed']} epochs are done, "
                             f"but {CHECKPOINT} is missing",
                             help="start a new run with another --out")
        if status["state"] == COMPLETE:
            damage = existing.damage(status)
            if damage is None:
                self.log(f"{existing.path} is already complete; nothing to resume")
                return existing, True
            if not has_checkpoint:
                raise TrainError(f"cannot resume {existing.path}: it says complete, but {damage}, and there is no "
                                 f"{CHECKPOINT} to repair it from", help="start a new run with another --out")
            self.log(f"{existing.path} says complete, but {damage}; repairing it from {CHECKPOINT}")
        return existing, False

    def _note_other_threads(self, stored: dict, config: dict) -> None:
        """On the CPU the thread count orders the sums of a step (loop/cores.py), so a run
        resumed on another count goes on as well as before, but not to the bit."""
        before, now = stored.get("device", {}).get("threads"), config["device"]["threads"]
        if config["device"]["used"] == "cpu" and before is not None and before != now:
            self.log(f"note: this run trained with PyTorch on {before} threads, now on {now}: its sums are added in "
                     "another order from here, so it will not end bit for bit where an uninterrupted run would")

    def _open_for_resume(self) -> RunDir:
        if self.request.out is None:
            raise TrainError("--resume needs the run directory to continue", help="give it with --out RUN_DIR")
        return RunDir.open(self.request.out)

    def _config(self, settings: TrainSettings, dataset: Dataset, train_set: ImageSet, adaptation: Adaptation,
                augmentation: Augmentation, plan: DevicePlan) -> dict:
        net, request = self.net, self.request
        digests = RunDir.source_digests(net.files)
        return {
            "format": CONFIG_FORMAT,
            "cnndsl_version": __version__,
            "torch_version": torch.__version__,
            "network": {"name": net.name, "source": f"source/{next(iter(digests))}", "sources": digests,
                        "params": {k: json_value(v) for k, v in net.params.items()},
                        "input": list(net.input_shape), "output": list(net.output_shape)},
            "data": {"spec": dataset.spec, "root": str(request.data_root.resolve()), "limit": request.limit,
                     "classes": list(dataset.classes), "train_samples": len(train_set),
                     "test_samples": len(dataset.test), "image_shape": list(dataset.image_shape)},
            "adaptation": adaptation.as_json(),
            "augmentation": {"padding": augmentation.padding, "flip": augmentation.flip},
            "settings": settings.as_json(),
            "device": {"requested": request.device, "used": str(plan.device), "threads": torch.get_num_threads(),
                       "channels_last": plan.channels_last, "layout_ratio": plan.layout_ratio},
            "distributed": {"world_size": self.cluster.world_size, "backend": self.cluster.backend},
            "compile": request.compile,
            "init": None if self.init is None else self.init.as_json(),
        }

    def _print_plan(self, settings: TrainSettings, dataset: Dataset, train_set: ImageSet, adaptation: Adaptation,
                    augmentation: Augmentation, plan: DevicePlan, run: RunDir) -> None:
        net, request = self.net, self.request
        limited = f" (first {len(train_set):,} of {len(dataset.train):,})" if len(train_set) < len(dataset.train) else ""
        shape = "x".join(map(str, dataset.image_shape))
        steps = len(train_set) // effective_batch_size(settings, len(train_set))
        lines = [
            f"[bold]network[/] {net.name}: input {format_shape(net.input_shape)}, {classes_of(net)} classes",
            f"[bold]data[/] {escape(dataset.spec)}: {len(train_set):,} training images{limited}, {len(dataset.test):,} test "
            f"images, {shape}, {len(dataset.classes)} classes",
            *([f"[bold]epoch[/] {partial}"] if (partial := partial_batch(settings.batch_size, len(train_set))) else []),
            *([f"[bold]schedule[/] {schedule}: a run of {settings.epochs * steps:,} step"
               f"{'' if settings.epochs * steps == 1 else 's'} is too short for {settings.schedule}'s warm-up and "
               "annealing"] if (schedule := schedule_used(settings, steps)) != settings.schedule else []),
            "[bold]adapt[/] " + "; ".join(adaptation.describe()),
            f"[bold]augment[/] {augmentation.describe()}" + (
                f" ({settings.augment} moves pixels: the network takes a vector)"
                if settings.augment not in ("auto", "none") and not augmentation.active else ""),
            f"[bold]device[/] {plan.describe()}" + (", torch.compile" if request.compile else "") + self._sharing(),
            *([f"[bold]init[/] {escape(str(self.init.path))} (sha256 {self.init.sha256[:12]}...)"
               + (f", fresh: {escape(', '.join(self.init.fresh))}" if self.init.fresh else "")]
              if self.init is not None else []),
            *([f"[bold]workers[/] {self.cluster.describe(effective_batch_size(settings, len(train_set)))}"]
              if self.cluster.distributed else []),
            f"[bold]run[/] {escape(str(run.path))}",
        ]
        for line in lines:
            self.console.print(line, highlight=False)

    def _sharing(self) -> str:
        size = self.cores.size
        if size == 1:
            return ""
        if self.cores.steps:
            return f"; each batch and the test pass shared among {size} threads"
        return (f"; the test pass shared among {size} threads, each training batch kept whole (for "
                f"{', '.join(whole_batch_layers(self.net))})")

    def _train(self, run: RunDir, settings: TrainSettings, dataset: Dataset, train_set: ImageSet,
               adaptation: Adaptation, augmentation: Augmentation, plan: DevicePlan) -> RunDir:
        """Say what runs, then train, saving each epoch whole. Whatever stops the run once its
        directory exists (divergence, Ctrl-C, a full disk, any failure), its weights, metrics
        and status are brought back to the last epoch the checkpoint holds and the status says
        why it stopped: never `running`."""
        try:
            self._print_plan(settings, dataset, train_set, adaptation, augmentation, plan, run)
            return self._epochs(run, settings, dataset, train_set, adaptation, augmentation, plan)
        except RunUnchanged:
            raise
        except Diverged as exc:
            done, note = self._stop(run, settings, DIVERGED, str(exc))
            kept = f"the weights of epoch {done} are kept in {run.path}" if done else "no epoch finished"
            raise TrainError(f"training stopped: {exc}; {kept}{note}",
                             help="lower the learning rate (--lr), or check the data for extreme values") from None
        except KeyboardInterrupt:
            done, note = self._stop(run, settings, INTERRUPTED, "interrupted")
            raise Interrupted(f"interrupted; {epochs_saved(done, settings.epochs)} in {run.path}{note}", run.path,
                              help=f"continue with the same command plus --resume --out {run.path}") from None
        except OSError as exc:
            reason = f"cannot write {exc.filename or run.path}: {exc.strerror or exc}"
            done, note = self._stop(run, settings, FAILED, reason)
            raise TrainError(f"{reason}; {epochs_saved(done, settings.epochs)} in {run.path}{note}",
                             help=f"make room, then continue with the same command plus --resume --out {run.path}") \
                from None
        except torch.cuda.OutOfMemoryError:
            done, note = self._stop(run, settings, FAILED, "out of memory")
            raise TrainError(f"{plan.device} ran out of memory; {epochs_saved(done, settings.epochs)} in "
                             f"{run.path}{note}", help="try a smaller --batch-size") from None
        except BaseException as exc:
            message = exc.message if isinstance(exc, TrainError) else f"{type(exc).__name__}: {exc}"
            self._stop(run, settings, FAILED, message)
            raise

    def _epochs(self, run: RunDir, settings: TrainSettings, dataset: Dataset, train_set: ImageSet,
                adaptation: Adaptation, augmentation: Augmentation, plan: DevicePlan) -> RunDir:
        request, net, cluster = self.request, self.net, self.cluster
        if self.warmup is not None:  # it draws from the generator seeded here
            self.warmup.join()
        torch.manual_seed(settings.seed)
        model = request.build_model(net).to(plan.device)
        if self.init is not None:  # before the replicas are made; a resumed run's checkpoint replaces it
            model.load_state_dict(self.init.state, strict=False)
        if plan.channels_last:
            model = model.to(memory_format=torch.channels_last)
        cluster.seed(settings.seed)
        replica = cluster.replicate(model, plan.device)
        forward = torch.compile(replica) if request.compile else replica
        train_split = DeviceSplit(train_set, adaptation, plan.device)
        test_split = DeviceSplit(dataset.test, adaptation, plan.device)
        trainer = Trainer(model, forward, settings, train_split, Normaliser(adaptation, plan.device),
                          Augmenter(augmentation, adaptation.image_shape, plan.device), plan, len(dataset.classes),
                          cluster, self.cores)
        with self.cores:
            return self._resume_and_train(run, settings, dataset, trainer, test_split)

    def _resume_and_train(self, run: RunDir, settings: TrainSettings, dataset: Dataset, trainer: Trainer,
                          test_split: DeviceSplit) -> RunDir:
        request, cluster = self.request, self.cluster
        records: list[dict] = []
        if request.resume:
            state = cluster.main_decides(lambda: run.load_checkpoint("cpu") if (run / CHECKPOINT).is_file() else None)
            if state is not None:
                try:
                    trainer.load_state_dict(state)
                except (RuntimeError, ValueError, KeyError, TypeError) as exc:  # another network's, or edited
                    raise does_not_fit(run / CHECKPOINT, self.net.name, exc,
                                       help="resume with the file and settings the run was trained with, or start "
                                            "a new run (another --out)") from None
                if cluster.distributed:
                    trainer.set_rng_state(state["rank_rng"][cluster.rank])
                records = list(state["metrics"])
                if cluster.is_main:  # weights, metrics and status may lag the checkpoint (a kill between writes)
                    run.save_weights(state["model"])
                    run.write_metrics(records)
                    run.write_status(RUNNING, len(records), settings.epochs)
                self.log(f"resuming after epoch {state['epoch']} of {settings.epochs}")
        evaluation: Evaluation | None = None
        for epoch in range(len(records) + 1, settings.epochs + 1):
            started = time.perf_counter()
            with epoch_bar(self.console, epoch, settings.epochs) as bar:
                stats = trainer.train_epoch(epoch, bar.update)
            evaluation = trainer.evaluate(test_split, epoch)
            record = {"epoch": epoch, "train_loss": stats.loss, "train_accuracy": stats.accuracy,
                      "test_loss": evaluation.loss, "test_accuracy": evaluation.accuracy, "lr": stats.lr,
                      "images_per_second": stats.images_per_second, "train_seconds": stats.seconds,
                      "seconds": time.perf_counter() - started}
            self._save_epoch(run, trainer, [*records, record], settings.epochs)
            records.append(record)
            self.console.print(epoch_line(record), highlight=False)
        final = evaluation if evaluation is not None else trainer.evaluate(test_split)
        self._finish(run, records, settings, final, dataset)
        return run

    def _save_epoch(self, run: RunDir, trainer: Trainer, records: list[dict], epochs: int) -> None:
        """Checkpoint first (it is what --resume reads), then weights, metrics and status.
        With several processes, the checkpoint holds every rank's random generators."""
        state = {**trainer.state_dict(), "epoch": len(records), "metrics": records}
        if self.cluster.distributed:
            state["rank_rng"] = self.cluster.gather(trainer.rng_state())
        if self.cluster.is_main:
            run.save_epoch(state, epochs)

    def _stop(self, run: RunDir, settings: TrainSettings, state: str, message: str) -> tuple[int, str]:
        """Bring the run directory back to its last saved epoch (the checkpoint's) and mark it
        `state`; returns that epoch, and a note for the message when even this could not be
        written (a full disk). Ctrl-C and SIGTERM are held while this writes: another one
        (users press Ctrl-C more than once) would stop the writes halfway."""
        if not self.cluster.is_main:
            return 0, ""
        with interrupts_held():
            try:
                records = run.restore(state, settings.epochs, message)
                if records:
                    draw_curves(run, records, self.net.name, settings)
                return len(records), ""
            except (OSError, TrainError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                try:
                    saved = run.load_checkpoint("cpu")["epoch"] if (run / CHECKPOINT).is_file() else 0
                except TrainError:
                    saved = 0
                return saved, (f" (but the run directory could not be updated: {reason}; it may still say "
                               f"`{RUNNING}` until --resume repairs it)")

    def _finish(self, run: RunDir, records: list[dict], settings: TrainSettings, final: Evaluation,
                dataset: Dataset) -> None:
        if not self.cluster.is_main:
            return
        draw_curves(run, records, self.net.name, settings)
        draw_results(run, final, dataset.test, dataset.classes, self.net.name)
        run.write_evaluation({"data": dataset.spec, **final.as_json(dataset.classes)})
        run.write_status(COMPLETE, len(records), settings.epochs)
        self.console.print(results_table(final, dataset.classes, f"{self.net.name} on {dataset.spec} (test set)"))
        self.console.print(f"run directory: {run.path} ({CONFIG}, weights.pt, metrics.jsonl, plots)", highlight=False,
                           markup=False)


def draw_curves(run: RunDir, records: list[dict], network: str, settings: TrainSettings) -> None:
    """Loss and accuracy per epoch, train and test."""
    def series(key: str) -> list[tuple[float, float]]:
        return [(r["epoch"], r[key]) for r in records]

    smoothing = f", label smoothing {settings.label_smoothing:g}" if settings.label_smoothing else ""
    line_chart(run / LOSS_PLOT, f"{network} on {settings.data}: loss per epoch",
               [Series("train", series("train_loss")), Series("test", series("test_loss"))],
               "epoch", f"cross-entropy loss{smoothing}", lambda v: f"{v:.3g}")
    line_chart(run / ACCURACY_PLOT, f"{network} on {settings.data}: accuracy per epoch",
               [Series("train", series("train_accuracy")), Series("test", series("test_accuracy"))],
               "epoch", "accuracy", percent, (0.0, 1.0))


def draw_results(run: RunDir, evaluation: Evaluation, test: ImageSet, classes: tuple[str, ...], network: str) -> None:
    """The confusion matrix, and a grid of test images with their predictions: the first
    ones in order, then the first mistakes (which say more about a model than its successes)."""
    confusion_chart(run / CONFUSION_PLOT, evaluation.confusion, classes,
                    f"{network}: confusion matrix, {evaluation.samples:,} test images, "
                    f"accuracy {evaluation.accuracy:.2%}")
    chosen = sample_indices(test.labels, evaluation.predictions, SAMPLE_GRID_SIZE)
    mistakes = sum(int(evaluation.predictions[i] != test.labels[i]) for i in chosen)
    samples_chart(run / SAMPLES_PLOT, test.images[chosen], test.labels[chosen].tolist(),
                  evaluation.predictions[chosen].tolist(), classes,
                  f"{network}: test images and their predicted classes ({mistakes} of them wrong, in red)")


def sample_indices(labels: torch.Tensor, predictions: torch.Tensor, count: int) -> list[int]:
    """Up to `count` test indices: the first half of the grid in order, the rest mistakes,
    topped up in order when there are few mistakes."""
    count = min(count, len(labels))
    chosen = list(range(count // 2))
    wrong = [i for i in (predictions != labels).nonzero().flatten().tolist() if i >= count // 2]
    chosen += wrong[:count - len(chosen)]
    taken = set(chosen)
    chosen += [i for i in range(len(labels)) if i not in taken][:count - len(chosen)]
    return sorted(chosen)
