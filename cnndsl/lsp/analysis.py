"""One document as the language server sees it: parsed, resolved, every network expanded and
linted, as `cnndsl check` does, plus what expansion learnt about each statement on the way
(its shapes, and the IR nodes it became, which carry parameters, MACs and derivations).

Nothing here knows the protocol; `features.py` turns an `Analysis` into LSP answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .. import ir, syntax as S
from ..compiler import Loader, Reader, without_gc
from ..counting import layer_macs, layer_params
from ..diagnostics import Diagnostic, Diagnostics
from ..ir import Shape
from ..parser import parse
from ..passes.expand import Budget, expand
from ..passes.lint import lint
from ..passes.resolve import resolve
from ..passes.silence import silence
from ..program import Program
from ..source import SourceFile, Span

@dataclass(frozen=True)
class Fact:
    """One expansion of one statement: a statement in a block called three times has three."""

    stmt: object                   # the resolved statement (program.py's LayerCall, BlockCall, or a syntax node)
    in_shape: Shape | None         # None where an earlier error left the shape unknown
    out_shape: Shape | None
    nodes: tuple[ir.Node, ...]

    @property
    def leaves(self) -> list[ir.Layer]:
        return ir.leaves(self.nodes)

    @property
    def params(self) -> int:
        return sum(layer_params(layer) for layer in self.leaves)

    @property
    def macs(self) -> int:
        return sum(layer_macs(layer) for layer in self.leaves)


@dataclass(frozen=True)
class Analysis:
    file: SourceFile
    module: S.Module | None        # None when the text does not parse
    program: Program | None
    diagnostics: tuple[Diagnostic, ...]
    facts: Mapping[Span, tuple[Fact, ...]]   # by the span of the statement, in expansion order

    @property
    def files(self) -> tuple[SourceFile, ...]:
        """This file and every file it `use`s, directly or not."""
        return self.program.files if self.program is not None else (self.file,)


def _position(d: Diagnostic) -> tuple:
    return (d.span is None, d.span.file.name if d.span else "", d.span.line if d.span else 0,
            d.span.column if d.span else 0)


def analyse(file: SourceFile, read: Reader) -> Analysis:
    """Check `file` as `cnndsl check` checks it, every network of it, with default parameters,
    its `# allow(...)` comments and those of the files it uses honoured.

    A file without networks is not an error here (in an editor it is a library of blocks, and
    `check` would ask for a network); a network whose parameters have no default is reported
    as `check` reports it."""
    with without_gc():
        diags = Diagnostics()
        facts: dict[Span, list[Fact]] = {}

        def observe(stmt: object, before: Shape | None, after: Shape | None, nodes: list[ir.Node]) -> None:
            if not isinstance(stmt, S.Labeled):  # its statement is seen, with the same span and shapes
                facts.setdefault(getattr(stmt, "span"), []).append(Fact(stmt, before, after, tuple(nodes)))

        loader = Loader(file, read)
        module, syntax = parse(file)
        diags.extend(syntax)
        program = None
        if module is not None:
            program = resolve(module, loader, diags)
            budget = Budget()
            for name in program.networks:
                net = expand(program, name, {}, diags, observe, budget)
                if net is not None:
                    lint(net, diags)
        # a file without networks is a library: its blocks' warnings show where a network calls them
        complete = program is not None and bool(program.networks) and not diags.has_errors
        silenced = silence(diags.items, ([module] if module else []) + loader.modules, file, complete=complete)
        items = tuple(sorted(silenced.kept, key=_position))
        return Analysis(file, module, program, items, {span: tuple(found) for span, found in facts.items()})
