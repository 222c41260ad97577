"""What the server shows about a checked file: inlay hints, hovers, definitions and symbols.

Each is a function of an `Analysis` (and a position); none reads the protocol's state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from lsprotocol import types

from .. import syntax as S
from ..diagnostics import Applicability
from ..evaluate import show
from ..fixes import applicable, apply
from ..ir import Shape, format_shape
from ..layers import REQUIRED, LayerSpec, lookup
from ..program import BlockCall
from ..source import Span
from .analysis import Analysis, Fact
from .convert import Positions, diagnostic
from .locate import Found, definitions, find

MAX_SHOWN = 4  # distinct expansions listed in a hint before "N more"
MAX_HOVERED = 8  # and in a hover


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _distinct(facts: Iterable[Fact]) -> list[Fact]:
    """One fact per distinct (input, output, parameters), in order."""
    seen: dict[tuple, Fact] = {}
    for fact in facts:
        seen.setdefault((fact.in_shape, fact.out_shape, fact.params), fact)
    return list(seen.values())


# ---- inlay hints -------------------------------------------------------------------------

def _hint_label(facts: list[Fact], asserted: bool) -> str | None:
    """`-> 64x56x56 · 36,864 params`; several expansions joined with `|`; only the parameters
    where the shape is asserted in the text."""
    known = _distinct(f for f in facts if f.out_shape is not None)
    parts = []
    for fact in known[:MAX_SHOWN]:
        params = _count(fact.params, "param") if fact.params else ""
        shown = params if asserted else " · ".join(filter(None, [format_shape(fact.out_shape), params]))
        if shown:
            parts.append(shown)
    if not parts:
        return None
    more = f" | {len(known) - MAX_SHOWN} more" if len(known) > MAX_SHOWN else ""
    return ("" if asserted else "-> ") + " | ".join(dict.fromkeys(parts)) + more


def inlay_hints(analysis: Analysis, positions: Positions, first_line: int, last_line: int) -> list[types.InlayHint]:
    """After every statement of the file, the shape it produces and the parameters it holds.

    A statement that ends on the same line as a statement around it (`relu` in `relu * 3`, a
    call in `conv(8, 3) -> 8x30x30`, a one-line `residual { ... }`) gets no hint of its own: the
    outer one speaks for the line. Where the file already asserts the shape, only the parameters
    are shown. A statement in a block called with different shapes lists each of them."""
    own = {span: facts for span, facts in analysis.facts.items()
           if span.file is analysis.file and first_line <= span.end_line <= last_line}
    ends: dict[int, list[Span]] = {}
    for span in own:
        ends.setdefault(span.end_line, []).append(span)
    hints = []
    for span, facts in own.items():
        if any(other != span and _inside(span, other) for other in ends[span.end_line]):
            continue
        label = _hint_label(list(facts), isinstance(facts[0].stmt, S.Assertion))
        if label is not None:
            hints.append(types.InlayHint(positions.end(span), label, kind=types.InlayHintKind.Type,
                                         padding_left=True))
    return sorted(hints, key=lambda h: (h.position.line, h.position.character))


def _inside(inner: Span, outer: Span) -> bool:
    return ((outer.line, outer.column) <= (inner.line, inner.column)
            and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column))


# ---- hover -------------------------------------------------------------------------------

def signature(spec: LayerSpec) -> str:
    """`conv(out, kernel, stride=1, ...)` as the layer table declares it."""
    return f"{spec.name}({', '.join(layer_param_text(p.name, p.default) for p in spec.params)})"


def layer_param_text(name: str, default: object) -> str:
    if default is REQUIRED:
        return name
    if default is None:  # a window's stride: the kernel's size unless given
        return f"{name}=kernel"
    return f"{name}={show(default)}"  # type: ignore[arg-type]


def param_text(param: S.Param) -> str:
    """`out`, or `stride=2` as the default was written."""
    return param.name if param.default is None else f"{param.name}={source_text(param.default.span)}"


def block_signature(block: S.Block) -> str:
    return f"{block.name}({', '.join(param_text(p) for p in block.params)})"


def source_text(span: Span) -> str:
    lines = span.file.text.split("\n")[span.line - 1:span.end_line]
    if len(lines) == 1:
        return lines[0][span.column - 1:span.end_column - 1]
    return "\n".join([lines[0][span.column - 1:], *lines[1:-1], lines[-1][:span.end_column - 1]])


def _shapes(fact: Fact) -> str:
    return f"`{format_shape(fact.in_shape)}` -> `{format_shape(fact.out_shape)}`"


def _expansions(facts: list[Fact], formulas: bool) -> list[str]:
    lines: list[str] = []
    distinct = _distinct(facts)
    for fact in distinct[:MAX_HOVERED]:
        counts = [_count(fact.params, "parameter"), _count(fact.macs, "MAC")]
        lines.append(f"{_shapes(fact)} · {' · '.join(counts)}")
        derivation = [d for leaf in fact.leaves[-1:] for d in leaf.derivation] if formulas else []
        if derivation:
            lines.append("```\n" + "\n".join(derivation) + "\n```")
    if len(distinct) > MAX_HOVERED:
        lines.append(f"and {len(distinct) - MAX_HOVERED} more expansions")
    if len(facts) > 1:
        lines.append(f"expanded {_count(len(facts), 'time')}")
    return lines


def _calls_of(analysis: Analysis, block: str) -> list[Fact]:
    return [fact for facts in analysis.facts.values() for fact in facts
            if isinstance(fact.stmt, BlockCall) and fact.stmt.block == block]


def hover(analysis: Analysis, line: int, column: int) -> tuple[str, Span] | None:
    """Markdown about what stands at the position, and the span it is about."""
    if analysis.module is None:
        return None
    found = find(analysis.module, line, column)
    if found is None:
        return None
    text = _hover_text(analysis, found)
    return (text, found.span) if text else None


def _hover_text(analysis: Analysis, found: Found) -> str | None:
    element = found.element
    if isinstance(element, S.Call):
        facts = list(analysis.facts.get(element.span, ()))
        spec = lookup(element.name)
        if spec is not None:
            head = f"```cnndsl\n{signature(spec)}\n```\nlayer `{spec.name}`, PyTorch `{spec.module}`"
            return "\n\n".join([head, *_expansions(facts, True)])
        block = analysis.program.blocks.get(element.name) if analysis.program else None
        if block is not None:
            head = f"```cnndsl\nblock {block_signature(block)}\n```\ndefined in {block.span.file.name}:{block.span.line}"
            return "\n\n".join([head, *_expansions(facts, False)])
        return None
    if isinstance(element, S.Block):
        calls = _calls_of(analysis, element.name)
        head = f"```cnndsl\nblock {block_signature(element)}\n```"
        return "\n\n".join([head, *(_expansions(calls, False) if calls else ["not called by any network here"])])
    if isinstance(element, S.Network):
        return _network_text(analysis, element)
    if isinstance(element, (S.Residual, S.Branches)):
        name = "residual" if isinstance(element, S.Residual) else element.op
        return "\n\n".join([f"`{name}`", *_expansions(list(analysis.facts.get(element.span, ())), False)])
    if isinstance(element, S.Labeled):
        facts = list(analysis.facts.get(_unlabelled(element).span, ()))
        return "\n\n".join([f"label `{element.label}`", *_expansions(facts, False)])
    if isinstance(element, S.Use):
        base = element.span.file.path.parent if element.span.file.path else Path.cwd()
        return f"`use` of `{(base / element.path).resolve()}`"
    if isinstance(element, S.Param):
        owner = found.definition
        kind = "block" if isinstance(owner, S.Block) else "network"
        default = f" = {source_text(element.default.span)}" if element.default is not None else " (no default)"
        return f"parameter `{element.name}`{default} of {kind} `{owner.name if owner else '?'}`"
    if isinstance(element, S.Name):
        param = _parameter(found.definition, element.id)
        if param is not None:
            default = f", default `{source_text(param.default.span)}`" if param.default is not None else ""
            return f"parameter `{param.name}`{default}"
        if element.id == "channels":
            return "`channels`: the channel count (or vector length) of this statement's input"
    return None


def _network_text(analysis: Analysis, network: S.Network) -> str:
    head = f"```cnndsl\nnetwork {network.name}\n```"
    top = [analysis.facts.get(_unlabelled(stmt).span, ()) for stmt in network.body
           if not isinstance(stmt, (S.Input, S.TrainSection))]
    facts = [f[0] for f in top if f]
    if not facts or any(f.out_shape is None for f in facts) or len(facts) != len(top):
        return head
    first, last = facts[0], facts[-1]
    return (f"{head}\n\n`{format_shape(first.in_shape)}` -> `{format_shape(last.out_shape)}` · "
            f"{_count(sum(f.params for f in facts), 'parameter')} · {_count(sum(f.macs for f in facts), 'MAC')}")


def _unlabelled(stmt: S.Stmt) -> S.Stmt:
    """A label's statement: expansion sees it, not the label."""
    return _unlabelled(stmt.stmt) if isinstance(stmt, S.Labeled) else stmt


def _parameter(definition: S.Block | S.Network | None, name: str) -> S.Param | None:
    return next((p for p in definition.params if p.name == name), None) if definition else None


# ---- definitions -------------------------------------------------------------------------

def definition(analysis: Analysis, line: int, column: int) -> Span | Path | None:
    """Where the name at the position is defined: a block's name, a parameter, or the file a
    `use` names."""
    if analysis.module is None:
        return None
    found = find(analysis.module, line, column)
    if found is None:
        return None
    element = found.element
    if isinstance(element, S.Call) and analysis.program is not None and lookup(element.name) is None:
        block = analysis.program.blocks.get(element.name)
        return block.name_span if block is not None else None
    if isinstance(element, S.Use):
        base = element.span.file.path.parent if element.span.file.path else Path.cwd()
        target = (base / element.path).resolve()
        return target if target.is_file() else None
    if isinstance(element, S.Name):
        param = _parameter(found.definition, element.id)
        return param.span if param is not None else None
    return None


# ---- symbols -----------------------------------------------------------------------------

def _shape_detail(analysis: Analysis, span: Span) -> str:
    shapes: list[Shape] = [f.out_shape for f in analysis.facts.get(span, ()) if f.out_shape is not None]
    return " | ".join(dict.fromkeys(format_shape(s) for s in shapes))


def symbols(analysis: Analysis, positions: Positions) -> list[types.DocumentSymbol]:
    """Networks and blocks, each with its labelled statements inside."""
    if analysis.module is None:
        return []
    out = []
    for item in definitions(analysis.module):
        labels = [types.DocumentSymbol(stmt.label, types.SymbolKind.Field, positions.range(stmt.span),
                                       positions.range(stmt.label_span),
                                       detail=_shape_detail(analysis, _unlabelled(stmt).span) or None)
                  for stmt in S.walk(item.body) if isinstance(stmt, S.Labeled)]
        if isinstance(item, S.Network):
            kind, detail = types.SymbolKind.Class, "network"
        else:
            kind, detail = types.SymbolKind.Function, f"block {block_signature(item)}"
        out.append(types.DocumentSymbol(item.name, kind, positions.range(item.span), positions.range(item.name_span),
                                        detail=detail, children=labels))
    return sorted(out, key=lambda s: (s.range.start.line, s.range.start.character))


def location(target: Span | Path, positions: Positions) -> types.Location | None:
    if isinstance(target, Path):
        return types.Location(target.as_uri(), types.Range(types.Position(0, 0), types.Position(0, 0)))
    return positions.location(target)


# ---- code actions ------------------------------------------------------------------------

def code_actions(analysis: Analysis, positions: Positions, first_line: int, last_line: int,
                 only: Sequence[str] | None) -> list[types.CodeAction]:
    """A quick fix for each fix of each diagnostic on the lines asked about (the safe ones
    preferred), and a `source.fixAll` action that applies every safe fix of the file, as
    `cnndsl check --fix` would (in one round)."""
    actions = []

    kinds = None if only is None else [str(getattr(k, "value", k)) for k in only]  # enum members or plain strings

    def wanted(kind: str) -> bool:
        return kinds is None or any(kind == k or kind.startswith(f"{k}.") for k in kinds)

    if wanted(types.CodeActionKind.QuickFix.value):
        for d in analysis.diagnostics:
            if d.span is None or d.span.file is not analysis.file or not (
                    first_line <= d.span.line <= last_line or first_line <= d.span.end_line <= last_line):
                continue
            shown = diagnostic(d, analysis.file, analysis.module, positions)
            for fix in d.fixes:
                changes: dict[str, list[types.TextEdit]] = {}
                for edit in fix.edits:
                    location = positions.location(edit.span)
                    if location is not None:
                        changes.setdefault(location.uri, []).append(types.TextEdit(location.range, edit.text))
                actions.append(types.CodeAction(
                    fix.message + ("" if fix.applicability is Applicability.SAFE else " (unsafe)"),
                    kind=types.CodeActionKind.QuickFix, diagnostics=[shown],
                    is_preferred=fix.applicability is Applicability.SAFE, edit=types.WorkspaceEdit(changes=changes)))
    uri = positions.location(Span.point(analysis.file, 1, 1))
    if wanted(FIX_ALL) and uri is not None:
        text, count = apply(analysis.file.text, applicable(analysis.diagnostics, analysis.file, unsafe=False))
        if count:
            lines = analysis.file.text.split("\n")
            whole = types.Range(types.Position(0, 0), positions.position(analysis.file, len(lines), len(lines[-1]) + 1))
            actions.append(types.CodeAction(f"fix {count} problem{'s' if count != 1 else ''} (cnndsl check --fix)",
                                            kind=FIX_ALL, edit=types.WorkspaceEdit(
                                                changes={uri.uri: [types.TextEdit(whole, text)]})))
    return actions


FIX_ALL = f"{types.CodeActionKind.SourceFixAll.value}.cnndsl"
