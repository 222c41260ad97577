"""Silencing warnings: `check --ignore` and `--select`, `# allow(CODE)` comments and where they
reach, the count of what was silenced, and W0205 for an `allow` that silences nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnndsl.cli import app
from cnndsl.compiler import check

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

# W0204 on line 3 (the conv), W0203 on line 6 (the second relu), W0201 on line 7 (the pool)
NET = """\
network Net {
    input 3x9x9
    conv(4, 3)
    batchnorm
    relu
    relu
    maxpool(2)
    flatten
    linear(2)
}
"""


def codes(text: str, **options: object) -> list[tuple[str, int]]:
    report = check(text, every=True, **options)  # type: ignore[arg-type]
    return [(d.code, d.span.line) for d in report.diagnostics if d.span]


def with_line(number: int, comment: str, text: str = NET) -> str:
    lines = text.split("\n")
    lines[number - 1] += f"  {comment}"
    return "\n".join(lines)


def above(number: int, comment: str, text: str = NET) -> str:
    lines = text.split("\n")
    indent = lines[number - 1][: len(lines[number - 1]) - len(lines[number - 1].lstrip())]
    lines.insert(number - 1, indent + comment)
    return "\n".join(lines)


def run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_the_example_has_three_warnings() -> None:
    assert codes(NET) == [("W0204", 3), ("W0203", 6), ("W0201", 7)]


def test_allow_at_the_end_of_a_statement() -> None:
    report = check(with_line(3, "# allow(W0204): kept on purpose"), every=True)
    assert [d.code for d in report.diagnostics] == ["W0203", "W0201"]
    assert report.suppressed == 1


def test_allow_on_its_own_line_covers_the_next_statement_only() -> None:
    assert codes(above(7, "# allow(W0201)")) == [("W0204", 3), ("W0203", 6)]
    # another warning's code does not silence this one, and the unused allow says so
    assert codes(above(7, "# allow(W0203)")) == [("W0204", 3), ("W0203", 6), ("W0205", 7), ("W0201", 8)]


def test_allow_above_a_network_or_block_covers_all_of_it() -> None:
    assert codes(above(1, "# allow(W0204, W0203, W0201)")) == []
    block = NET.replace("network Net {\n    input 3x9x9\n", "block Body {\n") + \
        "\nnetwork Net {\n    input 3x9x9\n    Body\n}\n"
    assert [c for c, _ in codes(block)] == ["W0204", "W0203", "W0201"]
    assert codes(above(1, "# allow(W0204, W0203, W0201)", block)) == []


def test_allow_on_a_line_covers_every_statement_starting_there() -> None:
    one_line = NET.replace("    relu\n    relu\n", "    relu relu\n")
    assert codes(one_line) == [("W0204", 3), ("W0203", 5), ("W0201", 6)]
    assert codes(with_line(5, "# allow(W0203)", one_line)) == [("W0204", 3), ("W0201", 6)]


def test_allow_in_a_used_file_applies_there(tmp_path: Path) -> None:
    (tmp_path / "lib.net").write_text("# allow(W0204)\nblock Stem { conv(4, 3) batchnorm }\n", encoding="utf-8")
    main = tmp_path / "main.net"
    main.write_text('use "lib.net"\nnetwork Net { input 3x8x8 Stem flatten linear(2) }\n', encoding="utf-8")
    report = check(main)
    assert report.diagnostics == [] and report.suppressed == 1


def test_unused_allows_are_warnings_only_when_every_warning_was_looked_for() -> None:
    unused = with_line(9, "# allow(W0202)")
    assert ("W0205", 9) in codes(unused)
    broken = unused.replace("linear(2)", "linear(2) -> 3")  # an error: lint never ran
    assert "W0205" not in [c for c, _ in codes(broken)]
    two = unused + "\nnetwork Other {\n    input 4\n    linear(2)\n}\n"
    assert "W0205" not in [c for c, _ in codes(two, network="Other")]  # Net was not checked


def test_errors_are_never_silenced() -> None:
    broken = with_line(9, "# allow(E0101)", NET.replace("linear(2)", "linear(2) -> 3"))
    assert "E0101" in [c for c, _ in codes(broken)]
    result = run("check", "--ignore", "E0101", "-")
    assert result.exit_code == 2 and "errors cannot be silenced" in result.output


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "net.net"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_ignore_and_select_by_code_or_prefix(tmp_path: Path) -> None:
    path = write(tmp_path, NET)
    payload = json.loads(run("check", path, "--ignore", "W0204,W0201", "-f", "json").stdout)
    assert [d["code"] for d in payload["diagnostics"]] == ["W0203"] and payload["suppressed"] == 2
    payload = json.loads(run("check", path, "--ignore", "W0204", "--ignore", "w0203", "-f", "json").stdout)
    assert [d["code"] for d in payload["diagnostics"]] == ["W0201"]
    payload = json.loads(run("check", path, "--select", "W0201", "-f", "json").stdout)
    assert [d["code"] for d in payload["diagnostics"]] == ["W0201"] and payload["suppressed"] == 2
    payload = json.loads(run("check", path, "--ignore", "W02", "-f", "json").stdout)
    assert payload["diagnostics"] == [] and payload["suppressed"] == 3
    result = run("check", path, "--select", "W0201", "--strict")
    assert result.exit_code == 1 and "error[W0201]" in result.output and "W0204" not in result.output
    assert run("check", path, "--ignore", "W02", "--strict").exit_code == 0


@pytest.mark.parametrize("bad", ["relu", "W02x", "X0201"])
def test_malformed_codes_are_usage_errors(tmp_path: Path, bad: str) -> None:
    result = run("check", write(tmp_path, NET), "--ignore", bad)
    assert result.exit_code == 2 and f"`{bad.upper()}`" in result.output


@pytest.mark.parametrize("option", ["--select", "--ignore"])
@pytest.mark.parametrize("empty", ["", ",", " , "])
def test_an_option_that_names_no_code_is_a_usage_error(tmp_path: Path, option: str, empty: str) -> None:
    """`--select "$CODES"` with an empty variable must not silence every warning."""
    result = run("check", write(tmp_path, NET), option, empty, "--strict")
    assert result.exit_code == 2 and f"{option} names no code" in result.output


def test_the_summary_line_counts_what_was_silenced(tmp_path: Path) -> None:
    result = run("check", write(tmp_path, with_line(3, "# allow(W0204)")), "--ignore", "W0201")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith("(1 warning, 2 suppressed)")


def test_ignore_allow_reports_every_warning(tmp_path: Path) -> None:
    path = write(tmp_path, above(1, "# allow(W0204, W0203, W0201)"))
    assert run("check", path).stdout.strip().endswith("(3 suppressed)")
    assert run("check", path, "--ignore-allow").stdout.strip().endswith("(3 warnings)")


def test_the_reference_networks_print_no_warning() -> None:
    """The README's first command: nothing on standard error, every file ok."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "architectures").glob("*.net"))
    result = subprocess.run([sys.executable, "-m", "cnndsl", "check", *files], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stderr == ""
    assert all(line.startswith("ok ") for line in result.stdout.splitlines())
