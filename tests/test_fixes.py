"""Fixes as edits: what diagnostics carry, `check --fix` and `--unsafe-fixes` over the golden
corpus (on copies), the JSON form, and how edits are put together."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnndsl.cli import app
from cnndsl.compiler import check
from cnndsl.diagnostics import Applicability, Edit, Fix
from cnndsl.fixes import apply
from cnndsl.source import SourceFile, Span

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.net"))
runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def codes(path: Path) -> list[str]:
    return sorted(d.code for d in check(path, every=True).diagnostics)


def fixable(path: Path, unsafe: bool = False) -> list[str]:
    """The codes of the diagnostics that carry a fix that applies."""
    return sorted(d.code for d in check(path, every=True).diagnostics
                  if any(f.applicability is Applicability.SAFE or unsafe for f in d.fixes))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the golden folder (some cases `use` their neighbours), fixed file by file."""
    folder = tmp_path_factory.mktemp("golden")
    for path in GOLDEN.iterdir():
        shutil.copy(path, folder / path.name)
    return folder


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_check_fix_over_the_golden_corpus(corpus: Path, path: Path) -> None:
    """A file whose every diagnostic has a safe fix passes `check` afterwards; a file without
    one is left byte for byte; a file with both loses exactly the diagnostics that were fixed."""
    copy = corpus / path.name
    before, repairable = codes(copy), fixable(copy)
    original = copy.read_bytes()
    result = run("check", "--fix", str(copy))
    if not repairable:
        assert copy.read_bytes() == original
        assert "fixed" not in result.stdout
        return
    assert f"fixed {copy}:" in result.stdout
    after = codes(copy)
    left = list(before)
    for code in repairable:
        left.remove(code)
    errors_left = [c for c in left if c.startswith("E")]
    if not errors_left:
        assert result.exit_code == 0, result.output
    assert [c for c in after if c.startswith("E")] == errors_left
    assert run("check", "--fix", str(copy)).stdout.count("fixed") == 0  # nothing left to do


def test_the_corpus_has_fixes_of_every_kind() -> None:
    found = {code for path in CASES for code in fixable(path)}
    assert {"E0001", "E0010", "E0011", "E0012", "E0037", "E0101", "E0104"} <= found
    unsafe = {code for path in CASES for code in fixable(path, unsafe=True)} - found
    assert {"W0203", "W0204"} <= unsafe


def test_unsafe_fixes_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "bias.net"
    shutil.copy(GOLDEN / "W0204_bias_before_batchnorm.net", path)
    original = path.read_text(encoding="utf-8")
    run("check", "--fix", str(path))
    assert path.read_text(encoding="utf-8") == original
    result = run("check", "--unsafe-fixes", str(path))
    assert result.exit_code == 0 and "fixed" in result.stdout
    assert path.read_text(encoding="utf-8") == original.replace("conv(16, 3, padding=1)",
                                                                "conv(16, 3, padding=1, bias=false)")
    assert codes(path) == []


def test_fixes_in_json(tmp_path: Path) -> None:
    payload = json.loads(run("check", str(GOLDEN / "E0104_missing_flatten.net"), "-f", "json").stdout)
    (diagnostic,) = payload["diagnostics"]
    (fix,) = diagnostic["fixes"]
    assert fix["applicability"] == "safe" and fix["message"] == "insert `flatten`"
    assert fix["edits"] == [{"line": 10, "column": 5, "end_line": 10, "end_column": 5, "text": "flatten\n    "}]
    path = tmp_path / "E0101.net"
    shutil.copy(GOLDEN / "E0101_assertion.net", path)
    payload = json.loads(run("check", "--fix", str(path), "-f", "json").stdout)
    assert payload["ok"] is True and payload["fixed"] == 2 and payload["diagnostics"] == []


def test_line_ends_and_byte_order_mark_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "crlf.net"
    text = (GOLDEN / "E0010_unknown_layer.net").read_text(encoding="utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    run("check", "--fix", str(path))
    assert path.read_bytes() == b"\xef\xbb\xbf" + text.replace("rleu", "relu").replace("\n", "\r\n").encode("utf-8")


def test_a_shape_assertion_in_a_block_or_with_names_is_an_unsafe_fix() -> None:
    text = ("block B(c) {\n    conv(c, 3) -> [c, 8, 8]\n}\n"
            "network N {\n    input 3x8x8\n    B(4)\n    flatten\n    linear(2)\n}\n")
    (diagnostic,) = check(text).diagnostics
    assert diagnostic.code == "E0101" and diagnostic.fixes[0].applicability is Applicability.UNSAFE


def test_overlapping_edits_wait_for_the_next_round() -> None:
    file = SourceFile("x.net", "abcdef\n")

    def fix(start: int, end: int, text: str) -> Fix:
        return Fix(text, (Edit(Span(file, 1, start, 1, end), text),))

    assert apply(file.text, [fix(1, 3, "X"), fix(2, 4, "Y"), fix(5, 5, "Z")]) == ("XcdZef\n", 2)
    assert apply(file.text, [fix(3, 3, "1"), fix(3, 3, "2")]) == ("ab1cdef\n", 1)
    assert apply(file.text, [fix(1, 5, "W"), fix(3, 3, "I")]) == ("Wef\n", 1)


def test_fix_leaves_unreadable_and_missing_files_alone(tmp_path: Path) -> None:
    assert run("check", "--fix", str(tmp_path / "missing.net")).exit_code == 2
