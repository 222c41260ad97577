"""`cnndsl.train` and `cnndsl.Run`: the command line's training, evaluation and prediction
from Python, through the same code. Each test compares the Python face with the command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import cnndsl
from cnndsl.cli import app
from cnndsl.train.errors import TrainError, UsageError

from .conftest import TINY_NET
from .helpers import deterministic

runner = CliRunner()


def cli(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, cnndsl.Run]:
    """The same training from Python and from the command line, in one folder."""
    folder = tmp_path_factory.mktemp("python-train")
    net = folder / "tiny.net"
    net.write_text(TINY_NET)
    run = cnndsl.train(net, data="digits", epochs=2, device="cpu", out=folder / "py", data_root=folder / "data",
                       seed=3, quiet=True)
    code, output = cli("train", net, "--data", "digits", "--epochs", "2", "--device", "cpu", "--out",
                       folder / "cli", "--data-root", folder / "data", "--seed", "3")
    assert code == 0, output
    return folder, run


def test_python_and_the_command_line_write_the_same_run(runs: tuple[Path, cnndsl.Run]) -> None:
    folder, run = runs
    assert isinstance(run, cnndsl.Run) and run.path == folder / "py"
    cli_run = folder / "cli"
    assert sorted(p.name for p in run.path.rglob("*")) == sorted(p.name for p in cli_run.rglob("*"))
    assert json.loads((run.path / "config.json").read_text()) == json.loads((cli_run / "config.json").read_text())
    assert deterministic(run.metrics) == deterministic(cnndsl.Run(cli_run).metrics)
    assert run.status["state"] == "complete" and run.network == "Tiny" and run.data == "digits"


def test_a_run_opens_again_and_shows_its_metrics_and_plots(runs: tuple[Path, cnndsl.Run]) -> None:
    folder, run = runs
    again = cnndsl.Run(str(folder / "py"))
    assert again.metrics == run.metrics and again.accuracy == run.metrics[-1]["test_accuracy"]
    assert repr(again) == (f"<run Tiny on digits: complete, 2 of 2 epochs, test accuracy {again.accuracy:.2%}, "
                           f"{folder / 'py'}>")
    html = again._repr_html_()
    assert html.count("<tr>") == 1 + 2 and html.count('<img src="data:image/png;base64,') == 4
    assert set(again.plots) == {"loss.png", "accuracy.png", "confusion_matrix.png", "samples.png"}
    assert again.evaluation is not None and again.evaluation["test_accuracy"] == again.accuracy


def test_evaluate_is_cnndsl_eval(runs: tuple[Path, cnndsl.Run]) -> None:
    folder, run = runs
    code, output = cli("eval", run.path, "--format", "json", "--device", "cpu")
    assert code == 0, output
    report = run.evaluate(device="cpu")
    assert report == json.loads(output)
    assert "confusion matrix" in report._repr_html_() and "test images" in report._repr_html_()


def digit(index: int) -> tuple[np.ndarray, int]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.rint(digits.images[index] * (255 / 16)).astype(np.uint8), int(digits.target[index])


def test_predict_takes_files_pil_images_tensors_and_arrays(runs: tuple[Path, cnndsl.Run]) -> None:
    folder, run = runs
    pixels, _ = digit(-1)
    png = folder / "digit.png"
    Image.fromarray(pixels).resize((32, 32), Image.Resampling.NEAREST).save(png)
    code, output = cli("predict", run.path, png, "--format", "json", "--device", "cpu")
    assert code == 0, output
    from_file = run.predict([png], device="cpu")
    assert [p.as_json() for p in from_file] == json.loads(output)
    expected = from_file[0].top
    same = [Image.fromarray(pixels), torch.from_numpy(pixels), torch.from_numpy(pixels)[None],
            torch.from_numpy(pixels).float() / 255, pixels]
    for item in same:
        (prediction,) = run.predict(item, device="cpu")
        assert [i for i, _, _ in prediction.top] == [i for i, _, _ in expected]
        assert prediction.image == "image 0"
    batch = np.stack([digit(i)[0] for i in range(-5, 0)])
    assert len(run.predict(batch, device="cpu")) == 5  # N x H x W: five grey images
    assert len(run.predict(torch.from_numpy(batch)[:, None], device="cpu")) == 5  # N x C x H x W
    shown = run.predict([png, pixels], device="cpu")
    assert shown._repr_html_().count("<img") == 2 and str(png) in shown._repr_html_()


@pytest.mark.parametrize("images, error, message", [
    (Path("missing.png"), UsageError, "no such image file: missing.png"),
    (np.zeros((1, 2, 8, 8), np.uint8), TrainError, "an image of shape 2x8x8 cannot be read"),
    (np.zeros((8, 8, 3), np.uint8), TrainError, "an image of shape 8x8x3 looks like channels last"),
    (torch.full((8, 8), 2.0), TrainError, "image values run from 2 to 2, outside [0, 1]"),
    (np.full((8, 8), 300), TrainError, "image values run from 300 to 300, outside [0, 255]"),
    (torch.full((8, 8), float("nan")), TrainError, "an image holds NaN or infinite values"),
    (torch.zeros(1, 0, 0), TrainError, "an image of shape 1x0x0 has no pixels"),
    ([], UsageError, "no images to classify"),
])
def test_predict_refuses_what_it_cannot_read(runs: tuple[Path, cnndsl.Run], images: object, error: type,
                                             message: str) -> None:
    _, run = runs
    with pytest.raises(error) as caught:
        run.predict(images, device="cpu")  # type: ignore[arg-type]
    assert caught.value.message == message


def test_predict_names_the_image_whose_pixels_have_no_8_bit_range(runs: tuple[Path, cnndsl.Run]) -> None:
    good = Image.fromarray(np.zeros((8, 8), np.uint8))
    far = Image.fromarray(np.full((8, 8), 1000.0, np.float32))  # mode F, beyond 0-255
    with pytest.raises(TrainError) as caught:
        runs[1].predict([good, far], device="cpu")
    assert caught.value.message == ("image 1: its float pixels run from 1000 to 1000, outside 0-255 (or 0-1), so "
                                    "how they map to 8 bits is unknown")
    unit = Image.fromarray(np.full((8, 8), 0.5, np.float32))  # floats in [0, 1]: scaled, as ToTensor's are
    assert len(runs[1].predict(unit, device="cpu")) == 1


def test_predict_refuses_objects_that_are_no_images(runs: tuple[Path, cnndsl.Run]) -> None:
    with pytest.raises(TypeError, match="cannot read an image from a int"):
        runs[1].predict([3], device="cpu")  # type: ignore[list-item]


@pytest.mark.parametrize(("keywords", "message"), [
    ({"compile": "no"}, "`compile` must be True or False, not 'no'"),
    ({"resume": 1}, "`resume` must be True or False, not 1"),
    ({"quiet": None}, "`quiet` must be True or False, not None"),
    ({"data_root": None}, "`data_root` must be a path (a str or Path), not None"),
    ({"out": 5}, "`out` must be a path (a str or Path), not 5"),
    ({"init": ["w.pt"]}, "`init` must be a path (a str or Path), not ['w.pt']"),
])
def test_keywords_of_the_wrong_type_are_named(tmp_path: Path, keywords: dict, message: str) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    with pytest.raises(TypeError) as caught:
        cnndsl.train(net, data="digits", **{"quiet": True, **keywords})
    assert str(caught.value) == message
    assert not (tmp_path / "runs").exists()


def test_fresh_names_one_layer_as_a_string(tmp_path: Path) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET.replace("    linear(classes)", "    fc: linear(classes)"))
    first = cnndsl.train(net, data="digits", epochs=1, limit=100, quiet=True, out=tmp_path / "first")
    tuned = cnndsl.train(net, data="digits", epochs=1, limit=100, quiet=True, out=tmp_path / "tuned",
                         init=first.path, fresh="fc")
    assert tuned.path.is_dir()


def test_options_are_checked_as_the_flags_are(tmp_path: Path) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    with pytest.raises(TrainError) as caught:
        cnndsl.train(net, data="digits", lr=-1.0, quiet=True)
    code, output = cli("train", net, "--data", "digits", "--lr", "-1")
    assert code == caught.value.exit_code == 1 and caught.value.message in " ".join(output.split())
    with pytest.raises(TrainError, match="unknown device `tpu`"):
        cnndsl.train(net, data="digits", device="tpu", quiet=True, out=tmp_path / "tpu")
    with pytest.raises(UsageError, match="`nproc` must be at least 1, not 0"):
        cnndsl.train(net, data="digits", nproc=0, quiet=True)
    for keyword, value, message in (("nproc", 5000, "`nproc` must be at most 1,024, not 5000"),
                                    ("nproc", float("nan"), "`nproc` must be a whole number, not nan"),
                                    ("limit", 1.5, "`limit` must be a whole number, not 1.5"),
                                    ("limit", "5", "`limit` must be a whole number, not \"5\""),
                                    ("dist_timeout", float("nan"), "`dist_timeout` must be a finite number, not nan")):
        with pytest.raises(UsageError) as caught:
            cnndsl.train(net, data="digits", quiet=True, **{keyword: value})
        assert caught.value.message == message
    with pytest.raises(TrainError, match="no data set to train on"):
        cnndsl.train(net, quiet=True)
    with pytest.raises(TypeError):
        cnndsl.train(net, data="digits", epoch=3)  # type: ignore[call-arg]
    with pytest.raises(cnndsl.CompileError):
        cnndsl.train(TINY_NET.replace("    flatten\n", ""), data="digits", quiet=True)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "tpu").exists()


def test_set_and_network_pick_what_is_trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = cnndsl.train(TINY_NET, data="digits", epochs=1, device="cpu", set={"width": 4}, quiet=True, limit=64)
    assert run.path.parent == Path("runs") and run.path.name.startswith("Tiny-")
    assert run.config["network"]["params"] == {"classes": 10, "width": 4}
    assert cnndsl.Run(run.path).config["data"]["limit"] == 64


def test_opening_what_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such run directory"):
        cnndsl.Run(tmp_path / "nothing")
    with pytest.raises(TrainError, match="is not a run directory"):
        cnndsl.Run(tmp_path)


def test_the_function_keeps_the_name_train_whatever_is_imported() -> None:
    probe = ("import cnndsl, cnndsl.train.commands.session, cnndsl.train.data.sources, sys\n"
             "from cnndsl.api import train\n"
             "assert cnndsl.train is train, cnndsl.train\n"
             "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


def test_an_interrupted_call_says_how_to_continue_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    from cnndsl.train.commands import launch
    from cnndsl.train.errors import Interrupted

    def interrupted(*args: object, **kwargs: object) -> Path:
        raise Interrupted("interrupted; 1 of 3 epochs is saved in runs/r", Path("runs/r"),
                          help="continue with the same command plus --resume --out RUN_DIR")

    monkeypatch.setattr(launch, "train_network", interrupted)
    with pytest.raises(Interrupted) as caught:
        cnndsl.train(TINY_NET, data="digits", quiet=True)
    assert caught.value.help == "continue with the same call plus resume=True, out='runs/r'"
    assert caught.value.exit_code == 130 and isinstance(caught.value, cnndsl.Error)


def test_a_network_given_as_text_keeps_its_use_paths_in_the_run(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """As a notebook cell does: the text has no file, its `use` starts from the working
    directory, and the run must still rebuild it (for evaluate and predict)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "stage.net").write_text("block Stage(c) { conv(c, 3, padding = 1) relu maxpool(2) }\n")
    source = 'use "lib/stage.net"\nnetwork Used(classes = 10) { input 1x8x8 Stage(4) flatten linear(classes) }\n'
    run = cnndsl.train(source, data="digits", epochs=1, limit=64, device="cpu", out="used", quiet=True)
    assert sorted(p.relative_to(run.path / "source").as_posix() for p in (run.path / "source").rglob("*.net")) == [
        "lib/stage.net", "network.net"]
    assert run.evaluate(device="cpu")["samples"] == 355


def test_the_recipe_keyword_is_the_recipe_flag(tmp_path: Path) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    run = cnndsl.train(net, data="digits", recipe="plain", epochs=1, limit=64, device="cpu", out=tmp_path / "py",
                       data_root=tmp_path / "data", quiet=True)
    code, output = cli("train", net, "--data", "digits", "--recipe", "plain", "--epochs", "1", "--limit", "64",
                       "--device", "cpu", "--out", tmp_path / "cli", "--data-root", tmp_path / "data")
    assert code == 0, output
    settings = run.config["settings"]
    assert settings["recipe"] == "plain" and settings == cnndsl.Run(tmp_path / "cli").config["settings"]
    with pytest.raises(TrainError, match="recipe"):
        cnndsl.train(net, data="digits", recipe="slow", quiet=True)


@pytest.mark.parametrize("top_k", [0, 1.5, float("nan"), "3"])
def test_predict_checks_top_k_as_the_flag_does(runs: tuple[Path, cnndsl.Run], top_k: object) -> None:
    with pytest.raises(UsageError, match="`top_k` must be"):
        runs[1].predict(np.zeros((8, 8), np.uint8), top_k=top_k, device="cpu")  # type: ignore[arg-type]
