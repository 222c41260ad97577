"""The static pipeline: source -> parse -> resolve -> expand (shapes) -> lint.

This is what `check`, `summary` and `compile` share. It never imports torch.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from . import codes, ir, limits, syntax as S
from .diagnostics import Diagnostic, Diagnostics, error
from .errors import Error
from .ir import Value
from .parser import decode_source, parse, read_source
from .passes.expand import Budget, expand
from .passes.lint import lint
from .passes.resolve import resolve
from .passes.silence import silence
from .program import Program
from .source import SourceFile


class CompileError(Error):
    """A file was rejected; `diagnostics` says why. The code, span, message and help are the
    first error's."""

    # The one rejection without an error diagnostic: one network asked of a report that was
    # checked with `every` and holds several; E0022 is the code of choosing a network.
    family_code = codes.E0022.code

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        first = next((d for d in diagnostics if d.is_error), None)
        if first is None:
            super().__init__("no single network to return", help="name one with `network=`")
        else:
            super().__init__(first.message, code=first.code, span=first.span, help=first.help)
        self.diagnostics = diagnostics

    def __str__(self) -> str:
        """The first error as a Python user reads it in a traceback: where, the code, what,
        and the fix on the next line."""
        where = f"{self.span}: " if self.span else ""
        text = f"{where}{self.code}: {self.message}"
        return f"{text}\nhelp: {self.help}" if self.help else text


@dataclass
class Report:
    """The outcome of checking one file. `suppressed` counts the warnings silenced (by `allow`
    comments, `--ignore` or `--select`), which `diagnostics` leaves out."""

    file: SourceFile | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    networks: list[ir.Network] = field(default_factory=list)
    suppressed: int = 0
    unread: str = "<source>"  # the name shown when there is no file: it could not be read or decoded

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def network(self) -> ir.Network:
        """The one network that was asked for; raises CompileError when the file was rejected."""
        if not self.ok or len(self.networks) != 1:
            raise CompileError(self.diagnostics)
        return self.networks[0]

    @property
    def name(self) -> str:
        """The name the checked file (or source text) is shown under."""
        return self.file.name if self.file is not None else self.unread

    def _repr_html_(self) -> str:
        from .display import report_renderables, rich_html

        return rich_html(report_renderables(self))

    def __str__(self) -> str:
        """The diagnostics and the outcome line, uncoloured, as `print` shows them."""
        from .display import report_renderables, rich_plain

        return rich_plain(report_renderables(self))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def load(path_or_source: str | Path, name: str | None = None) -> tuple[SourceFile | None, list[Diagnostic]]:
    """A path (a `Path`, or a string without braces) or the text of a network file."""
    if isinstance(path_or_source, Path) or "{" not in path_or_source:
        return read_source(Path(path_or_source), name)
    # a lone surrogate (text from a file read with errors="surrogateescape") is refused as invalid UTF-8
    return decode_source(path_or_source.encode("utf-8", "surrogatepass"), name or "<source>")


def _position(d: Diagnostic) -> tuple:
    return (d.span is None, d.span.file.name if d.span else "", d.span.line if d.span else 0,
            d.span.column if d.span else 0)


Reader = Callable[[Path], "tuple[SourceFile | None, list[Diagnostic]]"]


class Loader:
    """Reads `use`d files for resolve (with `read_source`, or, in an editor, the open
    document's text), keeping their syntax trees (their `allow`s apply too), and bounds their
    total size in bytes: each file is within the limit of one, and so must all of them be
    together (300 links to one large file)."""

    def __init__(self, root: SourceFile, read: Reader = read_source) -> None:
        self.read = read
        self.modules: list[S.Module] = []
        self.total = root.size

    def __call__(self, path: Path) -> tuple[S.Module | None, list[Diagnostic]]:
        if self.total > limits.MAX_PROGRAM_BYTES:  # said once; the files after it are not read
            return None, []
        file, diagnostics = self.read(path)
        if file is None:
            return None, diagnostics
        self.total += file.size
        if self.total > limits.MAX_PROGRAM_BYTES:
            return None, [error(codes.E0004, f"the network's files together exceed {limits.MAX_PROGRAM_BYTES:,} bytes",
                                None, help="a network and the files it `use`s are a few kilobytes; is a `use` wrong?")]
        module, syntax = parse(file)
        if module is not None:
            self.modules.append(module)
        return module, diagnostics + syntax


PICK_FROM_PYTHON = "network=\"NAME\""
"""How a Python caller names the network it wants; the CLI passes `--network NAME`."""


def pick_networks(program: Program, network: str | None, every: bool, diags: Diagnostics,
                  how_to_pick: str = PICK_FROM_PYTHON) -> list[str]:
    names = list(program.networks)
    if network is not None:
        if network not in program.networks:
            from .diagnostics import suggest
            diags.add(error(codes.E0022, f"no network named `{network}` in {program.root.name}", None,
                            help=suggest(network, names) or (f"networks here: {', '.join(names)}" if names
                                                             else "this file defines no network")))
            return []
        return [network]
    if not names:
        diags.add(error(codes.E0022, f"{program.root.name} defines no network", None,
                        help="add `network Name { input CxHxW ... }`"))
        return []
    if len(names) > 1 and not every:
        diags.add(error(codes.E0022, f"{program.root.name} defines {len(names)} networks", None,
                        help=f"pick one with {how_to_pick.replace('NAME', names[0])} (networks: {', '.join(names)})"))
        return []
    return names


@contextmanager
def without_gc():
    """The passes build many small immutable objects and no reference cycles; pausing the
    cyclic collector keeps checking linear in the size of the network (it is measurably
    superlinear otherwise, from repeated full collections)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_file(file: SourceFile, network: str | None = None, overrides: Mapping[str, Value] | None = None,
               strict: bool = False, every: bool = False, how_to_pick: str = PICK_FROM_PYTHON,
               ignore: frozenset[str] = frozenset(), select: frozenset[str] | None = None,
               allows: bool = True) -> Report:
    """Run every static pass over `file`. With `every`, all networks of the file are
    expanded; otherwise exactly one (the named one, or the only one). `how_to_pick` is how
    the caller's user names a network (`--network NAME` on the command line). `ignore` and
    `select` silence warnings by code prefix, as `check --ignore` and `--select` do;
    `allows=False` disregards the file's `# allow(...)` comments (`--ignore-allow`)."""
    with without_gc():
        return _check_file(file, network, overrides, strict, every, how_to_pick, ignore, select, allows)


def _check_file(file: SourceFile, network: str | None, overrides: Mapping[str, Value] | None,
                strict: bool, every: bool, how_to_pick: str, ignore: frozenset[str],
                select: frozenset[str] | None, allows: bool) -> Report:
    diags = Diagnostics()
    module, syntax = parse(file)
    diags.extend(syntax)
    networks: list[ir.Network] = []
    loader = Loader(file)
    complete = False  # every network read and no error: every warning was looked for
    if module is not None:
        program = resolve(module, loader, diags)
        names = pick_networks(program, network, every, diags, how_to_pick)
        budget = Budget()
        for name in names:
            net = expand(program, name, overrides or {}, diags, budget=budget)
            if net is not None:
                networks.append(lint(net, diags))
        complete = not diags.has_errors and len(names) == len(program.networks)
    modules = ([module] if module else []) + loader.modules if allows else []
    silenced = silence(diags.items, modules, file, ignore, select, complete)
    items = sorted(silenced.kept, key=_position)
    if strict:
        items = [d.as_error() for d in items]
    report = Report(file, items, networks, silenced.suppressed)
    if not report.ok:
        report.networks = []
    return report


def check(path_or_source: str | Path, network: str | None = None, strict: bool = False,
          every: bool = False, **params: Value) -> Report:
    """Check a file or source text; the Python face of `cnndsl check`."""
    return check_source(path_or_source, network, params, strict, every)


def check_source(path_or_source: str | Path, network: str | None = None, params: Mapping[str, Value] | None = None,
                 strict: bool = False, every: bool = False) -> Report:
    """`check` with the network parameters as a mapping, so that any name (`strict`, `every`)
    can be a network parameter."""
    file, problems = load(path_or_source)
    if file is None:
        return Report(None, problems)
    return check_file(file, network, params, strict, every)
