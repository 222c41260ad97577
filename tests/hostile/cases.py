"""The hostile corpus: inputs and situations that once ended in a traceback, a hang, minutes
of work or megabytes of output, one or more per class, each with the exit code and the
message it must end with.

Small inputs are files beside this one (`*.net`); large or special ones (a FIFO, links,
1,000-statement lines, 15,000 parameters) are made by `build` in a scratch workspace.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
LENET = HERE.parent.parent / "architectures" / "lenet5.net"


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    exit: int
    says: tuple[str, ...]            # each must appear in stdout or stderr
    stdin: str | None = None         # a workspace file, or "endless" (`yes |`)
    stdout: str | None = None        # where stdout goes instead of a file (/dev/full)
    env: dict[str, str] = field(default_factory=dict)


def _net(body: str, params: str = "") -> str:
    return f"network N{params} {{\n    input 1x28x28\n    {body}\n}}\n"


def build(workspace: Path) -> None:
    """Write the corpus's files into `workspace`."""
    for path in HERE.glob("*.net"):
        shutil.copy(path, workspace / path.name)
    shutil.copy(LENET, workspace / "lenet5.net")
    generated = {
        "huge_literal.net": _net("conv(" + "9" * 5000 + ", 3)"),
        "assertions_3000.net": _net("conv(1, 1)" + " -> 1x28x28" * 3000),
        "labels_3000.net": _net("a: " * 3000 + "relu"),
        "times_3000.net": _net("relu" + " * 1" * 3000),
        "relu_4000_one_line.net": _net("relu;" * 4000),
        "unknown_1000_one_line.net": _net("bogus;" * 1000),
        "second_mark_120000_columns_on.net": "network N {\n    input 4\n    relu\n    train { epochs = 1"
                                              + " " * 120_000 + "epochs = 2 }\n}\n",
        "add_3000_branches_one_line.net": "network A {\n    input 4\n    add {"
                                          + "branch { linear(5) } branch { linear(6) }" * 1500 + "}\n}\n",
        "long_name.net": _net("x" * 100_000),
        "params_15000.net": "network P(" + ",".join(f"p{i}=1" for i in range(15_000)) + ") {\n"
                            "    input 4x8x8\n    conv(p1, 1)\n}\n",
        "statements_10000.net": _net("\n    ".join(["conv(1, 1)", "relu"] * 5_000)),
        "block_chain_3000.net": "\n".join(f"block B{i} {{ B{i + 1} }}" for i in range(3000))
                                + "\nblock B3000 { relu }\n" + _net("B0"),
        "oversized.net": "# padding\n" * 120_000,
        "binary.net": "",
        "use_long_path.net": f'use "{"a" * 5000}.net"\n' + _net("relu"),
        "use_loop.net": 'use "loop1.net"\n' + _net("relu"),
        "use_directory.net": 'use "a_directory"\n' + _net("relu"),
        "use_300_links.net": "".join(f'use "link{i}.net"\n' for i in range(300)) + _net("relu"),
    }
    for name, text in generated.items():
        (workspace / name).write_text(text, encoding="utf-8")
    (workspace / "binary.net").write_bytes(bytes(range(256)) * 4)
    (workspace / "big_library.net").write_text("# " + "x" * 100_000 + "\nblock Big { relu }\n", encoding="utf-8")
    for i in range(300):
        os.link(workspace / "big_library.net", workspace / f"link{i}.net")
    os.symlink("loop2.net", workspace / "loop1.net")
    os.symlink("loop1.net", workspace / "loop2.net")
    os.mkfifo(workspace / "fifo.net")
    (workspace / "a_directory").mkdir()
    markup = workspace / "we[" / "]ird"
    markup.mkdir(parents=True)
    shutil.copy(LENET, markup / "le[bold]net.net")


CHECK = "check"
CASES: tuple[Case, ...] = (
    # arithmetic in expressions
    Case("integer_past_a_float", (CHECK, "integer_past_float.net"), 1, ("error[E0038]",)),
    Case("int_plus_float", (CHECK, "int_plus_float.net"), 1, ("error[E0038]",)),
    Case("infinity", (CHECK, "infinity.net"), 1, ("error[E0038]", "infinite")),
    Case("nan", (CHECK, "nan.net"), 1, ("error[E0038]",)),
    Case("floor_division_overflow", (CHECK, "floor_division_overflow.net"), 1, ("error[E0038]",)),
    Case("fmod_by_zero", (CHECK, "fmod_by_zero.net"), 1, ("error[E0032]",)),
    Case("literal_of_5000_digits", (CHECK, "huge_literal.net"), 1, ("error[E0038]", "5,000 digits")),
    Case("set_infinity", (CHECK, "set_parameter.net", "--set", "p=1e999"), 1, ("error[E0038]",)),
    Case("set_5000_digits", (CHECK, "set_parameter.net", "--set", "p=" + "9" * 5000), 1, ("error[E0038]", "10^5000")),
    Case("summary_of_overflow", ("summary", "infinity.net"), 1, ("error[E0038]",)),
    Case("export_of_overflow", ("export", "infinity.net", "--to", "python"), 1, ("error[E0038]",)),
    # the size of the tree
    Case("assertions_3000", (CHECK, "assertions_3000.net"), 1, ("error[E0005]",)),
    Case("labels_3000", (CHECK, "labels_3000.net"), 1, ("error[E0005]",)),
    Case("times_3000", (CHECK, "times_3000.net"), 1, ("error[E0005]",)),
    Case("fmt_times_3000", ("fmt", "--check", "times_3000.net"), 1, ("error[E0005]",)),
    Case("nesting_through_calls", (CHECK, "nesting_through_calls.net"), 1, ("error[E0035]",)),
    Case("block_chain_3000", (CHECK, "block_chain_3000.net"), 1, ("error[E0035]",)),
    Case("graph_block_chain_3000", ("graph", "block_chain_3000.net", "-o", "chain.svg"), 1, ("error[E0035]",)),
    # files
    Case("use_a_path_too_long", (CHECK, "use_long_path.net"), 1, ("error[E0020]", "File name too long")),
    Case("use_a_symlink_loop", (CHECK, "use_loop.net"), 1, ("error[E0020]", "loop")),
    Case("use_a_directory", (CHECK, "use_directory.net"), 1, ("error[E0020]",)),
    Case("use_300_links_to_100kb", (CHECK, "use_300_links.net"), 1, ("error[E0004]", "together exceed")),
    Case("check_dev_zero", (CHECK, "/dev/zero"), 1, ("error[E0003]", "not a regular file")),
    Case("check_a_fifo", (CHECK, "fifo.net"), 1, ("error[E0003]", "a pipe")),
    Case("fmt_a_fifo", ("fmt", "fifo.net"), 1, ("error[E0003]", "a pipe")),
    Case("fmt_endless_stdin", ("fmt", "-"), 1, ("error[E0004]", "<stdin>"), stdin="endless"),
    Case("oversized_file", (CHECK, "oversized.net"), 1, ("error[E0004]",)),
    Case("binary_file", (CHECK, "binary.net"), 1, ("error[E0003]", "binary")),
    Case("check_a_directory", (CHECK, "a_directory"), 2, ("is a directory",)),
    Case("path_too_long", (CHECK, "a" * 5000 + ".net"), 1, ("error[E0003]", "File name too long")),
    Case("path_through_a_file", (CHECK, "lenet5.net/x.net"), 1, ("error[E0003]", "Not a directory")),
    Case("symlink_loop", (CHECK, "loop1.net"), 1, ("error[E0003]", "Too many levels of symbolic links")),
    # time and output
    Case("params_15000", (CHECK, "params_15000.net"), 0, ("ok params_15000.net",)),
    Case("statements_10000", (CHECK, "statements_10000.net"), 0, ("ok statements_10000.net",)),
    Case("relu_4000_on_one_line", (CHECK, "relu_4000_one_line.net"), 0, ("... and 3,949 more", "3999 warnings")),
    Case("unknown_1000_on_one_line", (CHECK, "unknown_1000_one_line.net"), 1, ("... and 950 more",)),
    # one diagnostic with a label a branch: the labels shown are bounded, the rest counted
    # a mark far past the columns shown is drawn at their edge: the output stays small
    Case("second_mark_120000_columns_on", (CHECK, "second_mark_120000_columns_on.net"), 1, ("error[E0037]",)),
    Case("add_of_3000_differing_branches", (CHECK, "add_3000_branches_one_line.net"), 1,
         ("error[E0109]", "2,992 more places are involved")),
    Case("name_of_100000_characters", (CHECK, "long_name.net"), 1, ("error[E0010]", "characters)")),
    # output and names
    Case("stdout_on_a_full_disk", (CHECK, "lenet5.net"), 1, ("No space left on device",), stdout="/dev/full"),
    Case("markup_in_a_file_name", (CHECK, "we[/]ird/le[bold]net.net"), 0, ("ok we[/]ird/le[bold]net.net",)),
    Case("markup_in_a_missing_name", (CHECK, "we[/]ird/[/]gone.net"), 2, ("no such file: we[/]ird/[/]gone.net",)),
    Case("markup_in_an_output_folder", ("graph", "lenet5.net", "-o", "we[/]ird"), 2, ("we[/]ird is a directory",)),
    # new ones
    Case("unicode_lookalike", (CHECK, "lookalike.net"), 1, ("error[E0001]",)),
    Case("debug_flag_on_a_good_file", ("--debug", CHECK, "lenet5.net"), 0, ("ok lenet5.net",)),
    Case("set_a_huge_tuple", (CHECK, "set_parameter.net", "--set", "p=(" + "1," * 5000 + "1)"), 1,
         ("error[E0030]",)),
)
