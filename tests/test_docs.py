"""The docs stay true: every diagnostic code is explained, every golden example is current."""

from __future__ import annotations

import re
from pathlib import Path

from cnndsl.codes import CODES

ROOT = Path(__file__).resolve().parent.parent
ERRORS = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")


# Codes that no golden file can show, and why.
WITHOUT_GOLDEN = {
    "E0003": "an unreadable or binary file has no source to show beside the message",
    "E0004": "it takes a file over the 128 KiB limit",
    "E0301": "raised when the PyTorch module is built, which `check` never does",
}


def test_every_code_is_defined_once_documented_and_shown() -> None:
    """The registry (cnndsl/codes.py) and the error index list the same codes, with the same
    summaries; each code has a golden file unless WITHOUT_GOLDEN says why not."""
    documented = dict(re.findall(r"^## ([EW]\d{4}): (.+)$", ERRORS, re.MULTILINE))
    assert sorted(CODES) == sorted(documented)
    for code, info in CODES.items():
        assert info.summary == documented[code], code
        assert info.severity.value == {"E": "error", "W": "warning"}[code[0]], code
        assert f"## {code}: {info.summary}" in ERRORS
        assert info.anchor == re.sub(r"[^a-z0-9 -]", "", f"{code}: {info.summary}".lower()).replace(" ", "-")
    shown = {path.name.split("_")[0] for path in (ROOT / "tests" / "golden").rglob("*.stderr")}  # weights/ too
    assert sorted(set(CODES) - shown) == sorted(WITHOUT_GOLDEN)
    assert len({info.name for info in CODES.values()}) == len(CODES)


def test_codes_are_not_written_as_strings_outside_the_registry() -> None:
    for path in (ROOT / "cnndsl").rglob("*.py"):
        if path.name != "codes.py":
            assert not re.search(r"[\"'][EW]\d{4}[\"']", path.read_text(encoding="utf-8")), path


def test_examples_in_the_error_index_match_the_golden_files() -> None:
    for expected in (ROOT / "tests" / "golden").glob("*.stderr"):
        code = expected.stem.split("_")[0]
        if f"## {code}:" in ERRORS and f"{expected.stem}.net" in ERRORS:
            assert expected.read_text(encoding="utf-8").rstrip() in ERRORS, f"{expected.name} is stale in errors.md"


def test_network_examples_in_the_docs_are_in_fmt_layout() -> None:
    """What a reader copies from the docs passes `cnndsl fmt --check`: every code block of the
    README and docs/ that holds a whole `.net` file is printed as fmt prints it. errors.md is
    left out: its examples are the golden files' inputs, mistakes included, at the positions
    their messages point at."""
    from cnndsl.formatter import format_source
    from cnndsl.source import SourceFile

    checked = 0
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if doc.name == "errors.md":
            continue
        text = doc.read_text(encoding="utf-8")
        for block in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            language, code = block.groups()
            if language not in ("", "net", "cnndsl") or not re.search(r"^(network|block) \w+", code, re.M):
                continue
            line = text.count("\n", 0, block.start()) + 2
            formatted, _ = format_source(SourceFile(f"{doc.name}:{line}", code))
            if formatted is None:  # not a whole file (a fragment, or a syntax error shown on purpose)
                continue
            checked += 1
            assert formatted == code, f"{doc.relative_to(ROOT)}:{line} is not in fmt's layout:\n{formatted}"
    assert checked >= 6
