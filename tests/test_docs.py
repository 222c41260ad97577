"""The docs stay true: every diagnostic code is explained, every golden example is current."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ERRORS = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")


def test_every_code_in_the_source_is_documented() -> None:
    used = set()
    for path in (ROOT / "cnndsl").rglob("*.py"):
        used |= set(re.findall(r'"([EW]\d{4})"', path.read_text(encoding="utf-8")))
    documented = set(re.findall(r"^## ([EW]\d{4}):", ERRORS, re.MULTILINE))
    assert used <= documented, f"undocumented codes: {sorted(used - documented)}"
    assert documented <= used, f"documented codes nothing emits: {sorted(documented - used)}"


def test_examples_in_the_error_index_match_the_golden_files() -> None:
    for expected in (ROOT / "tests" / "golden").glob("*.stderr"):
        code = expected.stem.split("_")[0]
        if f"## {code}:" in ERRORS and f"{expected.stem}.net" in ERRORS:
            assert expected.read_text(encoding="utf-8").rstrip() in ERRORS, f"{expected.name} is stale in errors.md"
