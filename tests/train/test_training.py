"""Training sessions end to end (in-process): learning, resuming exactly, divergence,
the class-count check and the run directory's guarantees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import cnndsl

from cnndsl.train.commands import session as session_module
from cnndsl.train.errors import Interrupted
from cnndsl.train.errors import TrainError
from cnndsl.train.loop import trainer as trainer_module
from cnndsl.train.rundir.files import RunDir

from .helpers import deterministic, interrupt_at, train, weights

DROPOUT_NET = """\
network Drop(classes = 10) {
    input 1x8x8
    conv(8, 3, padding = 1)
    relu
    dropout2d(0.1)
    flatten
    dropout(0.2)
    linear(classes)
}
"""
REQUIRED_METRICS = {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr",
                    "images_per_second", "seconds"}


def test_training_on_digits_improves_accuracy_and_writes_the_run(tiny_net: Path, tmp_path: Path) -> None:
    run = train(tiny_net, tmp_path / "run", data="digits", epochs=4, batch_size=64)
    records = run.read_metrics()
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert all(REQUIRED_METRICS <= set(r) for r in records)
    assert records[-1]["test_accuracy"] > max(0.8, records[0]["test_accuracy"])
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    for name in ("config.json", "weights.pt", "checkpoint.pt", "evaluation.json", "loss.png", "accuracy.png",
                 "confusion_matrix.png", "samples.png", "source/tiny.net"):
        assert (run / name).is_file(), name
    assert (run / "source/tiny.net").read_text() == tiny_net.read_text()
    assert run.read_status()["state"] == "complete"
    config = run.read_config()
    assert config["settings"]["epochs"] == 4 and config["data"]["spec"] == "digits"
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert evaluation["test_accuracy"] == pytest.approx(records[-1]["test_accuracy"])
    assert sum(map(sum, evaluation["confusion_matrix"])) == evaluation["samples"] == 355


def test_the_same_seed_gives_the_same_run(tiny_net: Path, tmp_path: Path) -> None:
    first = train(tiny_net, tmp_path / "a", data="digits", epochs=2, seed=5, limit=300)
    second = train(tiny_net, tmp_path / "b", data="digits", epochs=2, seed=5, limit=300)
    assert deterministic(first.read_metrics()) == deterministic(second.read_metrics())


def test_resume_ends_exactly_where_an_uninterrupted_run_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = tmp_path / "drop.net"
    net.write_text(DROPOUT_NET)
    settings = dict(data="digits", epochs=3, batch_size=50, augment="crop", seed=7, limit=600)
    whole = train(net, tmp_path / "whole", **settings)

    with monkeypatch.context() as patch:
        interrupt_at(2, patch)
        with pytest.raises(Interrupted, match="1 of 3 epochs is saved"):
            train(net, tmp_path / "cut", **settings)
    cut = RunDir(tmp_path / "cut")
    assert cut.read_status()["state"] == "interrupted" and len(cut.read_metrics()) == 1
    assert not (cut / "evaluation.json").exists()

    resumed = train(net, tmp_path / "cut", resume=True, **settings)
    assert resumed.read_status()["state"] == "complete"
    assert deterministic(resumed.read_metrics()) == deterministic(whole.read_metrics())
    expected, got = weights(whole), weights(resumed)
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)


def test_resume_refuses_different_settings(tiny_net: Path, tmp_path: Path) -> None:
    train(tiny_net, tmp_path / "run", data="digits", epochs=1, limit=100)
    with pytest.raises(TrainError, match="epochs was 1, now 2"):
        train(tiny_net, tmp_path / "run", data="digits", epochs=2, limit=100, resume=True)


def test_resuming_a_complete_run_does_nothing(tiny_net: Path, tmp_path: Path) -> None:
    run = train(tiny_net, tmp_path / "run", data="digits", epochs=1, limit=100)
    before = (run / "weights.pt").read_bytes()
    train(tiny_net, tmp_path / "run", data="digits", epochs=1, limit=100, resume=True)
    assert (run / "weights.pt").read_bytes() == before


def test_an_existing_run_directory_is_not_overwritten(tiny_net: Path, tmp_path: Path) -> None:
    train(tiny_net, tmp_path / "run", data="digits", epochs=1, limit=100)
    with pytest.raises(TrainError, match="already exists and is not empty") as caught:
        train(tiny_net, tmp_path / "run", data="digits", epochs=1, limit=100)
    assert "--resume" in caught.value.help


def test_nan_loss_stops_training_and_keeps_the_last_good_epoch(tiny_net: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    build = trainer_module.build_criterion

    def poisoned(settings):
        criterion, calls = build(settings), [0]

        def loss(logits, targets):
            calls[0] += 1
            value = criterion(logits, targets)
            return value * float("nan") if calls[0] > 12 else value

        return loss

    monkeypatch.setattr(trainer_module, "build_criterion", poisoned)
    with pytest.raises(TrainError, match="loss became nan in epoch 2; the weights of epoch 1 are kept"):
        train(tiny_net, tmp_path / "run", data="digits", epochs=3, batch_size=100, limit=1000)
    run = RunDir(tmp_path / "run")
    status = run.read_status()
    assert status["state"] == "diverged" and status["epochs_completed"] == 1 and "nan" in status["message"]
    assert len(run.read_metrics()) == 1 and (run / "loss.png").is_file()
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in weights(run).values())


def test_a_huge_learning_rate_diverges_with_a_clear_message(tiny_net: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="loss became (nan|inf) in epoch 1; no epoch finished") as caught:
        train(tiny_net, tmp_path / "run", data="digits", epochs=2, optimizer="sgd", lr=1e30, schedule="constant")
    assert "--lr" in caught.value.help
    assert RunDir(tmp_path / "run").read_status()["state"] == "diverged"


def test_class_count_mismatch_says_which_set_fixes_it(tiny_net: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="digits has 10 classes, but Tiny outputs 3 scores") as caught:
        train(tiny_net, tmp_path / "run", data="digits", params={"classes": 3})
    assert caught.value.help == "use --set classes=10"
    assert not (tmp_path / "run").exists()


def test_a_run_cut_short_before_completion_never_looks_finished(tiny_net: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(session_module, "draw_results", fail)
    with pytest.raises(TrainError, match=f"cannot write {tmp_path / 'run'}: disk full; 1 of 1 epochs is saved"):
        train(tiny_net, tmp_path / "run", data="digits", epochs=1, limit=100)
    run = RunDir(tmp_path / "run")
    status = run.read_status()
    assert status["state"] == "failed" and status["epochs_completed"] == 1
    assert not (run / "evaluation.json").exists()


def test_vector_input_network_trains_on_flattened_images(tmp_path: Path) -> None:
    net = tmp_path / "mlp.net"
    net.write_text("network MLP(classes = 10) { input 64  linear(32) relu linear(classes) }\n")
    run = train(net, tmp_path / "run", data="digits", epochs=2)
    assert run.read_config()["adaptation"]["target"] == [64]
    assert run.read_metrics()[-1]["test_accuracy"] > 0.5


def test_fake_data_smoke_run_on_an_rgb_network(tmp_path: Path) -> None:
    net = tmp_path / "rgb.net"
    net.write_text("network RGB(classes = 4) { input 3x12x12 conv(4, 3) relu globalavgpool flatten linear(classes) }\n")
    run = train(net, tmp_path / "run", data="fake", epochs=1, augment="crop+flip")
    config = run.read_config()
    assert config["augmentation"] == {"padding": 2, "flip": True} and config["data"]["classes"][0] == "class 0"


def test_training_settings_come_from_the_train_section(tmp_path: Path) -> None:
    net = tmp_path / "sectioned.net"
    net.write_text('network S(classes = 10) { input 1x8x8 flatten linear(classes)\n'
                   '  train { data = "digits" epochs = 2 optimizer = "sgd" lr = 0.05 batch_size = 32 } }\n')
    run = train(net, tmp_path / "run", epochs=1)
    settings = run.read_config()["settings"]
    assert (settings["epochs"], settings["optimizer"], settings["lr"], settings["batch_size"]) == (1, "sgd", 0.05, 32)


def test_unknown_train_setting_is_rejected(tmp_path: Path) -> None:
    net = tmp_path / "bad.net"
    net.write_text('network B(classes = 10) { input 1x8x8 flatten linear(classes) train { data = "digits" '
                   'learning_rate = 0.1 } }\n')
    with pytest.raises(cnndsl.CompileError) as caught:  # found by the checker, before any data is read
        train(net, tmp_path / "run")
    [problem] = caught.value.diagnostics
    assert (problem.code, problem.message) == ("E0037", "unknown training setting `learning_rate`")
    assert "lr, momentum" in problem.help and not (tmp_path / "run").exists()
