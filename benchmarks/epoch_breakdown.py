"""Where a cnndsl training epoch's wall time goes: the pieces of each batch computed on the
cores, the optimizer's update, clearing and adding gradients, the test pass.

Not a comparison: a profile of the trainer as `cnndsl train` runs it (README, "Speed,
measured"), to tell the arithmetic in PyTorch's kernels from what surrounds it. It wraps the
trainer's own calls with a clock (nothing else changes) and prints, per epoch, the seconds in
each and, for the shared steps, the median wall and processor time of each thread's piece, how
late the pool's thread starts its piece and how long the calling thread waits for it.
`layer_times.py` goes on from there, layer by layer.

    python benchmarks/epoch_breakdown.py --mnist ROOT [FILE] [--epochs 2] [--seed N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import cnndsl  # first: it sets OpenMP's wait policy, which must be in place before torch loads
from cnndsl.api import train
from cnndsl.train.loop import trainer as trainer_module
from cnndsl.train.loop.cores import Cores

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    """Seconds spent in wrapped calls, by label, and the shared steps' per-thread pieces."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        # One entry per shared call: (start, end, [(thread, start, end, processor seconds)]).
        self.steps: list[tuple[float, float, list[tuple[str, float, float, float]]]] = []

    def reset(self) -> None:
        self.seconds.clear()
        self.steps.clear()

    def timed(self, label: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
        return wrapper

    def shared_map(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """Cores.map, recording its time and each part's thread and times."""
        def wrapper(cores: Cores, work: Callable[[slice], Any], parts: list[slice]) -> Any:
            pieces: list[tuple[str, float, float, float]] = []

            def piece(part: slice) -> Any:
                start, processor = time.perf_counter(), time.thread_time()
                result = work(part)
                pieces.append((threading.current_thread().name, start, time.perf_counter(),
                               time.thread_time() - processor))
                return result

            start = time.perf_counter()
            try:
                return original(cores, piece, parts)
            finally:
                end = time.perf_counter()
                self.seconds["pieces"] += end - start
                self.steps.append((start, end, pieces))
        return wrapper


def milliseconds(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.2f}" if values else "-"


def report(seconds: dict[str, float], steps: list, epoch_seconds: float, test_seconds: float) -> None:
    """One epoch: `seconds` and `steps` as the clock held them at the end of its training pass."""
    pieces, clearing, step = seconds["pieces"], seconds["clear gradients"], seconds["step"]
    updates = seconds["optimizer update"]
    print(f"training pass {epoch_seconds:.2f} s: pieces on the cores {pieces:.2f} s, clearing gradients "
          f"{clearing:.2f} s, adding the pieces' gradients and the rest of the step {step - pieces - clearing:.2f} s, "
          f"optimizer update {updates:.2f} s, the loop's own work (schedule, figures, progress) {epoch_seconds - step - updates:.2f} s; "
          f"test pass {test_seconds:.2f} s")
    shared = [(start, end, parts) for start, end, parts in steps if len(parts) > 1]
    if not shared:
        print("  steps not shared among threads (one core, or a network that needs its batches whole)")
        return
    main = [next(p for p in parts if p[0] == "MainThread") for _, _, parts in shared]
    pool = [next(p for p in parts if p[0] != "MainThread") for _, _, parts in shared]
    print(f"  {len(shared)} shared steps, medians in ms: a step's pieces {milliseconds([e - s for s, e, _ in shared])}; "
          f"the calling thread's piece {milliseconds([p[2] - p[1] for p in main])} (processor "
          f"{milliseconds([p[3] for p in main])}), the pool thread's {milliseconds([p[2] - p[1] for p in pool])} "
          f"(processor {milliseconds([p[3] for p in pool])}); the pool thread starts its piece "
          f"{milliseconds([p[1] - s for p, (s, _, _) in zip(pool, shared)])} late and the calling thread waits "
          f"{milliseconds([max(0.0, e - p[2]) for p, (_, e, _) in zip(main, shared)])} for it")


def instrument(clock: Clock) -> None:
    """Wrap the trainer's calls with `clock`; print each epoch's breakdown after its test pass."""
    trainer_class = trainer_module.Trainer
    original_init, original_epoch, original_evaluate = (trainer_class.__init__, trainer_class.train_epoch,
                                                         trainer_class.evaluate)
    finished: list[tuple[dict[str, float], list, float]] = []  # a training pass awaiting its test pass

    def init(trainer: Any, *args: Any, **kwargs: Any) -> None:
        original_init(trainer, *args, **kwargs)
        trainer.optimizer.step = clock.timed("optimizer update", trainer.optimizer.step)
        trainer.optimizer.zero_grad = clock.timed("clear gradients", trainer.optimizer.zero_grad)
        trainer._step = clock.timed("step", trainer._step)

    def train_epoch(trainer: Any, *args: Any, **kwargs: Any) -> Any:
        clock.reset()
        start = time.perf_counter()
        stats = original_epoch(trainer, *args, **kwargs)
        finished.append((dict(clock.seconds), list(clock.steps), time.perf_counter() - start))
        return stats

    def evaluate(trainer: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = original_evaluate(trainer, *args, **kwargs)
        if finished:
            seconds, steps, epoch_seconds = finished.pop()
            report(defaultdict(float, seconds), steps, epoch_seconds, time.perf_counter() - start)
        return result

    trainer_class.__init__ = init  # type: ignore[method-assign,assignment]
    trainer_class.train_epoch = train_epoch  # type: ignore[method-assign,assignment]
    trainer_class.evaluate = evaluate  # type: ignore[method-assign,assignment]
    Cores.map = clock.shared_map(Cores.map)  # type: ignore[method-assign,assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=ROOT / "architectures/seeds/lab8_lenet5.net")
    parser.add_argument("--mnist", type=Path, required=True, help="MNIST in torchvision's layout (ROOT/MNIST/raw)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    instrument(Clock())
    # The wrapped optimizer.step looks to the schedule like an overridden one; it is the same call.
    warnings.filterwarnings("ignore", message="Seems like `optimizer.step\\(\\)` has been overridden")
    with tempfile.TemporaryDirectory(prefix="cnndsl-breakdown-") as out:
        train(args.file, data="mnist", data_root=args.mnist, epochs=args.epochs, seed=args.seed,
                     out=Path(out) / "run", quiet=True)


if __name__ == "__main__":
    main()
