"""`cnndsl fmt`: the canonical layout, comments kept, meaning never changed, and the command.

The central property: for any source that parses, the formatted text parses to the same
syntax tree (spans aside), keeps every comment in order, and is its own formatting. It is
checked on every network file of the repository and on generated sources; a longer run:
`CNNDSL_FUZZ_EXAMPLES=5000 pytest tests/test_formatter.py`.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from rich.console import Console
from rich.text import Text

import cli_runner
from cnndsl import limits
from cnndsl.formatter import format_source
from cnndsl.parser import parse, parse_keeping, read_source
from cnndsl.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted([*ROOT.glob("architectures/*.net"), *ROOT.glob("architectures/zoo/*.net"),
                 *ROOT.glob("tests/golden/*.net")])
EXAMPLES = int(os.environ.get("CNNDSL_FUZZ_EXAMPLES", "150"))

def fmt(text: str) -> str:
    formatted, problems = format_source(SourceFile("t.net", text))
    assert formatted is not None, problems
    return formatted


def bare(node: object) -> object:
    """A syntax tree without its spans; literals keep their type (`true` is not `1`)."""
    if dataclasses.is_dataclass(node):
        return (type(node).__name__, *(bare(getattr(node, f.name)) for f in dataclasses.fields(node)
                                       if f.name not in ("span", "file") and not f.name.endswith("_span")))
    if isinstance(node, tuple):
        return tuple(bare(item) for item in node)
    if isinstance(node, (bool, int, float, str)):
        return type(node).__name__, node
    return node


def comments(text: str) -> list[str]:
    return [str(token).rstrip() for token in parse_keeping(SourceFile("t.net", text), ("COMMENT",))[2]]


def assert_faithful(text: str) -> str:
    """Format `text` and check the three promises; return the formatted text."""
    module, problems = parse(SourceFile("t.net", text))
    assert module is not None, problems
    formatted = fmt(text)
    again, problems = parse(SourceFile("t.net", formatted))
    assert again is not None, f"formatted text does not parse: {problems}\n{formatted}"
    assert bare(again) == bare(module), f"meaning changed:\n{text}\n---\n{formatted}"
    assert comments(formatted) == comments(text)
    assert fmt(formatted) == formatted, f"not idempotent:\n{formatted}"
    return formatted


# ---- every network file of the repository ---------------------------------------------------

PARSING = [path for path in CORPUS if parse(read_source(path)[0])[0] is not None]


@pytest.mark.parametrize("path", PARSING, ids=[str(p.relative_to(ROOT)) for p in PARSING])
def test_corpus_keeps_meaning_and_comments(path: Path) -> None:
    assert_faithful(read_source(path)[0].text)


def test_corpus_is_not_trivial() -> None:
    assert len(PARSING) >= 40 and any("golden" in str(p) for p in PARSING)


# ---- the layout ------------------------------------------------------------------------------

LAYOUTS = {
    "spacing and one statement per line": (
        "network A(classes=10){input 3x8x8 conv(4,3,padding=1);relu relu}",
        "network A(classes = 10) {\n    input 3x8x8\n    conv(4, 3, padding=1)\n    relu\n    relu\n}\n"),
    "shapes compact when literal, bracketed otherwise": (
        "network A(n = 4) { input [3, 8, 8] flatten -> [192] linear(n) -> n linear(4) -> [n * 1] }",
        "network A(n = 4) {\n    input 3x8x8\n    flatten   -> 192\n    linear(n) -> [n]\n"
        "    linear(4) -> [n * 1]\n}\n"),
    "assertions aligned per body, labels and repeats kept": (
        "network A {\n input 4\n fc: linear(8) -> 8\n relu * 2\n linear(2) -> 2 }",
        "network A {\n    input 4\n    fc: linear(8) -> 8\n    relu * 2\n    linear(2)     -> 2\n}\n"),
    "parentheses only where needed": (
        "network A(a = 1, b = 2) { input 4 linear(((a + b)) * (b) - (a - b) + -(a * b)) relu * (a + 1) }",
        "network A(a = 1, b = 2) {\n    input 4\n    linear((a + b) * b - (a - b) + -(a * b))\n"
        "    relu * (a + 1)\n}\n"),
    "floats as written, empty argument lists dropped": (
        "network A { input 4 dropout(p = 1e-1) dropout(.50) relu() }",
        "network A {\n    input 4\n    dropout(p=1e-1)\n    dropout(.50)\n    relu\n}\n"),
    "constructs open on their line, empty bodies stay short": (
        "network A { input 3x8x8 residual { relu } shortcut { } add { branch { relu } branch { } } "
        "repeat 2 { relu } train { epochs = 2 } }",
        "network A {\n    input 3x8x8\n    residual {\n        relu\n    } shortcut {\n    }\n"
        "    add {\n        branch {\n            relu\n        }\n        branch {}\n    }\n"
        "    repeat 2 {\n        relu\n    }\n    train {\n        epochs = 2\n    }\n}\n"),
    "suffixes on the closing line": (
        "network A { input 4 x: residual { relu } * 2 -> 4 }",
        "network A {\n    input 4\n    x: residual {\n        relu\n    } * 2 -> 4\n}\n"),
    "after `->` the rest of the statement is the shape": (
        "network A { input 16x5x5 flatten -> 16*5*5 relu*3->[16 * 25] }",
        "network A {\n    input 16x5x5\n    flatten  -> [16 * 5 * 5]\n    relu * 3 -> [16 * 25]\n}\n"),
    "branches of every construct, empty ones too": (
        "network A { input 4x2x2 mul { branch { } branch { globalavgpool } } split { branch {} branch { relu } } }",
        "network A {\n    input 4x2x2\n    mul {\n        branch {}\n        branch {\n            globalavgpool\n"
        "        }\n    }\n    split {\n        branch {}\n        branch {\n            relu\n        }\n    }\n}\n"),
    "blank lines kept as one, none at body edges, one between definitions": (
        "\n\nblock B {\n\n relu\n\n\n\n relu\n\n}\nnetwork A { input 4 B }\n\n\n",
        "block B {\n    relu\n\n    relu\n}\n\nnetwork A {\n    input 4\n    B\n}\n"),
}

COMMENT_LAYOUTS = {
    "own-line and trailing comments stay put, trailing ones aligned": (
        "# file\nnetwork A { # head\n  input 4   # in\n  # before\n  linear(20)  # wide\n  relu\n} # tail\n",
        "# file\nnetwork A {  # head\n    input 4     # in\n    # before\n    linear(20)  # wide\n    relu\n"
        "}  # tail\n"),
    "a comment inside a statement moves above it": (
        "network A { input 4\n  linear(2,  # features\n     bias = false) }",
        "network A {\n    input 4\n    # features\n    linear(2, bias=false)\n}\n"),
    "a one-line construct's comment goes on its first line": (
        "network A { input 4 add { branch { relu } branch { relu } } # sum\n}",
        "network A {\n    input 4\n    add {  # sum\n        branch {\n            relu\n        }\n"
        "        branch {\n            relu\n        }\n    }\n}\n"),
    "comments before a closing brace stay inside": (
        "network A { input 4 residual { relu\n# end of body\n}\n# end of network\n}\n# end of file",
        "network A {\n    input 4\n    residual {\n        relu\n        # end of body\n    }\n"
        "    # end of network\n}\n\n# end of file\n"),
    "a doc comment stays on its definition": (
        "block B { relu }\n# the network\nnetwork A { input 4 B }",
        "block B {\n    relu\n}\n\n# the network\nnetwork A {\n    input 4\n    B\n}\n"),
    "two statements on a line: the comment goes with the last": (
        "network A { input 4\n linear(2) relu  # both\n}",
        "network A {\n    input 4\n    linear(2)\n    relu  # both\n}\n"),
}


@pytest.mark.parametrize("source, expected", [*LAYOUTS.values(), *COMMENT_LAYOUTS.values()],
                         ids=[*LAYOUTS, *COMMENT_LAYOUTS])
def test_layout(source: str, expected: str) -> None:
    assert assert_faithful(source) == expected


def test_the_example_in_the_docs_is_formatted() -> None:
    docs = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    example = docs.split("### What the layout is\n\n```\n")[1].split("```")[0]
    assert assert_faithful(example) == example


def test_whitespace_only_file_formats_to_nothing() -> None:
    assert fmt("\n  \n") == ""


def test_syntax_error_gives_diagnostics() -> None:
    formatted, problems = format_source(SourceFile("t.net", "network A { conv(3, }"))
    assert formatted is None and [d.code for d in problems] == ["E0001"]


# ---- generated sources -----------------------------------------------------------------------

NAMES = st.sampled_from(["a", "width", "n", "x", "channels", "Stage", "t2"])
CALLEES = st.sampled_from(["conv", "ReLU", "linear", "maxpool", "batchnorm", "flatten", "Stage", "dropout"])
OPERATORS = st.sampled_from(["+", "-", "*", "/", "//", "%"])
LEAVES = st.one_of(st.integers(0, 999).map(str), st.sampled_from(["0.5", "1e-4", "1.", ".25", "2.5E+3"]),
                   NAMES, st.sampled_from(['"same"', "true", "false"]))


def exprs(depth: int) -> st.SearchStrategy[list[str]]:
    """Token lists of expressions; the parser decides their tree, the test only compares."""
    leaf = LEAVES.map(lambda token: [token])
    if depth == 0:
        return leaf
    sub = exprs(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, OPERATORS, sub).map(lambda t: [*t[0], t[1], *t[2]]),
        st.tuples(st.sampled_from(["-", "+"]), sub).map(lambda t: [t[0], *t[1]]),
        sub.map(lambda tokens: ["(", *tokens, ")"]),
        st.lists(sub, min_size=1, max_size=3).map(
            lambda items: ["(", *sum((item + [","] for item in items[:-1]), []), *items[-1],
                           *([","] if len(items) == 1 else []), ")"]),
    )


def comma_list(items: list[list[str]]) -> list[str]:
    return sum((item + [","] for item in items[:-1]), []) + (items[-1] if items else [])


SHAPES = st.one_of(
    st.lists(st.integers(1, 64).map(str), min_size=2, max_size=3).map(lambda dims: ["x".join(dims)]),
    st.lists(exprs(1), min_size=1, max_size=3).map(lambda dims: ["[", *comma_list(dims), "]"]),
    st.one_of(st.integers(1, 99).map(str), NAMES).map(lambda token: [token]),
    exprs(2),
)
ARGS = st.lists(st.one_of(exprs(2), st.tuples(NAMES, exprs(1)).map(lambda t: [t[0], "=", *t[1]])), max_size=3)


@st.composite
def simple_statements(draw: st.DrawFn, depth: int) -> list[str]:
    kinds = ["call", "call", "label", "input"] + (["repeat", "residual", "branches", "train"] if depth else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "call":
        args = draw(ARGS)
        return [draw(CALLEES), *(["(", *comma_list(args), ")"] if args or draw(st.booleans()) else [])]
    if kind == "label":
        return [draw(NAMES), ":", *draw(simple_statements(depth))]
    if kind == "input":
        return ["input", *draw(SHAPES)]
    if kind == "repeat":
        return ["repeat", *draw(exprs(1)), *draw(bodies(depth - 1))]
    if kind == "residual":
        return ["residual", *draw(bodies(depth - 1)), *(["shortcut", *draw(bodies(depth - 1))]
                                                        if draw(st.booleans()) else [])]
    if kind == "branches":
        branches = draw(st.lists(st.one_of(bodies(depth - 1).map(lambda b: ["branch", *b]), st.just([";"])),
                                 max_size=3))
        return [draw(st.sampled_from(["concat", "add", "mul", "split"])), "{", *sum(branches, []), "}"]
    settings = draw(st.lists(st.tuples(NAMES, exprs(1)).map(lambda t: [t[0], "=", *t[1]]), max_size=3))
    return ["train", "{", *sum(settings, []), "}"]


@st.composite
def statements(draw: st.DrawFn, depth: int) -> list[str]:
    """A statement, repeated, then asserted: after `->` the rest of the statement is the shape."""
    tokens = draw(simple_statements(depth))
    for _ in range(draw(st.integers(0, 2))):
        tokens += ["*", *draw(st.one_of(st.integers(0, 9).map(lambda n: [str(n)]), NAMES.map(lambda n: [n]),
                                        exprs(1).map(lambda e: ["(", *e, ")"])))]
    for _ in range(draw(st.integers(0, 2))):
        tokens += ["->", *draw(SHAPES)]
    return tokens


def bodies(depth: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.one_of(statements(depth), st.just([";"])), max_size=4).map(
        lambda items: ["{", *sum(items, []), "}"])


PARAMS = st.lists(st.one_of(NAMES.map(lambda n: [n]), st.tuples(NAMES, exprs(1)).map(lambda t: [t[0], "=", *t[1]])),
                  max_size=3)


@st.composite
def sources(draw: st.DrawFn) -> str:
    """A file that parses, its tokens joined by random spaces, newlines, blank lines and
    comments: wherever whitespace may stand, a comment may too."""
    tokens: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["network", "block", "use", ";"]))
        if kind == "use":
            tokens += ["use", '"other.net"']
        elif kind == ";":
            tokens.append(";")
        else:
            params = draw(PARAMS)
            tokens += [kind, draw(st.sampled_from(["A", "Net", "B"])),
                       *(["(", *comma_list(params), ")"] if params or draw(st.booleans()) else []),
                       *draw(bodies(2))]
    gaps = st.sampled_from([" ", " ", " ", "\n", "\n\n\n", "\n\t  ", "  # note\n", "\n# own line\n\n", "#\n"])
    return "".join(token + draw(gaps) for token in tokens)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources())
# found by CI: a compact shape before ` * N` read the count as part of the shape (`input 0 * 0`)
@example("network A { } network A { } network A { input [ 0 ] * 0 } ")
def test_generated_sources_keep_meaning_and_comments(source: str) -> None:
    assert_faithful(source)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_relaid_corpus_files_keep_meaning_and_comments(data: st.DataObject) -> None:
    """Real files with line breaks, blank lines, `;` and comments pushed in at random places."""
    text = data.draw(st.sampled_from(PARSING)).read_text(encoding="utf-8")
    for _ in range(data.draw(st.integers(1, 12))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.sampled_from([" ", "\n", "\n\n", "\t", " ; ", "  # {moved}\n"])) + text[at:]
    if parse(SourceFile("t.net", text))[0] is not None:
        assert_faithful(text)


# ---- the command -----------------------------------------------------------------------------

MESSY = "network A{input 4 linear(2)->2}  # tiny\n"
NEAT = "network A {  # tiny\n    input 4\n    linear(2) -> 2\n}\n"


def invoke(*args: str, input: str | None = None):
    return cli_runner.invoke(["fmt", *args], input=input)


def test_rewrites_in_place_and_names_the_files(tmp_path: Path) -> None:
    messy, neat = tmp_path / "messy.net", tmp_path / "neat.net"
    messy.write_text(MESSY)
    neat.write_text(NEAT)
    result = invoke(str(messy), str(neat))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"reformatted {messy}\n"
    assert "1 file reformatted, 1 unchanged" in result.stderr
    assert messy.read_text() == NEAT and neat.read_text() == NEAT
    assert invoke(str(messy)).stdout == ""


def test_check_changes_nothing_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "a.net"
    path.write_text(MESSY)
    result = invoke("--check", str(path))
    assert result.exit_code == 1
    assert result.stdout == f"would reformat {path}\n"
    assert path.read_text() == MESSY
    path.write_text(NEAT)
    assert invoke("--check", str(path)).exit_code == 0


def test_syntax_error_is_reported_and_the_file_left_alone(tmp_path: Path) -> None:
    broken, fine = tmp_path / "broken.net", tmp_path / "fine.net"
    broken.write_text("network A { conv(3, }\n")
    fine.write_text(MESSY)
    result = invoke(str(broken), str(fine))
    assert result.exit_code == 1
    assert "error[E0001]" in result.stderr and f"{broken}:1:" in result.stderr
    assert broken.read_text() == "network A { conv(3, }\n"
    assert fine.read_text() == NEAT  # the other files are still formatted


def test_binary_file_is_rejected_untouched(tmp_path: Path) -> None:
    path = tmp_path / "a.net"
    path.write_bytes(b"\x00\x01network")
    result = invoke(str(path))
    assert result.exit_code == 1 and "error[E0003]" in result.stderr
    assert path.read_bytes() == b"\x00\x01network"


def test_stdout_on_a_terminal_is_highlighted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Console(file=StringIO(), force_terminal=True, color_system="standard", soft_wrap=True)
    monkeypatch.setattr("cnndsl.cli.fmt.console", terminal)
    path = tmp_path / "a.net"
    path.write_text(MESSY)
    assert invoke("--stdout", str(path)).exit_code == 0
    shown = terminal.file.getvalue()
    assert "\x1b[" in shown and Text.from_ansi(shown).plain == NEAT


def test_stdout_prints_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.net"
    path.write_text(MESSY)
    result = invoke("--stdout", str(path))
    assert result.exit_code == 0 and result.stdout == NEAT
    assert path.read_text() == MESSY


def test_dash_formats_standard_input() -> None:
    result = invoke("-", input=MESSY)
    assert result.exit_code == 0 and result.stdout == NEAT
    check = invoke("--check", "-", input=MESSY)
    assert check.exit_code == 1 and check.stdout == "would reformat <stdin>\n"
    broken = invoke("-", input="network {")
    assert broken.exit_code == 1 and broken.stdout == "" and "<stdin>:1:" in broken.stderr


def test_folders_are_searched_for_net_files(tmp_path: Path) -> None:
    for name in ("a.net", "sub/b.net", ".hidden/c.net", "notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(MESSY)
    result = invoke(str(tmp_path))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"reformatted {tmp_path / 'a.net'}", f"reformatted {tmp_path / 'sub/b.net'}"]
    assert (tmp_path / ".hidden/c.net").read_text() == MESSY and (tmp_path / "notes.txt").read_text() == MESSY


def test_line_ends_alone_are_no_reason_to_rewrite(tmp_path: Path) -> None:
    neat, messy = tmp_path / "neat.net", tmp_path / "messy.net"
    neat.write_bytes(b"\xef\xbb\xbf" + NEAT.replace("\n", "\r\n").encode())
    messy.write_bytes(MESSY.replace("\n", "\r\n").encode())
    assert invoke("--check", str(neat)).exit_code == 0
    assert invoke(str(neat), str(messy)).stdout == f"reformatted {messy}\n"
    assert neat.read_bytes() == b"\xef\xbb\xbf" + NEAT.replace("\n", "\r\n").encode()
    assert messy.read_text(encoding="utf-8") == NEAT


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and symbolic links")
def test_rewriting_keeps_permissions_and_symbolic_links(tmp_path: Path) -> None:
    target, link = tmp_path / "a.net", tmp_path / "link.net"
    target.write_text(MESSY)
    target.chmod(0o640)
    link.symlink_to(target)
    assert invoke(str(link)).exit_code == 0
    assert link.is_symlink() and target.read_text() == NEAT
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_write_failure_is_an_error_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("cnndsl.cli.fmt.atomic_write_text", refuse)
    path = tmp_path / "a.net"
    path.write_text(MESSY)
    result = invoke(str(path))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"cannot write {path}: Permission denied" in result.stderr
    assert path.read_text() == MESSY


@pytest.mark.parametrize("args", [["no/such.net"], ["--check", "--stdout", "x.net"], ["-", "a.net"],
                                  ["--frobnicate", "a.net"], []])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output


def test_console_script(tmp_path: Path) -> None:
    """The installed command, in a real process: stdin to stdout, then --check on a file."""
    path = tmp_path / "a.net"
    path.write_text(MESSY)
    piped = subprocess.run([sys.executable, "-m", "cnndsl", "fmt", "-"], input=MESSY, capture_output=True,
                           text=True, timeout=120)
    assert (piped.returncode, piped.stdout) == (0, NEAT), piped.stderr
    checked = subprocess.run([sys.executable, "-m", "cnndsl", "fmt", "--check", str(path)], capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert checked.stdout == f"would reformat {path}\n"


def test_the_repository_networks_are_formatted() -> None:
    """The reference networks are kept in the canonical layout (`cnndsl fmt architectures`)."""
    result = cli_runner.invoke(["fmt", "--check", str(ROOT / "architectures")])  # and architectures/zoo
    assert result.exit_code == 0, result.output


def test_a_layout_past_the_size_limit_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    """26,000 `relu;` on one line check within the limit; laid out one a line they would not."""
    path = tmp_path / "relus.net"
    path.write_text("network A {\ninput 4\n" + "relu;" * 26_000 + "}\n")
    before = path.read_bytes()
    assert len(before) <= limits.MAX_FILE_BYTES
    result = cli_runner.invoke(["fmt", path])
    assert result.exit_code == 1 and "error[E0004]" in result.output and "would be" in result.output
    assert path.read_bytes() == before
