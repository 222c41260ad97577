"""Golden files: every bad input under tests/golden/ beside its expected rendering.

`NAME.net` is checked (every network, as `cnndsl check` does) and its diagnostics are
rendered without colour at width 100; the text must equal `NAME.stderr`. A line
`# set: NAME=VALUE` in the input passes that override, as `--set` does. The file name
starts with the code it demonstrates, and that code must be among the diagnostics.
Re-bless after an intended change with `pytest tests/test_golden.py --bless`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cnndsl.compiler import check_file
from cnndsl.evaluate import parse_value
from cnndsl.parser import read_source
from cnndsl.render import plain

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.net"))


def render_case(path: Path) -> tuple[str, list[str]]:
    file, problems = read_source(path, path.name)
    assert file is not None, problems
    overrides = dict(line[len("# set:"):].strip().split("=", 1) for line in file.text.splitlines()
                     if line.startswith("# set:"))
    report = check_file(file, overrides={k: parse_value(v) for k, v in overrides.items()}, every=True)
    return plain(report.diagnostics), [d.code for d in report.diagnostics]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path, bless: bool) -> None:
    rendered, codes = render_case(path)
    expected_file = path.with_suffix(".stderr")
    if bless or not expected_file.exists():
        expected_file.write_text(rendered, encoding="utf-8")
    assert rendered == expected_file.read_text(encoding="utf-8")
    code = path.stem.split("_")[0]
    if code[0] in "EW" and code[1:].isdigit():
        assert code in codes, f"{path.name} should demonstrate {code}, got {codes}"
    assert rendered, "a golden case must produce diagnostics"


def test_every_golden_output_has_its_input() -> None:
    orphans = [p.name for p in GOLDEN.glob("*.stderr") if not p.with_suffix(".net").exists()]
    assert not orphans
