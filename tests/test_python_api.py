"""The Python face speaks Python: errors read well in a traceback and name Python arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

import cnndsl

TWO = "network A { input 1x4x4 }\nnetwork B { input 1x4x4 }\n"


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "lenet.net"
    with pytest.raises(cnndsl.CompileError) as caught:
        cnndsl.summary(missing)
    text = str(caught.value)
    assert not text.startswith(":")
    assert str(missing) in text
    assert "E0003" in text and "no such file" in text.lower()


def test_two_networks_help_uses_the_keyword_argument() -> None:
    with pytest.raises(cnndsl.CompileError) as caught:
        cnndsl.summary(TWO)
    text = str(caught.value)
    assert 'network="A"' in text and "--network" not in text
    assert cnndsl.summary(TWO, network="B")["network"] == "B"


def test_error_text_has_location_code_and_help() -> None:
    src = "network N {\n    input 1x8x8\n    linear(3)\n}\n"
    with pytest.raises(cnndsl.CompileError) as caught:
        cnndsl.summary(src)
    first, help_line = str(caught.value).split("\n")
    assert first.startswith("<source>:3:5: E0104: ")
    assert help_line.startswith("help: insert `flatten`")


def test_cli_keeps_its_own_words(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cnndsl.cli import app

    path = tmp_path / "two.net"
    path.write_text(TWO)
    result = CliRunner().invoke(app, ["summary", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1
    assert "--network A" in result.output and "network=" not in result.output


def test_print_shows_the_summary_table_and_the_report() -> None:
    lenet = str(Path(__file__).parent.parent / "architectures" / "lenet5.net")
    info = cnndsl.summary(lenet)
    text = str(info)
    assert text.startswith("LeNet5  1x32x32 -> 10\n layer ") and "params: 61,706" in text
    assert repr(info).startswith("{'network': 'LeNet5'")  # still the dictionary underneath
    report = cnndsl.check("network Bad { input 1x8x8 linear(2) }")
    assert "error[E0104]" in str(report) and "Report(" not in str(report)
