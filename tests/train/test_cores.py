"""A CPU step's batch shared among threads (loop/cores.py): the same step, reproducible to the bit.

The test suite runs PyTorch on one thread (tests/conftest.py), where nothing is shared; these
tests give PyTorch two threads, as a two-core machine has by default.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import cnndsl
from cnndsl.train.commands import session
from cnndsl.train.errors import Interrupted
from cnndsl.train.loop import cores as cores_module
from cnndsl.train.loop import trainer as trainer_module
from cnndsl.train.loop.cores import Cores, pieces, trains_per_sample, whole_batch_layers
from cnndsl.train.rundir.files import RunDir

from .conftest import TINY_NET
from .helpers import deterministic, interrupt_at, train, weights

SETTINGS = dict(data="digits", epochs=2, batch_size=45, augment="crop", seed=7, limit=450)  # pieces of 22 and 23


@pytest.fixture
def threads() -> Iterator[None]:
    """PyTorch on two threads for the test, then as it was."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=0, atol=1e-5) for k in a)


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@given(st.integers(0, 500), st.integers(1, 16))
def test_pieces_cover_the_batch_in_order_and_in_near_equal_sizes(count: int, parts: int) -> None:
    cut = pieces(count, parts)
    assert [i for piece in cut for i in range(piece.start, piece.stop)] == list(range(count))
    sizes = [piece.stop - piece.start for piece in cut]
    assert len(cut) == max(1, min(parts, count))
    assert max(sizes) - min(sizes) <= 1 and (count == 0 or min(sizes) >= 1)


@pytest.mark.parametrize("layer, per_sample", [("relu", True), ("layernorm", True), ("groupnorm(2)", True),
                                               ("batchnorm", False), ("dropout(0.1)", False),
                                               ("droppath(0.1)", False)])
def test_a_network_trains_per_sample_unless_a_layer_meets_the_batch_or_draws(layer: str, per_sample: bool) -> None:
    nested = (f"block B() {{ conv(4, 3, padding = 1) residual {{ {layer} conv(4, 3, padding = 1) }} }} "
              "network N { input 1x8x8 B() B() flatten linear(10) }")
    net = cnndsl.check(nested).network()
    assert trains_per_sample(net) is per_sample
    assert whole_batch_layers(net) == ([] if per_sample else [layer.split("(")[0]])  # named once


def test_a_shared_step_is_the_whole_batch_step_up_to_rounding(tiny_net: Path, tmp_path: Path,
                                                             threads: None) -> None:
    shared = train(tiny_net, tmp_path / "shared", **SETTINGS)
    again = train(tiny_net, tmp_path / "again", **SETTINGS)
    torch.set_num_threads(1)
    whole = train(tiny_net, tmp_path / "whole", **SETTINGS)
    assert _equal(weights(shared), weights(again))  # however the threads were scheduled
    assert deterministic(shared.read_metrics()) == deterministic(again.read_metrics())
    assert not _equal(weights(shared), weights(whole))  # the sums are ordered differently...
    assert _close(weights(shared), weights(whole))  # ...and that is all
    for a, b in zip(shared.read_metrics(), whole.read_metrics()):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=1 / 360)


def test_a_shared_run_resumes_exactly(tiny_net: Path, tmp_path: Path, threads: None,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {**SETTINGS, "epochs": 3}
    whole = train(tiny_net, tmp_path / "whole", **settings)
    with monkeypatch.context() as patch:
        interrupt_at(2, patch)
        with pytest.raises(Interrupted):
            train(tiny_net, tmp_path / "cut", **settings)
    resumed = train(tiny_net, tmp_path / "cut", resume=True, **settings)
    assert deterministic(resumed.read_metrics()) == deterministic(whole.read_metrics())
    assert _equal(weights(resumed), weights(whole))


@pytest.mark.parametrize("layer", ["batchnorm", "dropout(0.2)"])
def test_a_network_that_meets_its_batch_keeps_its_steps_whole(tmp_path: Path, threads: None,
                                                              monkeypatch: pytest.MonkeyPatch, layer: str) -> None:
    net = tmp_path / "net.net"
    net.write_text(TINY_NET.replace("    relu\n", f"    {layer}\n    relu\n"))
    steps: list[int] = []
    real_map = Cores.map

    def recorded(self: Cores, work, parts):
        steps.append(len(parts))
        return real_map(self, work, parts)

    monkeypatch.setattr(Cores, "map", recorded)
    real_step = trainer_module.Trainer._step
    parts_per_step: list[int] = []

    def step(self, order, positions):
        before = len(steps)
        result = real_step(self, order, positions)
        parts_per_step.append(len(steps) - before)
        return result

    monkeypatch.setattr(trainer_module.Trainer, "_step", step)
    train(net, tmp_path / "run", **SETTINGS)
    assert parts_per_step and set(parts_per_step) == {0}  # no step went through the threads
    assert steps and set(steps) == {2}  # the test passes did


def test_with_pytorch_on_one_thread_nothing_is_shared(tiny_net: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    entered: list[tuple[int, bool]] = []
    real_enter = Cores.__enter__
    monkeypatch.setattr(Cores, "__enter__", lambda self: entered.append((self.size, self.steps)) or real_enter(self))
    train(tiny_net, tmp_path / "run", **SETTINGS)
    assert entered == [(1, False)]


def test_the_plan_says_what_is_shared(tiny_net: Path, tmp_path: Path, threads: None) -> None:
    from rich.console import Console
    import io

    from cnndsl.backends.torch_module import build
    from cnndsl.settings_schema import SETTING_NAMES

    lines = {}
    for name, text in (("tiny", TINY_NET), ("bn", TINY_NET.replace("    relu\n", "    batchnorm\n    relu\n"))):
        net = cnndsl.check(text).network()
        flags = {key: SETTINGS.get(key) for key in SETTING_NAMES}
        out = io.StringIO()
        request = session.TrainRequest(net, build, flags, tmp_path / "data", 450, "cpu", False, tmp_path / name)
        session.Session(request, Console(file=out, width=200)).run()
        lines[name] = next(line for line in out.getvalue().splitlines() if line.startswith("device"))
    assert lines["tiny"].endswith("; each batch and the test pass shared among 2 threads")
    assert lines["bn"].endswith("; the test pass shared among 2 threads, each training batch kept whole (for "
                                "batchnorm)")


def test_the_warm_up_prepares_the_shapes_and_threads_of_the_shared_steps(tiny_net: Path, tmp_path: Path,
                                                                          threads: None,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    shapes: list[object] = []

    class Recorded(session.Warmup):
        def __init__(self, *args, **kwargs) -> None:
            shapes.append(args[4])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(session, "Warmup", Recorded)
    train(tiny_net, tmp_path / "run", **SETTINGS)
    assert shapes == [session.WarmShapes(23, True, 45, True)]


def test_map_returns_in_order_and_raises_after_every_part_has_finished(threads: None) -> None:
    finished: list[int] = []
    gate = threading.Event()

    def work(part: slice) -> int:
        assert torch.get_num_threads() == 1  # each part runs PyTorch on one thread
        if part.start == 0:
            gate.wait(5)
            raise ValueError("the first part failed")
        gate.set()
        finished.append(part.start)
        return part.start

    with Cores(2) as team:
        assert team.map(lambda part: part.start, team.pieces(10)) == [0, 5]
        with pytest.raises(ValueError, match="the first part failed"):
            team.map(work, team.pieces(10))
        assert finished == [5]
        assert torch.get_num_threads() == 2  # the calling thread's setting is back
    assert cores_module.Cores(1).map(lambda part: part.stop, [slice(0, 3)]) == [3]


def test_shared_evaluation_equals_one_thread(tiny_net: Path, tmp_path: Path, threads: None) -> None:
    run = train(tiny_net, tmp_path / "run", **{**SETTINGS, "epochs": 1})
    shared = cnndsl.Run(run.path).evaluate(data_root=tmp_path / "data")
    torch.set_num_threads(1)
    single = cnndsl.Run(run.path).evaluate(data_root=tmp_path / "data")
    assert shared["confusion_matrix"] == single["confusion_matrix"]
    assert shared["test_loss"] == pytest.approx(single["test_loss"], abs=1e-6)


def test_a_run_resumed_on_another_thread_count_says_so(tiny_net: Path, tmp_path: Path, threads: None,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from cnndsl.backends.torch_module import build
    from cnndsl.settings_schema import SETTING_NAMES

    settings = {**SETTINGS, "epochs": 2}
    with monkeypatch.context() as patch:
        interrupt_at(2, patch)
        with pytest.raises(Interrupted):
            train(tiny_net, tmp_path / "cut", **settings)
    assert RunDir(tmp_path / "cut").read_config()["device"]["threads"] == 2
    torch.set_num_threads(1)
    out = io.StringIO()
    flags = {key: settings.get(key) for key in SETTING_NAMES}
    request = session.TrainRequest(cnndsl.check(tiny_net).network(), build, flags, tmp_path / "data", 450, "cpu",
                                   False, tmp_path / "cut", True)
    session.Session(request, Console(file=out, width=300)).run()
    assert "note: this run trained with PyTorch on 2 threads, now on 1" in out.getvalue()


def test_a_ctrl_c_in_a_shared_map_restores_the_thread_count(threads: None) -> None:
    """The Ctrl-C arrives while the calling thread waits for the other part."""
    import os
    import signal

    def work(part: slice) -> None:
        if part.start:
            time.sleep(0.5)

    with Cores(2) as team:
        threading.Timer(0.15, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            team.map(work, team.pieces(4))
        assert torch.get_num_threads() == 2


def test_a_network_without_weights_is_refused_before_training(tmp_path: Path) -> None:
    from cnndsl.train.errors import TrainError

    net = tmp_path / "pool.net"
    net.write_text("network Pool { input 1x8x8 adaptiveavgpool((2, 5)) flatten }")
    with pytest.raises(TrainError, match="Pool has no weights to train"):
        train(net, tmp_path / "run", **SETTINGS)
    assert not (tmp_path / "run").exists()
