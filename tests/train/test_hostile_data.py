"""Hostile data and flags for `train`, `eval` and `predict`, as real processes: a decompression
bomb, image-folder links out of the folder, integer flags out of range. Each ends with its exact
message and exit code, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from cnndsl.train.data.imagefolder import MAX_IMAGE_PIXELS
from cnndsl.train.data.sources import load_dataset, parse_spec
from cnndsl.train.errors import TrainError

from cli_runner import invoke

from .conftest import TINY_NET

BOMB_SIDE = 13_000  # a 1-bit PNG of 13000x13000 pixels is 20 KB on disk and 169 million pixels decoded


def cnndsl(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "cnndsl", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
    return done


def _folder(root: Path, classes: dict[str, int]) -> Path:
    for name, count in classes.items():
        (root / name).mkdir(parents=True)
        for k in range(count):
            Image.new("L", (8, 8), 40 * k % 256).save(root / name / f"{k:03d}.png")
    return root


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    Image.new("1", (BOMB_SIDE, BOMB_SIDE)).save(path, optimize=True)
    assert path.stat().st_size < 64_000 and BOMB_SIDE**2 > MAX_IMAGE_PIXELS
    return path


def _bomb_message(path: Path) -> str:
    return (f"error: {path} is 13,000x13,000 pixels, more than the {MAX_IMAGE_PIXELS:,} an image may have (decoding "
            "it could take gigabytes)\n  help: shrink the image first, or remove it\n")


def test_a_decompression_bomb_in_an_image_folder_is_refused(tmp_path: Path, bomb: Path) -> None:
    root = _folder(tmp_path / "pets", {"a": 6, "b": 6})
    (root / "a" / "bomb.png").write_bytes(bomb.read_bytes())
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET.replace("classes = 10", "classes = 2"))
    done = cnndsl("train", net, "--data", f"imagefolder:{root}", "--epochs", "1", "--out", tmp_path / "run")
    assert done.returncode == 1
    assert done.stderr == _bomb_message(root / "a" / "bomb.png")
    assert not (tmp_path / "run").exists()


def test_a_class_folder_linked_out_of_the_image_folder_is_not_scanned(tmp_path: Path) -> None:
    root = _folder(tmp_path / "pets", {"a": 6})
    outside = _folder(tmp_path / "elsewhere", {"b": 6}) / "b"
    (root / "b").symlink_to(outside)
    quiet = []
    with pytest.raises(TrainError) as caught:
        load_dataset(parse_spec(f"imagefolder:{root}"), tmp_path, (1, 8, 8), 2, quiet.append)
    assert caught.value.message == (f"{root / 'b'} is a link to {outside}, outside the image folder "
                                    f"{root.resolve()}")
    assert caught.value.help == "pass --follow-links to read it, or copy the files into the folder"
    followed = load_dataset(parse_spec(f"imagefolder:{root}"), tmp_path, (1, 8, 8), 2, quiet.append,
                            follow_links=True)
    assert followed.classes == ("a", "b") and len(followed.train) + len(followed.test) == 12


def test_a_file_linked_out_of_the_folder_is_refused_and_links_inside_are_read(tmp_path: Path) -> None:
    root = _folder(tmp_path / "pets", {"a": 6, "b": 6})
    (root / "a" / "again.png").symlink_to(root / "b" / "000.png")  # inside: read
    (root / "b" / "loop").symlink_to(root / "b")  # a loop inside: walked once
    quiet = []
    dataset = load_dataset(parse_spec(f"imagefolder:{root}"), tmp_path, (1, 8, 8), 2, quiet.append)
    assert len(dataset.train) + len(dataset.test) == 13
    (root / "b" / "passwd.png").symlink_to("/etc/passwd")
    with pytest.raises(TrainError, match="passwd.png is a link to /etc/passwd, outside the image folder"):
        load_dataset(parse_spec(f"imagefolder:{root}"), tmp_path, (1, 8, 8), 2, quiet.append)


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--epochs", "0", "Invalid value for '--epochs' / '-e': 0 is not in the range 1<=x<=1000000."),
    ("--seed", str(2**63), f"Invalid value for '--seed': {2**63} is not in the range 0<=x<={2**63 - 1}."),
    ("--batch-size", str(2**40), f"Invalid value for '--batch-size' / '-b': {2**40} is not in the range "
                                 f"1<=x<={2**24}."),
    ("--limit", "0", "Invalid value for '--limit': 0 is not in the range 1<=x<=4611686018427387904."),
    ("--nproc", "100000", "Invalid value for '--nproc': 100000 is not in the range 1<=x<=1024."),
])
def test_integer_flags_out_of_range_are_usage_errors(tmp_path: Path, flag: str, value: str, message: str) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    done = cnndsl("train", net, "--data", "fake", flag, value, "--out", tmp_path / "run")
    assert done.returncode == 2
    assert message in " ".join(done.stderr.replace("│", " ").split())
    assert not (tmp_path / "run").exists()


def test_a_seed_past_64_bits_is_a_diagnostic_in_a_file_and_a_usage_error_as_a_flag(tmp_path: Path) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET.replace("    linear(classes)\n", f"    linear(classes)\n    train {{ seed = {2**64} }}\n"))
    done = cnndsl("check", net)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error[E0038]: integer literal of 20 digits is out of range" in done.stderr
    net.write_text(TINY_NET)
    flag = cnndsl("train", net, "--data", "digits", "--seed", str(2**64))
    assert flag.returncode == 2 and "Traceback" not in flag.stderr and "--seed" in flag.stderr


def test_markup_in_paths_and_class_names_is_printed_as_written(tmp_path: Path) -> None:
    """A run folder, an image folder and class names holding Rich markup (`[/]`, `[red]`) are
    printed literally by train and eval, and the run completes."""
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET.replace("classes = 10", "classes = 2"))
    images = _folder(tmp_path / "img[/]s", {"[red]cat": 6, "[bold]dog": 6})
    out = tmp_path / "a[/]b"
    done = invoke(["train", net, "--data", f"imagefolder:{images}", "--epochs", "1", "--out", out])
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert f"run {out}" in text and "[red]cat" in text and "[bold]dog" in text and str(images) in text
    assert json.loads((out / "status.json").read_text())["state"] == "complete"
    evaluated = invoke(["eval", out])
    assert evaluated.exit_code == 0 and "[red]cat" in evaluated.stdout, evaluated.output
