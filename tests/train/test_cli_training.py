"""`train`, `eval` and `predict` through Typer's runner, and `python -m cnndsl train` as a
real process: exit codes and messages of CLI.md, never a traceback."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cli_runner import invoke

from .conftest import TINY_NET


def run(*args: object):
    result = invoke(args)
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished run on digits, shared by the eval and predict tests."""
    folder = tmp_path_factory.mktemp("trained")
    net = folder / "tiny.net"
    net.write_text(TINY_NET)
    result = run("train", net, "--data", "digits", "--epochs", "3", "--batch-size", "64", "--out", folder / "run",
                 "--seed", "1")
    assert result.exit_code == 0, result.output
    return folder / "run"


def digit_png(path: Path, index: int, size: int = 8) -> tuple[Path, int]:
    """A digit of scikit-learn's set as a PNG, at its own 8x8 or enlarged (which predict
    brings back to 8x8)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    image = Image.fromarray(np.rint(digits.images[index] * (255 / 16)).astype(np.uint8))
    image.resize((size, size), Image.Resampling.NEAREST).save(path)
    return path, int(digits.target[index])


def test_train_prints_the_adaptation_epochs_and_results(trained: Path) -> None:
    config = json.loads((trained / "config.json").read_text())
    assert config["network"]["name"] == "Tiny" and config["settings"]["batch_size"] == 64
    assert json.loads((trained / "status.json").read_text())["state"] == "complete"
    assert len((trained / "metrics.jsonl").read_text().splitlines()) == 3


def test_train_output_names_the_adaptation(tmp_path: Path) -> None:
    net = tmp_path / "big.net"
    net.write_text(TINY_NET.replace("input 1x8x8", "input 3x12x12"))
    result = run("train", net, "--data", "digits", "--epochs", "1", "--limit", "200", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "resize 8x8 -> 12x12" in result.output and "1 -> 3 channels" in result.output
    assert "first 200 of 1,442" in result.output
    assert "epoch 1/1" in result.output and "img/s" in result.output and "test accuracy" in result.output


def test_eval_text_and_json(trained: Path) -> None:
    text = run("eval", trained)
    assert text.exit_code == 0, text.output
    assert "accuracy" in text.output and "confusion matrix" in text.output
    payload = json.loads(run("eval", trained, "--format", "json").stdout)
    assert payload["samples"] == 355 and len(payload["confusion_matrix"]) == 10
    assert len(payload["per_class_accuracy"]) == 10 and 0.5 < payload["test_accuracy"] <= 1
    recorded = json.loads((trained / "evaluation.json").read_text())
    assert payload["test_accuracy"] == pytest.approx(recorded["test_accuracy"])
    assert payload["confusion_matrix"] == recorded["confusion_matrix"]


def test_predict_image_files(trained: Path, tmp_path: Path) -> None:
    files = [digit_png(tmp_path / f"digit{i}.png", i) for i in (1780, 1785, 1793)]  # a 2, a 7 and a 0
    result = run("predict", trained, *(path for path, _ in files), "--top-k", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [len(item["predictions"]) for item in payload] == [2, 2, 2]
    top = payload[0]["predictions"]
    assert top[0]["probability"] >= top[1]["probability"] and top[0]["class"] in "0123456789"
    assert sum(item["predictions"][0]["class"] == str(label) for item, (_, label) in zip(payload, files)) >= 2
    enlarged, _ = digit_png(tmp_path / "large.png", -1, size=40)
    text = run("predict", trained, enlarged)
    assert text.exit_code == 0 and "large.png:" in text.output and "%" in text.output


def test_predict_rejects_unreadable_and_missing_images(trained: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    result = run("predict", trained, broken)
    assert result.exit_code == 1 and "broken.png is not an image that can be read" in result.output
    assert run("predict", trained, tmp_path / "absent.png").exit_code == 2


def test_predict_classifies_the_images_of_a_folder(trained: Path, tmp_path: Path) -> None:
    folder = tmp_path / "digits"
    folder.mkdir()
    files = [digit_png(folder / f"d{i}.png", i)[0] for i in (1780, 1785)]
    (folder / "notes.txt").write_text("not an image")
    result = run("predict", trained, folder, "--format", "json")
    assert result.exception is None and result.exit_code == 0, result.output
    assert [item["image"] for item in json.loads(result.stdout)] == [str(path) for path in files]
    assert "is a directory: classifying the 2 images in it" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = run("predict", trained, empty)
    assert refused.exit_code == 2 and "is a directory with no image files in it" in refused.output


def test_predict_warns_about_reversed_polarity_and_invert_fixes_it(trained: Path, tmp_path: Path) -> None:
    path, label = digit_png(tmp_path / "ink.png", 1785)
    with Image.open(path) as image:
        Image.eval(image, lambda v: 255 - v).save(tmp_path / "paper.png")  # dark digit on white paper
    light = run("predict", trained, tmp_path / "paper.png", "--format", "json")
    assert light.exception is None and light.exit_code == 0
    assert "paper.png is mostly light" in light.stderr and "add --invert" in light.stderr
    inverted = run("predict", trained, tmp_path / "paper.png", "--invert", "--format", "json")
    plain = run("predict", trained, path, "--format", "json")
    assert "mostly" not in inverted.stderr and "mostly" not in plain.stderr
    assert json.loads(inverted.stdout)[0]["predictions"] == json.loads(plain.stdout)[0]["predictions"]


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_pickle_as_weights_is_refused(trained: Path, tmp_path: Path) -> None:
    import shutil

    run_dir = tmp_path / "tampered"
    shutil.copytree(trained, run_dir)
    marker = tmp_path / "pwned"
    (run_dir / "weights.pt").write_bytes(pickle.dumps(_Exploit(marker), protocol=2))
    status = json.loads((run_dir / "status.json").read_text())  # the digest would refuse it first: made to match
    status["weights_sha256"] = hashlib.sha256((run_dir / "weights.pt").read_bytes()).hexdigest()
    (run_dir / "status.json").write_text(json.dumps(status))
    result = run("eval", run_dir)
    assert result.exit_code == 1
    assert "refusing to load" in result.output and "could run code" in result.output
    assert run("predict", run_dir, digit_png(tmp_path / "d.png", 0)[0]).exit_code == 1
    assert not marker.exists()


def test_eval_of_something_that_is_not_a_run(tmp_path: Path) -> None:
    assert run("eval", tmp_path / "nowhere").exit_code == 2
    result = run("eval", tmp_path)
    assert result.exit_code == 1 and "is not a run directory" in result.output


def test_class_count_mismatch_exits_1_and_names_the_fix(tmp_path: Path) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    result = run("train", net, "--data", "digits", "--set", "classes=4", "--out", tmp_path / "run")
    assert result.exit_code == 1
    assert "digits has 10 classes, but Tiny outputs 4 scores" in result.output
    assert "--set classes=10" in result.output


def test_the_first_lines_say_which_recipe_runs_and_what_it_filled_in(tiny_net: Path, tmp_path: Path) -> None:
    result = run("train", tiny_net, "--data", "digits", "--epochs", "1", "--limit", "200", "--optimizer", "sgd",
                 "--lr", "0.05", "--out", tmp_path / "plain")
    assert result.exit_code == 0, result.output
    first, stated, filled = result.output.splitlines()[:3]
    assert first.startswith("recipe plain (`optimizer` and `lr` stated without a recipe")
    assert stated.strip() == "as stated: epochs 1, optimizer sgd, lr 0.05"
    assert filled.strip().startswith("filled in by default: batch_size 64, momentum 0, weight_decay 0, schedule "
                                     "constant, label_smoothing 0, augment none")
    assert json.loads((tmp_path / "plain" / "config.json").read_text())["settings"]["recipe"] == "plain"
    result = run("train", tiny_net, "--data", "digits", "--epochs", "1", "--limit", "200", "--optimizer", "sgd",
                 "--recipe", "fast", "--out", tmp_path / "fast")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("recipe fast (named by --recipe)")
    assert "schedule onecycle, label_smoothing 0.1" in result.output
    assert run("train", tiny_net, "--data", "digits", "--recipe", "slow").exit_code == 2


def test_unknown_data_set_exits_2(tiny_net: Path) -> None:
    result = run("train", tiny_net, "--data", "imagenet")
    assert result.exit_code == 2 and "unknown data set `imagenet`" in result.output


def test_bad_flag_values(tiny_net: Path, tmp_path: Path) -> None:
    assert run("train", tiny_net, "--data", "digits", "--optimizer", "rmsprop").exit_code == 2
    result = run("train", tiny_net, "--data", "digits", "--epochs", "0", "--out", tmp_path / "r")
    assert result.exit_code == 2 and "--epochs" in result.output
    result = run("train", tiny_net, "--data", "digits", "--resume")
    assert result.exit_code == 1 and "--out RUN_DIR" in result.output
    assert run("train", tmp_path / "missing.net", "--data", "digits").exit_code == 2


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is present")
def test_unavailable_device_exits_1(tiny_net: Path, tmp_path: Path) -> None:
    result = run("train", tiny_net, "--data", "digits", "--device", "cuda", "--out", tmp_path / "r")
    assert result.exit_code == 1 and "no CUDA GPU" in result.output


def test_corrupt_idx_exits_1_without_traceback(tmp_path: Path) -> None:
    from .conftest import write_mnist

    root = write_mnist(tmp_path / "data", size=8)
    images = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:50])
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    result = run("train", net, "--data", "mnist", "--data-root", root, "--out", tmp_path / "run")
    assert result.exit_code == 1 and "is truncated" in result.output
    assert not (tmp_path / "run").exists()


def test_mnist_from_idx_files_trains(tmp_path: Path) -> None:
    from .conftest import write_mnist

    root = write_mnist(tmp_path / "data", size=8, train=300, test=100)
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    result = run("train", net, "--data", "mnist", "--data-root", root, "--epochs", "6", "--batch-size", "32",
                 "--augment", "none", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["test_accuracy"] > 0.9


def test_eval_warns_about_an_unfinished_run(trained: Path, tmp_path: Path) -> None:
    import shutil

    run_dir = tmp_path / "unfinished"
    shutil.copytree(trained, run_dir)
    status = json.loads((run_dir / "status.json").read_text())
    (run_dir / "status.json").write_text(json.dumps({**status, "state": "interrupted", "epochs_completed": 2}))
    result = run("eval", run_dir)
    assert result.exit_code == 0 and "is not a finished run (interrupted, 2 of 3 epochs)" in result.output


def test_eval_does_not_download_into_a_data_root_that_is_gone(tiny_net: Path, mnist_root: Path,
                                                              tmp_path: Path) -> None:
    trained = run("train", tiny_net, "--data", "mnist", "--data-root", mnist_root, "--epochs", "1", "--limit", "100",
                  "--out", tmp_path / "run")
    assert trained.exception is None and trained.exit_code == 0, trained.output
    moved = mnist_root.rename(tmp_path / "elsewhere")
    refused = run("eval", tmp_path / "run")
    assert refused.exit_code == 2 and f"the run read mnist from {mnist_root}, which does not exist here" in \
        " ".join(refused.output.split())
    assert not mnist_root.exists()
    evaluated = run("eval", tmp_path / "run", "--data-root", moved)
    assert evaluated.exception is None and evaluated.exit_code == 0, evaluated.output


def test_train_says_how_many_images_an_epoch_leaves_out(tiny_net: Path, tmp_path: Path) -> None:
    result = run("train", tiny_net, "--data", "digits", "--limit", "100", "--batch-size", "30", "--epochs", "1",
                 "--out", tmp_path / "run")
    assert result.exception is None and result.exit_code == 0, result.output
    assert "3 full batches of 30 (90 images); the last 10 of each shuffled epoch are left out" in \
        " ".join(result.output.split())
    whole = run("train", tiny_net, "--data", "digits", "--limit", "90", "--batch-size", "30", "--epochs", "1",
                "--out", tmp_path / "whole")
    assert whole.exit_code == 0 and "left out" not in whole.output


def test_train_says_what_it_runs_instead_of_a_stated_setting_that_cannot_apply(tiny_net: Path,
                                                                               tmp_path: Path) -> None:
    """A batch larger than the data, a one-cycle schedule with too few steps, an augmentation
    for a network that takes vectors: each is said, next to what runs instead."""
    result = run("train", tiny_net, "--data", "digits", "--limit", "100", "--batch-size", "1000", "--epochs", "2",
                 "--schedule", "onecycle", "--out", tmp_path / "run")
    assert result.exception is None and result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "epoch one batch of all 100 training images a step (batch_size 1,000 is more than there are)" in output
    assert "schedule cosine: a run of 2 steps is too short for onecycle's warm-up and annealing" in output
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["scheduler"]["T_max"] == 2  # CosineAnnealingLR's, as said
    vector = tmp_path / "vector.net"
    vector.write_text("network Vec(classes = 10) {\n    input 64\n    linear(classes)\n}\n")
    result = run("train", vector, "--data", "digits", "--limit", "100", "--epochs", "1", "--augment", "crop",
                 "--out", tmp_path / "vector")
    assert result.exception is None and result.exit_code == 0, result.output
    assert "augment none (crop moves pixels: the network takes a vector)" in " ".join(result.output.split())
    enough = run("train", tiny_net, "--data", "digits", "--limit", "100", "--batch-size", "10", "--epochs", "1",
                 "--schedule", "onecycle", "--out", tmp_path / "enough")
    assert enough.exit_code == 0 and "schedule cosine" not in enough.output and "one batch of all" not in enough.output


def test_eval_on_an_image_folder_matches_the_runs_classes_by_name(tiny_net: Path, tmp_path: Path) -> None:
    """`fake` names its classes `class 0` to `class 11`; an image folder lists the same names
    alphabetically (`class 10` before `class 2`): eval pairs them by name, not by position."""
    trained = run("train", tiny_net, "--data", "fake", "--set", "classes=12", "--epochs", "1", "--limit", "64",
                  "--out", tmp_path / "run")
    assert trained.exception is None and trained.exit_code == 0, trained.output
    folder = tmp_path / "folder"
    for k in range(12):
        (folder / "test" / f"class {k}").mkdir(parents=True)
        (folder / "train" / f"class {k}").mkdir(parents=True)
        Image.new("L", (8, 8), 7 * k).save(folder / "train" / f"class {k}" / "0.png")
        for n in range(k + 1):  # class k has k + 1 test images
            Image.new("L", (8, 8), 20 * n).save(folder / "test" / f"class {k}" / f"{n}.png")
    result = run("eval", tmp_path / "run", "--data", f"imagefolder:{folder}", "--format", "json")
    assert result.exception is None and result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["classes"] == [f"class {k}" for k in range(12)]
    assert report["class_samples"] == [k + 1 for k in range(12)]
    assert "names the run's classes in another order: matched by name" in " ".join(result.stderr.split())
    other = tmp_path / "other"
    for k, name in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                              "eleven")):
        (other / name).mkdir(parents=True)
        for n in range(5):
            Image.new("L", (8, 8), 20 * n + k).save(other / name / f"{n}.png")
    result = run("eval", tmp_path / "run", "--data", f"imagefolder:{other}")
    assert result.exception is None and result.exit_code == 0, result.output
    assert "classes (eight, eleven, five, four, ...) are not the run's (class 0, class 1, class 2, class 3, ...): " \
           "paired by position" in " ".join(result.stderr.split())


def test_openmp_threads_sleep_while_they_wait_unless_the_user_says_otherwise() -> None:
    """Spinning OpenMP threads make training on a busy machine many times slower; the policy
    must be in the environment before torch loads, and a user's own value is kept."""
    code = "import os, cnndsl, torch; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "PASSIVE"
    assert subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                          capture_output=True, text=True, check=True).stdout.strip() == "ACTIVE"


def test_the_cli_module_does_not_import_torch() -> None:
    code = "import sys, cnndsl.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_python_m_cnndsl_train_in_a_real_process(tmp_path: Path) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    out = tmp_path / "run"
    completed = subprocess.run([sys.executable, "-m", "cnndsl", "train", str(net), "--data", "fake", "--epochs", "2",
                                "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert json.loads((out / "status.json").read_text())["state"] == "complete"
    failed = subprocess.run([sys.executable, "-m", "cnndsl", "train", str(net), "--data", "nope"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr and "unknown data set" in failed.stderr


def _signalled_after_an_epoch(args: list[str], out: Path, cwd: Path, signum: int) -> tuple[int, str]:
    """Run `cnndsl ARGS` as a real process, send it `signum` once its first epoch is saved in
    `out`, and return its exit code and stderr."""
    import time

    process = subprocess.Popen([sys.executable, "-m", "cnndsl", *args], cwd=cwd, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (metrics.is_file() and metrics.read_text().strip()) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


def test_ctrl_c_names_the_command_that_continues_and_that_command_works(tmp_path: Path) -> None:
    """A real process, a real SIGINT: the message counts the saved epochs in words and the
    help is a command that, run as printed, finishes the run."""
    import shlex
    import signal

    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    out = tmp_path / "cut"
    args = ["train", str(net), "--data", "digits", "--epochs", "40", "--limit", "200", "--batch-size", "50",
            "--seed", "3", "-o", str(out)]
    code, stderr = _signalled_after_an_epoch(args, out, tmp_path, signal.SIGINT)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    # the count comes from the message: the signal may land while an epoch is being saved
    found = re.search(r"interrupted; (\d+) of 40 epochs (is|are) saved in (\S+)", " ".join(stderr.split()))
    assert found is not None, stderr
    saved = int(found.group(1))
    assert saved >= 1 and found.group(2) == ("is" if saved == 1 else "are") and found.group(3) == str(out)
    command = " ".join(stderr.split()).split("continue with: ", 1)[1]
    words = shlex.split(command)
    assert words == ["cnndsl", *args[:-2], "--resume", "--out", str(out)]
    resumed = subprocess.run([sys.executable, "-m", "cnndsl", *words[1:]], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch" in resumed.stdout + resumed.stderr
    assert json.loads((out / "status.json").read_text())["state"] == "complete"


def test_sigterm_stops_training_as_ctrl_c_does(tmp_path: Path) -> None:
    """`timeout` or a scheduler's time limit sends SIGTERM: the finished epochs are kept and
    the status says `interrupted`, not `running`."""
    import signal

    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    out = tmp_path / "cut"
    code, stderr = _signalled_after_an_epoch(["train", str(net), "--data", "digits", "--epochs", "1000", "--limit",
                                              "100", "--batch-size", "50", "-o", str(out)], out, tmp_path,
                                             signal.SIGTERM)
    assert code == 130, stderr
    assert "Traceback" not in stderr and re.search(r"interrupted; \d+ of 1000 epochs", " ".join(stderr.split()))
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "interrupted" and status["epochs_completed"] >= 1


def test_resume_command_replaces_out_and_resume_flags() -> None:
    from cnndsl.cli.training import resume_command

    assert resume_command(["train", "a b.net", "--out=x", "--resume", "-e", "3"], Path("runs/r 1")) == \
        "cnndsl train 'a b.net' -e 3 --resume --out 'runs/r 1'"
    assert resume_command(["train", "n.net", "-o", "x"], None).endswith("--resume --out RUN_DIR")


def test_init_starts_from_another_runs_weights_and_records_the_file(trained: Path, tmp_path: Path) -> None:
    import hashlib

    import torch

    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    result = run("train", net, "--init", trained, "--data", "digits", "--epochs", "1", "--lr", "1e-12",
                 "--schedule", "constant", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    weights = trained / "weights.pt"
    assert f"init {weights.resolve()} (sha256 " in result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["init"] == {"path": str(weights.resolve()), "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                              "fresh": []}
    before = torch.load(weights, weights_only=True)
    after = torch.load(tmp_path / "run" / "weights.pt", weights_only=True)
    for key in ("conv1.weight", "linear1.weight"):  # a learning rate of 1e-12 leaves them where --init put them
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=1e-6)


def test_init_that_does_not_fit_names_the_line_and_fresh_layers_fix_it(trained: Path, tmp_path: Path) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    result = run("train", net, "--init", trained, "--set", "classes=5", "--data", "fake", "--out", tmp_path / "run")
    assert result.exit_code == 1, result.output
    assert "error[E0302]: weights do not fit: `linear1.weight` is 5x128, but weights.pt has `linear1.weight` of " \
           "10x128 in its place" in result.output
    assert f"--> {net}:7:5" in result.output and "`--fresh linear1`" in result.output
    assert not (tmp_path / "run").exists(), "a refused --init wrote a run directory"
    result = run("train", net, "--init", trained, "--fresh", "linear1", "--set", "classes=5", "--data", "fake",
                 "--epochs", "1", "--limit", "64", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["init"]["fresh"] == ["linear1"]


def test_init_mistakes_are_errors_not_tracebacks(trained: Path, tmp_path: Path) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    result = run("train", net, "--fresh", "linear1", "--data", "fake")
    assert result.exit_code == 2 and "give --init PATH too" in result.output
    result = run("train", net, "--init", tmp_path / "absent.pt", "--data", "fake")
    assert result.exit_code == 1 and "error[E0304]: cannot read weights from" in result.output
    result = run("train", net, "--init", trained, "--fresh", "linear", "--data", "fake")
    assert result.exit_code == 1 and "error[E0305]" in result.output and "did you mean `linear1`?" in result.output
    first = run("train", net, "--data", "fake", "--epochs", "1", "--limit", "64", "--out", tmp_path / "run")
    assert first.exit_code == 0, first.output
    resumed = run("train", net, "--init", trained, "--data", "fake", "--epochs", "1", "--limit", "64", "--out",
                  tmp_path / "run", "--resume")
    assert resumed.exit_code == 1 and "cannot resume" in resumed.output and "init" in resumed.output
