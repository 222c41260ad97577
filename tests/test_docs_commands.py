"""Every shell command shown in the documentation (README.md and docs/*.md) runs, as shown.

The convention, for whoever writes docs:

- Commands go in fenced blocks marked ```console. A line that starts with `$ ` is a command (a
  line ending in `\\` continues on the next line); the lines after it, up to the next `$ `, are
  its output as the reader sees it. A line `...` stands for output left out.
- A command must exit 0, unless its line ends in the shell comment `# exit N`: then it must exit
  N (`$ cnndsl check lenet28.net  # exit 1`). No command may print a Python traceback.
- Every other shown output line must be a line of the real output (stdout and stderr together),
  trailing spaces aside. In a block marked ```console numbers-vary (training, evaluation and
  prediction, whose figures depend on the data and the machine), numbers and the widths of table
  columns and progress bars are ignored: each number is read as `#`, each run of spaces or of
  `━`/`─` as one.
- A fenced block whose info string holds `file=NAME` (```cnndsl file=lenet28.net) is saved as
  NAME before the commands after it run; the text around it tells the reader to save it.
- A command shown anywhere else (an indented block, a plain fence) must either be part of a
  synopsis, a block with placeholders such as FILE or RUN_DIR, or be listed in SPECIAL below with
  what the test runs instead and why. Inline code in sentences is not treated as a command.

Each file runs in a fresh temporary directory, its commands in document order (so that
`train ... --out runs/lenet` precedes `eval runs/lenet`). The directory is prepared so that the
exact commands run offline and fast: a copy of `architectures/`, small generated MNIST and
CIFAR-10 sets in torchvision's layout under `data/`, the images the docs hand to `predict`,
`editors/` linked, HOME inside the directory, and no GPU.

A command that is `cnndsl ARGS` alone (or several joined by `&&`), without redirections, pipes,
variables or `--nproc`, runs in this process through Typer's runner, as `cnndsl` would run it
(globs expanded as bash does, at 80 columns, with no GPU): a fresh interpreter would spend most
of its time importing torch again. Any exception other than the exit is a failure, as a
traceback would be. Every other command runs in bash, where `cnndsl` is this interpreter's
`python -m cnndsl` and `python` this interpreter. That `python -m cnndsl` exits with the codes
that the runner reports is tested in test_cli_static.py and tests/train/test_cli_training.py.
"""

from __future__ import annotations

import glob
import os
import pickle
import re
import shlex
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cnndsl.cli import app

from train.conftest import bar_images, write_mnist

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Files whose owners have not converted their commands to the convention yet: their
# unconverted commands are reported as a skip, not a failure. Their ```console blocks, if any,
# run like everyone else's. Remove a file from here once its commands are converted.
PENDING: dict[str, str] = {}


@dataclass(frozen=True)
class Special:
    run: str | None  # what the test runs in its place, or None for nothing
    why: str


# Commands shown outside ```console blocks, keyed by their text as shown.
SPECIAL = {
    'pip install -e ".[digits]" && cnndsl check architectures/*.net && cnndsl train architectures/lenet5.net --data digits':
        Special("cnndsl check architectures/*.net && cnndsl train architectures/lenet5.net --data digits",
                "run without its `pip install`: tests use the environment they run in, and installing "
                "would need the network and change that environment"),
    'pip install -e ".[test]" && pytest':
        Special(None, "this is the test suite itself: running it from one of its tests would recurse"),
    "python -c \"import torch, torchvision; torch.save(torchvision.models.mnasnet1_0(weights='DEFAULT')"
    ".state_dict(), 'mnasnet1_0.pth')\"":
        Special("python -c \"import torch, torchvision; torch.save(torchvision.models.mnasnet1_0().state_dict(), "
                "'mnasnet1_0.pth')\"",
                "run without weights='DEFAULT', which downloads ImageNet weights: the tests run offline, and the "
                "freshly initialised model has the same tensors, shapes and order"),
    "CNNDSL_FUZZ_EXAMPLES=20000 pytest tests/test_robustness.py tests/test_formatter.py":
        Special(None, "a fuzz run of many minutes; the normal pytest run covers the same properties with "
                      "fewer examples"),
}

COMMAND_WORDS = {"cnndsl", "python", "python3", "pip", "pytest", "pygmentize", "ln", "mkdir", "vsce", "git"}
PLACEHOLDER = re.compile(r"(?<![\w$])[A-Z][A-Z0-9_]*[A-Z]\b")
EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")

# Images handed to `predict` in the docs, generated for the test: name -> (channels, size, class).
IMAGES = {"seven.png": (1, 28, 7), "three.png": (1, 28, 3), "cat.png": (3, 32, 3), "ship.png": (3, 32, 8)}
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# -- reading the docs ---------------------------------------------------------------------------

@dataclass
class Command:
    text: str
    line: int
    exit: int = 0
    output: list[str] = field(default_factory=list)
    numbers_vary: bool = False


@dataclass
class WriteFile:
    name: str
    text: str
    line: int


@dataclass
class Block:
    info: str  # the fence's info string; "indented" for an indented block
    line: int  # 1-based line of the first content line
    lines: list[str]


def blocks(markdown: str) -> list[Block]:
    """The fenced and indented code blocks of a Markdown text, in order."""
    found: list[Block] = []
    lines = markdown.splitlines()
    index = 0
    previous_blank = True
    while index < len(lines):
        line = lines[index]
        fence = FENCE.match(line)
        if fence:
            marker, info = fence.group(1), fence.group(2).strip()
            body: list[str] = []
            index += 1
            start = index + 1
            while index < len(lines):
                close = FENCE.match(lines[index])
                if close and close.group(1)[0] == marker[0] and len(close.group(1)) >= len(marker) \
                        and not close.group(2).strip():
                    break
                body.append(lines[index])
                index += 1
            found.append(Block(info, start, body))
            index += 1
            previous_blank = False
            continue
        if previous_blank and line.startswith("    ") and line.strip():
            start = index + 1
            body = []
            while index < len(lines) and (lines[index].startswith("    ") or not lines[index].strip()):
                body.append(lines[index][4:])
                index += 1
            while body and not body[-1].strip():
                body.pop()
            found.append(Block("indented", start, body))
            previous_blank = True
            continue
        previous_blank = not line.strip()
        index += 1
    return found


def is_console(block: Block) -> bool:
    return block.info.split()[:1] == ["console"]


def steps(markdown: str) -> list[Command | WriteFile]:
    """What a file asks the reader to do, in order: files to save and commands to run."""
    result: list[Command | WriteFile] = []
    for block in blocks(markdown):
        name = re.search(r"\bfile=(\S+)", block.info)
        if name:
            result.append(WriteFile(name.group(1), "\n".join(block.lines) + "\n", block.line))
        elif is_console(block):
            numbers_vary = "numbers-vary" in block.info.split()[1:]
            current: Command | None = None
            continues = False  # the last line was a command ending in a backslash
            for offset, line in enumerate(block.lines):
                if continues and current is not None:
                    current.text = current.text[:-1].rstrip() + " " + line.strip()
                elif line.startswith("$ "):
                    current = Command(line[2:].strip(), block.line + offset, numbers_vary=numbers_vary)
                    result.append(current)
                elif current is not None:
                    current.output.append(line)
                else:
                    raise ValueError(f"line {block.line + offset}: output before any `$ ` command")
                continues = (continues or line.startswith("$ ")) and current.text.endswith("\\")
                code = EXIT.search(current.text)
                current.exit = int(code.group(1)) if code else 0
        else:
            for offset, line in enumerate(block.lines):
                special = SPECIAL.get(" ".join(line.split()))
                if special and special.run:
                    result.append(Command(special.run, block.line + offset))
    return result


def unaccounted(markdown: str) -> list[str]:
    """Commands shown outside the convention: neither run, nor a synopsis, nor in SPECIAL."""
    found = []
    for block in blocks(markdown):
        if is_console(block) or "file=" in block.info:
            continue
        language = block.info.split()[:1]
        if language and language[0] not in ("indented", "sh", "bash", "shell", "text"):
            continue
        stripped = [re.sub(r"\s+#.*$", "", line).strip() for line in block.lines]
        commands = [(offset, line) for offset, line in enumerate(stripped) if _looks_like_a_command(line)]
        if any(PLACEHOLDER.search(_without_variables(line)) for line in stripped):
            continue  # a synopsis: it names what to fill in
        for offset, line in commands:
            shown = " ".join(block.lines[offset].split())
            if shown not in SPECIAL:
                found.append(f"line {block.line + offset}: {shown}")
    return found


def _without_variables(line: str) -> str:
    return re.sub(r"^(\$ )?([A-Z_][A-Z0-9_]*=\S*\s+)+", "", line)


def _looks_like_a_command(line: str) -> bool:
    words = _without_variables(line).removeprefix("$ ").split()
    return bool(words) and words[0] in COMMAND_WORDS


def mask(line: str) -> str:
    line = NUMBER.sub("#", line)
    line = re.sub(r"[━─]+", "━", line)
    return " ".join(line.split())


def missing(shown: list[str], actual: str, numbers_vary: bool) -> list[str]:
    """The shown output lines that the actual output does not have."""
    if numbers_vary:
        have = {mask(line) for line in actual.splitlines()}
        return [line for line in shown if line.strip() not in ("", "...") and mask(line) not in have]
    have = {line.rstrip() for line in actual.splitlines()}
    return [line for line in shown if line.strip() not in ("", "...") and line.rstrip() not in have]


# -- the directory the commands run in ----------------------------------------------------------

def write_cifar10(root: Path, per_batch: int = 10, test: int = 10) -> None:
    """CIFAR-10 in torchvision's layout: five training batches, a test batch and the names."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def batch(name: str, count: int) -> None:
        labels = [index % 10 for index in range(count)]
        data = rng.integers(0, 256, (count, 3, 32, 32), dtype=np.uint8)
        for index, label in enumerate(labels):  # a bright square whose place says the class
            row, column = divmod(label, 5)
            data[index, label % 3, row * 16:row * 16 + 8, column * 6:column * 6 + 6] = 255
        (folder / name).write_bytes(pickle.dumps({"data": data.reshape(count, 3072), "labels": labels}, protocol=2))

    for index in range(1, 6):
        batch(f"data_batch_{index}", per_batch)
    batch("test_batch", test)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": CIFAR_CLASSES}, protocol=2))


def write_images(folder: Path) -> None:
    from PIL import Image

    for name, (channels, size, label) in IMAGES.items():
        images, labels = bar_images(10, size, seed=3)
        grey = images[list(labels).index(label)]
        picture = Image.fromarray(grey) if channels == 1 else Image.fromarray(np.stack([grey] * 3, axis=-1))
        picture.save(folder / name)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Data and images made once; each file's directory links to them."""
    base = tmp_path_factory.mktemp("docs-fixtures")
    write_mnist(base / "data", train=100, test=30)
    write_cifar10(base / "data")
    write_images(base)
    shims = base / "bin"
    shims.mkdir()
    for name, line in {"cnndsl": f'exec "{sys.executable}" -m cnndsl "$@"',
                       "python": f'exec "{sys.executable}" "$@"'}.items():
        (shims / name).write_text(f"#!/bin/sh\n{line}\n")
        (shims / name).chmod(0o755)
    return base


def workdir(prepared: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(ROOT / "architectures", work / "architectures")
    (work / "editors").symlink_to(ROOT / "editors", target_is_directory=True)
    shutil.copytree(prepared / "data", work / "data")
    for name in IMAGES:
        shutil.copy(prepared / name, work / name)
    (work / "home").mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CNNDSL_", "PYTEST_"))}
    env.update(PATH=os.pathsep.join([str(prepared / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")]),
               HOME=str(work / "home"), CUDA_VISIBLE_DEVICES="", COLUMNS="80", LINES="40",
               PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    env.pop("VIRTUAL_ENV", None)
    return work, env


# -- running a command --------------------------------------------------------------------------

SHELL_SYNTAX = re.compile(r"[|;<>$`(){}\\'\"~]|(?<!&)&(?!&)")


def in_process(text: str) -> list[list[str]] | None:
    """The argument lists of a command that can run in this process (`cnndsl ...`, or several
    joined by `&&`), or None when it needs a shell or processes of its own."""
    command = EXIT.sub("", text).strip()
    if SHELL_SYNTAX.search(command):
        return None
    parts = [shlex.split(part, comments=True) for part in command.split("&&")]
    if any(not words or words[0] != "cnndsl" or "--nproc" in words for words in parts):
        return None
    return [words[1:] for words in parts]


def expand(args: list[str], cwd: Path) -> list[str]:
    """Globs expanded as bash expands them: sorted matches, or the word itself when none."""
    expanded: list[str] = []
    for arg in args:
        matches = sorted(glob.glob(arg, root_dir=cwd)) if glob.has_magic(arg) else []
        expanded += matches or [arg]
    return expanded


def run_in_process(commands: list[list[str]], work: Path, home: Path,
                   monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Run `cnndsl ARGS` for each argument list until one fails: the exit code and the output
    (stdout and stderr together, as the terminal shows them)."""
    import torch

    runner = CliRunner()
    env = {"COLUMNS": "80", "LINES": "40", "HOME": str(home), "CUDA_VISIBLE_DEVICES": ""}
    output = ""
    with monkeypatch.context() as patch:
        patch.chdir(work)
        patch.setattr(torch.cuda, "is_available", lambda: False)  # no GPU, as in the shell
        for args in commands:
            result = runner.invoke(app, expand(args, work), env=env)
            output += result.output
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                assert result.exc_info is not None
                output += "Traceback (most recent call last)\n" + "".join(traceback.format_exception(*result.exc_info))
                return 1, output
            if result.exit_code != 0:
                return result.exit_code, output
    return 0, output


def run_in_bash(text: str, work: Path, env: dict[str, str], where: str) -> tuple[int, str]:
    try:
        done = subprocess.run(["bash", "-c", text], cwd=work, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{where}: `{text}` ran for more than 300 s")
    return done.returncode, done.stdout


# -- the tests ----------------------------------------------------------------------------------

def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


RUNNABLE = [path for path in DOCS if steps(path.read_text(encoding="utf-8"))]


@pytest.mark.skipif(shutil.which("bash") is None, reason="the documented commands are bash command lines")
@pytest.mark.parametrize("doc", RUNNABLE, ids=_name)
def test_commands_run_as_documented(doc: Path, prepared: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    work, env = workdir(prepared, tmp_path)
    for step in steps(doc.read_text(encoding="utf-8")):
        where = f"{_name(doc)}:{step.line}"
        if isinstance(step, WriteFile):
            target = (work / step.name).resolve()
            assert target.is_relative_to(work.resolve()), f"{where}: file={step.name} leaves the directory"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.text, encoding="utf-8")
            continue
        commands = in_process(step.text)
        if commands is not None:
            returncode, output = run_in_process(commands, work, Path(env["HOME"]), monkeypatch)
        else:
            returncode, output = run_in_bash(step.text, work, env, where)
        context = f"{where}: `{step.text}`\n--- output ---\n{output}"
        assert "Traceback (most recent call last)" not in output, f"a traceback from {context}"
        assert returncode == step.exit, f"exit {returncode}, documented {step.exit}: {context}"
        absent = missing(step.output, output, step.numbers_vary)
        assert not absent, f"shown but not printed: {absent}\n{context}"


@pytest.mark.parametrize("doc", DOCS, ids=_name)
def test_every_command_shown_is_run_or_accounted_for(doc: Path) -> None:
    problems = unaccounted(doc.read_text(encoding="utf-8"))
    if problems and _name(doc) in PENDING:
        pytest.skip(f"{_name(doc)} ({PENDING[_name(doc)]}) still shows commands outside ```console "
                    f"blocks: {'; '.join(problems)}")
    assert not problems, (
        f"{_name(doc)} shows commands the tests do not run: {problems}. Put each in a ```console block as "
        "`$ command` (see this file's docstring), or add it to SPECIAL with the reason it cannot run.")


def test_every_special_command_is_still_shown() -> None:
    shown = {" ".join(line.split()) for doc in DOCS for block in blocks(doc.read_text(encoding="utf-8"))
             for line in block.lines}
    assert set(SPECIAL) <= shown, f"SPECIAL lists commands no doc shows: {sorted(set(SPECIAL) - shown)}"


def test_the_tutorial_is_the_first_documentation_link() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Documentation", 1)[1]
    first = next(line for line in section.splitlines() if line.startswith("- "))
    assert "(docs/tutorial.md)" in first


SAMPLE = """\
Intro.

    pip install -e ".[test]" && pytest

```
cnndsl check FILE...     a synopsis
```

```cnndsl file=bad.net
network Bad { input 4 }
```

```console numbers-vary
$ cnndsl train bad.net \\
    --data mnist  # exit 1
data mnist: 8,000 training images
...
$ cnndsl eval runs/x
```

```
cnndsl graph architectures/lenet5.net -o lenet5.svg
```
"""


def test_the_convention_reads_as_described() -> None:
    found = steps(SAMPLE)
    assert [type(step).__name__ for step in found] == ["WriteFile", "Command", "Command"]
    assert found[0].name == "bad.net" and found[0].text == "network Bad { input 4 }\n"
    train, evaluate = found[1], found[2]
    assert train.text == "cnndsl train bad.net --data mnist  # exit 1" and train.exit == 1
    assert train.numbers_vary and train.output == ["data mnist: 8,000 training images", "..."]
    assert evaluate.text == "cnndsl eval runs/x" and evaluate.exit == 0 and evaluate.output == []
    assert unaccounted(SAMPLE) == ["line 22: cnndsl graph architectures/lenet5.net -o lenet5.svg"]


def test_output_is_compared_line_by_line() -> None:
    actual = "data mnist: 200 training images, 60 test images\nepoch 1/3 ━━━━ 200/200 loss 2.1\n"
    assert missing(["data mnist: 8,000 training images, 2,000 test images"], actual, numbers_vary=True) == []
    assert missing(["epoch 1/3 ━━━━━━━━ 8000/8000 loss 0.5"], actual, numbers_vary=True) == []
    assert missing(["data fashion-mnist: 8,000 training images, 2,000 test images"], actual, True) != []
    assert missing(["data mnist: 8,000 training images, 2,000 test images"], actual, numbers_vary=False) != []
    assert missing(["...", "", "epoch 1/3 ━━━━ 200/200 loss 2.1   "], actual, numbers_vary=False) == []


def test_which_commands_run_in_this_process() -> None:
    assert in_process("cnndsl check architectures/*.net && cnndsl train a.net --data digits  # exit 1") == [
        ["check", "architectures/*.net"], ["train", "a.net", "--data", "digits"]]
    assert in_process("cnndsl summary lenet.net --set classes=100   # a comment") == [
        ["summary", "lenet.net", "--set", "classes=100"]]
    for shell in ("cnndsl graph a.net > a.svg", "cnndsl check a.net | head", "python lenet5.py",
                  "cnndsl train a.net --data digits --nproc 2", "CNNDSL_DEBUG=1 cnndsl check a.net",
                  "cnndsl check a.net & cnndsl check b.net", "cnndsl check \"$PWD/a.net\"", "ls runs/lenet"):
        assert in_process(shell) is None, shell


def test_globs_expand_as_bash_expands_them(tmp_path: Path) -> None:
    for name in ("b.net", "a.net", "c.txt"):
        (tmp_path / name).write_text("")
    assert expand(["check", "*.net", "none/*.net"], tmp_path) == ["check", "a.net", "b.net", "none/*.net"]
