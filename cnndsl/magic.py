"""The IPython extension: `%load_ext cnndsl`, then `%%cnndsl` cells written in the .net language.

    %%cnndsl --set classes=10
    network LeNet5(classes = 10) {
        input 1x32x32
        ...
    }

The cell is checked as a file named after the cell (`In[7]`), with its lines numbered as
the notebook numbers them (the `%%cnndsl` line is line 1), so a diagnostic points at the
line the reader sees; `use` paths start from the kernel's working directory (the
notebook's folder). A rejected cell shows its diagnostics and binds nothing; an accepted
one shows each network's summary and diagram and binds it, as a `cnndsl.Network`, under
its own name. Nothing here imports torch.
"""

from __future__ import annotations

import re
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from .api import Network
from .compiler import Report, check_file
from .evaluate import parse_set
from .ir import Value
from .parser import decode_source

# A network's name where the cell declares it: a rejected cell unbinds what it used to define.
DECLARED = re.compile(r"^\s*network\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def parse_sets(items: list[str]) -> dict[str, Value]:
    """`--set NAME=VALUE` items, with the command line's reading of values."""
    values: dict[str, Value] = {}
    for item in items:
        if len(item) >= 2 and item[0] == item[-1] and item[0] in "\"'":
            item = item[1:-1]  # IPython's option line keeps quotes a shell would remove: `--set "name=a b"`
        parsed = parse_set(item)
        if parsed is None:
            raise UsageError(f"--set expects NAME=VALUE, got `{item}`")
        values[parsed[0]] = parsed[1]
    return values


def cell_number(shell: Any) -> int:
    """The number the notebook shows beside the running cell. IPython 9 counts the next cell
    in `execution_count` while one runs, IPython 8 the running one; both hand the running
    cell's result, number included, to the display hook."""
    running = getattr(shell.displayhook, "exec_result", None)
    number = getattr(running, "execution_count", None)
    return number if isinstance(number, int) else int(shell.execution_count)


@magics_class
class CnndslMagics(Magics):
    @magic_arguments()
    @argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
              help="Override a network parameter (repeatable).")
    @argument("--network", "-n", default=None, help="Check only this network of the cell.")
    @argument("--strict", action="store_true", help="Treat warnings as errors.")
    @cell_magic
    def cnndsl(self, line: str, cell: str) -> None:
        """Check the cell as a .net file; show each network's summary and diagram and bind
        it under its name, or show the diagnostics."""
        shell = self.shell
        assert shell is not None, "the magic runs in the shell that registered it"
        try:
            args = parse_argstring(self.cnndsl, line)
        except ValueError as exc:  # shlex: an unbalanced quote
            raise UsageError(f"cannot read the options `{line.strip()}`: {exc}") from None
        overrides = parse_sets(args.sets)
        name = f"In[{cell_number(shell)}]"
        # The blank first line stands for the `%%cnndsl` line, so lines count as the notebook shows them.
        # A lone surrogate (pasted from a broken clipboard) becomes bytes that the decoder reports.
        file, problems = decode_source(("\n" + cell).encode("utf-8", "surrogatepass"), name)
        namespace = shell.user_ns
        if file is None:
            display(Report(None, problems, unread=name))
            return
        report = check_file(file, args.network, overrides, args.strict, every=args.network is None)
        if not report.ok:
            display(report)
            self._unbind(namespace, cell)
            return
        if report.diagnostics:
            display(report)
        for net in report.networks:
            bound = Network(net, tuple(report.diagnostics))
            if net.name.startswith("__"):  # `__builtins__` and its kin belong to Python
                print(f"not bound: {net.name} (names that start with `__` are Python's; rename the network)")
            else:
                namespace[net.name] = bound
            display(bound.summary())
            display(bound.diagram())

    @staticmethod
    def _unbind(namespace: dict[str, Any], cell: str) -> None:
        """Forget the networks a rejected cell declares, so that a later cell does not go on
        with the version from before the edit."""
        declared = dict.fromkeys(DECLARED.findall(cell))  # a name declared twice is unbound once
        gone = [name for name in declared if isinstance(namespace.get(name), Network)]
        for name in gone:
            del namespace[name]
        if gone:
            print(f"not bound: {', '.join(gone)} (the previous definition was removed)")


def register(ipython: Any) -> None:
    ipython.register_magics(CnndslMagics)
