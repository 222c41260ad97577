"""Expand: program -> IR. Binds parameters, unrolls blocks and repeats, evaluates every
argument, and infers every shape on the way, because `channels` makes an argument depend
on the shape that reaches it.

Shape rules live in `layers.py`; this pass applies them in order, checks `-> SHAPE`
assertions, and joins residual and branch shapes. After an error the running shape is
unknown until the next assertion, which re-synchronises it, so one mistake is reported
once and later ones are still found.
"""

from __future__ import annotations

import math
from collections import ChainMap
from typing import Callable, Mapping, Sequence, cast

from .. import codes, ir, limits, syntax as S
from ..diagnostics import Applicability, Diagnostic, Diagnostics, Label, error, rename, replace, suggest
from ..evaluate import UNKNOWN, Env, EvalError, Unknown, ValueOrUnknown, coerce, evaluate, show
from ..ir import Shape, Value, format_shape
from ..layers import infer
from ..program import BlockCall, LayerCall, Program, Unresolved
from ..source import Span
from ..settings_schema import SETTING_NAMES, Problem, check_setting


class _TooLarge(Exception):
    pass


# Called after every statement is expanded (once per expansion: a statement in a block called
# twice is seen twice) with the statement, the shapes in and out (None where unknown) and the IR
# nodes it produced. The language server reads shapes, parameters and MACs from it.
Observer = Callable[[object, "Shape | None", "Shape | None", "list[ir.Node]"], None]


class _Scope(ChainMap[str, ValueOrUnknown]):
    """The names a statement's expressions may read: the few that describe its input, in
    front of the parameters in scope, which are shared, not copied (a network may have
    thousands of parameters and statements). `vector` is the input when it is a vector, where
    `height` and `width` have no value."""

    def __init__(self, local: dict[str, ValueOrUnknown], names: Mapping[str, ValueOrUnknown],
                 vector: Shape | None) -> None:
        super().__init__(local, cast("dict[str, ValueOrUnknown]", names))  # only read through the chain
        self.vector = vector


def _names_in(expr: S.Expr) -> list[S.Name]:
    """The names an expression reads, left to right."""
    if isinstance(expr, S.Name):
        return [expr]
    if isinstance(expr, S.Unary):
        return _names_in(expr.operand)
    if isinstance(expr, S.Binary):
        return _names_in(expr.left) + _names_in(expr.right)
    if isinstance(expr, S.TupleExpr):
        return [name for item in expr.items for name in _names_in(item)]
    return []


class _Names:
    """Unique module names within one container: labels as written, else kind + counter."""

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.counters: dict[str, int] = {}
        self.suffixes: dict[str, int] = {}  # the last `_N` given to each label: a label repeated
        # 100,000 times (`b: relu` inside repeats) must not search from `_2` every time

    def take(self, label: str | None, kind: str) -> str:
        if label is not None:
            name, n = label, self.suffixes.get(label, 1)
            if n > 1:
                name = f"{label}_{n}"
            while name in self.used:
                n += 1
                name = f"{label}_{n}"
            self.suffixes[label] = n
        else:
            while True:
                self.counters[kind] = self.counters.get(kind, 0) + 1
                name = f"{kind}{self.counters[kind]}"
                if name not in self.used:
                    break
        self.used.add(name)
        return name


def _elements(shape: Shape) -> int:
    return math.prod(shape)


class Budget:
    """The statements one check may expand, shared by every network of the file: each network
    is bounded by limits.MAX_EXPANDED_STATEMENTS, and so are all of them together, or a file of
    a thousand one-line networks would cost a thousand times the largest one."""

    def __init__(self) -> None:
        self.used = 0


class _Expander:
    def __init__(self, program: Program, diags: Diagnostics, observe: Observer | None, budget: Budget) -> None:
        self.program = program
        self.diags = diags
        self.observe = observe
        self.budget = budget
        self.emitted = 0
        self.call_depth = 0
        self.depth = 0  # statements being expanded, one inside the other
        self.previous: Span | None = None  # the last statement that produced a shape
        self.parameters = 0

    # ---- values --------------------------------------------------------------------------
    def value(self, expr: S.Expr, env: Env) -> ValueOrUnknown:
        """Evaluate, reporting errors; UNKNOWN when it cannot be known."""
        try:
            return evaluate(expr, env)
        except EvalError as exc:
            self.diags.add(exc.diagnostic)
        except Unknown as exc:
            if isinstance(env, _Scope) and env.vector is not None:
                self.spatial_name_on_vector(expr, str(exc), env.vector)
        return UNKNOWN

    def spatial_name_on_vector(self, expr: S.Expr, name: str, vector: Shape) -> None:
        """E0039 where `height` or `width` is read on a vector (found at its first use)."""
        use = next((n for n in _names_in(expr) if n.id == name), None)
        if use is None or name not in ("height", "width"):
            return
        self.diags.add(error(codes.E0039, f"`{name}` has no value here: the input of this statement is the vector "
                                      f"{format_shape(vector)}", use.span, "read on a vector",
                             help=f"use `{name}` before the `flatten`, or `channels` for the vector's length"))

    def train_settings(self, net: S.Network, env: Env) -> dict[str, Value]:
        """The `train { }` section's values, each checked as the trainer will check it, so a
        misspelt setting or an impossible value is found by `check`, at its line."""
        train: dict[str, Value] = {}
        seen: dict[str, Span] = {}
        for stmt in net.body:
            if not isinstance(stmt, S.TrainSection):
                continue
            for setting in stmt.settings:
                if setting.name in seen:
                    self.diags.add(error(codes.E0037, f"training setting `{setting.name}` is set twice", setting.span,
                                         "set again here", secondary=(Label(seen[setting.name], "first set here"),),
                                         help="keep one of them"))
                    continue
                seen[setting.name] = setting.span
                value = self.value(setting.value, env)
                if value is UNKNOWN:
                    continue
                checked = check_setting(setting.name, value)
                if isinstance(checked, Problem):
                    known = setting.name in SETTING_NAMES
                    name = Span(setting.span.file, setting.span.line, setting.span.column, setting.span.line,
                                setting.span.column + len(setting.name))
                    self.diags.add(error(codes.E0037, checked.message, setting.value.span if known else setting.span,
                                         f"this is {show(value)}" if known else "not a training setting",
                                         help=checked.help, fixes=() if known else rename(name, setting.name,
                                                                                          SETTING_NAMES)[1]))
                else:
                    train[setting.name] = checked
        return train

    def with_channels(self, env: Env, shape: Shape | None) -> _Scope:
        """`env` with the names that read the shape reaching a statement: `channels`, and
        `height` and `width` unless a parameter of that name shadows them (on a vector they
        have no value, and reading them is an error)."""
        local: dict[str, ValueOrUnknown] = {"channels": shape[0] if shape else UNKNOWN}
        for axis, name in enumerate(("height", "width"), start=1):
            if name not in env:
                local[name] = shape[axis] if shape is not None and len(shape) == 3 else UNKNOWN
        return _Scope(local, env, vector=shape if shape is not None and len(shape) == 1 else None)

    def count(self, expr: S.Expr, env: Env) -> int | None:
        value = self.value(expr, env)
        if value is UNKNOWN:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.diags.add(error(codes.E0030, f"a repeat count must be an integer, found {show(value)}", expr.span))
            return None
        if value < 0:
            self.diags.add(error(codes.E0033, f"repeat count is {value}; it must be at least 0", expr.span,
                                 f"evaluates to {value}",
                                 help="a count of 0 leaves the statement out; a count cannot be negative"))
            return None
        if value > limits.MAX_EXPANDED_STATEMENTS:
            self.too_large(expr.span)
        return value

    def too_large(self, span: Span, together: bool = False) -> None:
        what = "the networks of this file expand together" if together else "the network expands"
        self.diags.add(error(codes.E0034, f"{what} to more than {limits.MAX_EXPANDED_STATEMENTS:,} statements",
                             span, "expanded here",
                             help="put the networks in files of their own, and check the repeat counts"
                             if together else
                             "check the repeat counts and block calls"))
        raise _TooLarge()

    def tick(self, span: Span) -> None:
        self.emitted += 1
        self.budget.used += 1
        if self.emitted > limits.MAX_EXPANDED_STATEMENTS:
            self.too_large(span)
        if self.budget.used > limits.MAX_EXPANDED_STATEMENTS:
            self.too_large(span, together=True)

    def shape(self, shape: S.Shape, env: Env) -> Shape | None:
        dims = []
        for dim in shape.dims:
            value = self.value(dim, env)
            if value is UNKNOWN:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                self.diags.add(error(codes.E0028, f"a shape dimension must be a positive integer, found {show(value)}",
                                     dim.span))
                return None
            dims.append(value)
        return tuple(dims)

    # ---- statements ----------------------------------------------------------------------
    def seq(self, stmts: Sequence, env: Env, shape: Shape | None,
            names: _Names) -> tuple[list[ir.Node], Shape | None]:
        nodes: list[ir.Node] = []
        for stmt in stmts:
            produced, shape = self.stmt(stmt, env, shape, names, None)
            nodes.extend(produced)
        return nodes, shape

    def stmt(self, stmt, env: Env, shape: Shape | None, names: _Names,
             label: str | None) -> tuple[list[ir.Node], Shape | None]:
        """One statement; the parser bounds how deeply statements nest in a file, and this
        bounds it through block calls, so that no pass recurses deeper than the limit."""
        if self.depth >= limits.MAX_STATEMENT_DEPTH:
            self.diags.add(error(codes.E0035, f"statements nest deeper than {limits.MAX_STATEMENT_DEPTH} levels "
                                          "through block calls", stmt.span, "too deep",
                                 help="flatten the blocks: call them one after another rather than inside each other"))
            raise _TooLarge()
        self.depth += 1
        try:
            nodes, out = self.statement(stmt, env, shape, names, label)
        finally:
            self.depth -= 1
        if self.observe is not None:
            self.observe(stmt, shape, out, nodes)
        return nodes, out

    def statement(self, stmt, env: Env, shape: Shape | None, names: _Names,
                  label: str | None) -> tuple[list[ir.Node], Shape | None]:
        if isinstance(stmt, LayerCall):
            return self.layer(stmt, env, shape, names)
        if isinstance(stmt, BlockCall):
            return self.block(stmt, env, shape, names)
        if isinstance(stmt, S.Labeled):
            return self.stmt(stmt.stmt, env, shape, names, stmt.label)
        if isinstance(stmt, S.Repeat):
            times = self.count(stmt.count, self.with_channels(env, shape))
            if times is None:
                return [], None
            nodes: list[ir.Node] = []
            for _ in range(times):
                self.tick(stmt.span)
                for inner in stmt.body:
                    produced, shape = self.stmt(inner, env, shape, names, label)
                    nodes.extend(produced)
            return nodes, shape
        if isinstance(stmt, S.Assertion):
            nodes, inferred = self.stmt(stmt.stmt, env, shape, names, label)
            return nodes, self.assertion(stmt, nodes, inferred, env, shape)
        if isinstance(stmt, S.Residual):
            return self.residual(stmt, env, shape, names, label)
        if isinstance(stmt, S.Branches):
            return self.branches(stmt, env, shape, names, label)
        if isinstance(stmt, S.TrainSection):
            return [], shape
        if isinstance(stmt, Unresolved):
            return [], None
        raise AssertionError(f"unhandled statement {stmt!r}")

    def layer(self, call: LayerCall, env: Env, shape: Shape | None,
              names: _Names) -> tuple[list[ir.Node], Shape | None]:
        self.tick(call.span)
        scope = self.with_channels(env, shape)
        args: dict[str, Value] = {}
        ok = True
        for param in call.spec.params:
            if param.name in call.args:
                expr = call.args[param.name]
                raw = self.value(expr, scope)
                if raw is UNKNOWN:
                    ok = False
                    continue
                try:
                    args[param.name] = coerce(param, raw)
                except ValueError as exc:
                    self.diags.add(error(codes.E0030 if "expected" in str(exc) else codes.E0036,
                                         f"`{param.name}` of `{call.spec.name}` {exc}", expr.span,
                                         f"this is {show(raw)}"))
                    ok = False
            else:
                # resolve rejected a call that omits a required argument, so this is a default
                args[param.name] = coerce(param, cast(Value, param.default))
        if not ok or shape is None:
            return [], None
        out, ctx = infer(call.spec, args, shape, call.span, call.arg_spans, self.previous)
        self.previous = call.span
        self.diags.extend(ctx.diagnostics)
        if out is None:
            return [], None
        if _elements(out) > limits.MAX_ACTIVATION_ELEMENTS:
            self.diags.add(error(codes.E0110, f"the output {format_shape(out)} has {_elements(out):,} elements per "
                                          f"sample; the limit is 2^31", call.span, "too large",
                                 help="use a smaller input or fewer channels"))
            return [], None
        self.parameters += call.spec.count_params(args, shape, out)
        if self.parameters > limits.MAX_PARAMETERS:
            self.diags.add(error(codes.E0111, f"the network has more than 2^34 parameters ({self.parameters:,} by "
                                          "this layer)", call.span, "the limit is crossed here",
                                 help="use fewer channels or features"))
            raise _TooLarge()
        node = ir.Layer(call.spec.name, args, names.take(call.label, call.spec.name), call.span, shape, out,
                        tuple(ctx.derivation), call.arg_spans, call.label)
        return [node], out

    def block(self, call: BlockCall, env: Env, shape: Shape | None,
              names: _Names) -> tuple[list[ir.Node], Shape | None]:
        if call.block in self.program.recursive:
            return [], None
        block = self.program.blocks[call.block]
        scope = self.with_channels(env, shape)
        inner: dict[str, ValueOrUnknown] = {}
        for param in block.params:
            # resolve rejected a call that omits a parameter without a default
            expr = cast(S.Expr, call.args.get(param.name, param.default))
            inner[param.name] = self.value(expr, scope if param.name in call.args
                                           else self.with_channels(inner, shape))
        if self.call_depth >= limits.MAX_CALL_DEPTH:
            self.diags.add(error(codes.E0035, f"block calls nest deeper than {limits.MAX_CALL_DEPTH}", call.span))
            return [], None
        self.call_depth += 1
        try:
            body, out = self.seq(block.body, inner, shape, _Names())
        finally:
            self.call_depth -= 1
        if shape is None or out is None:
            return [], out
        name = names.take(call.label, block.name.lower())
        return [ir.Group(block.name, name, tuple(body), call.span, shape, out, call.label)], out

    def assertion(self, stmt: S.Assertion, nodes: list[ir.Node], inferred: Shape | None, env: Env,
                  before: Shape | None) -> Shape | None:
        asserted = self.shape(stmt.shape, self.with_channels(env, before))
        if asserted is None or inferred is None:
            return asserted if inferred is None else inferred  # an assertion re-synchronises
        if asserted != inferred:
            last = ir.leaves(tuple(nodes))[-1:] if nodes else []
            derivation = tuple(last[0].derivation) if last else ()
            notes = ((", ".join(derivation),) if derivation else ()) + _version_one_reading(stmt.shape)
            # Writing the inferred shape is safe where the assertion names one shape: written with
            # numbers only, outside blocks (a block's statement sees other shapes in other calls).
            literal = all(isinstance(d, S.Literal) for d in stmt.shape.dims) and self.call_depth == 0
            fixes = (replace(stmt.shape.span, format_shape(inferred), f"assert `{format_shape(inferred)}`",
                             Applicability.SAFE if literal else Applicability.UNSAFE),) \
                if len(inferred) == len(asserted) else ()
            self.diags.add(error(
                codes.E0101, f"shape assertion does not hold: inferred {format_shape(inferred)}, "
                         f"asserted {format_shape(asserted)}",
                stmt.shape.span, "asserted here", notes=notes,
                secondary=(Label(last[0].span, f"produces {format_shape(inferred)}"),) if last else (),
                help=f"write `-> {format_shape(inferred)}`, or change the layer"
                     if len(inferred) == len(asserted) else
                     ("insert `flatten` before this point" if len(asserted) == 1 else None), fixes=fixes))
        return inferred

    def residual(self, stmt: S.Residual, env: Env, shape: Shape | None, names: _Names,
                 label: str | None) -> tuple[list[ir.Node], Shape | None]:
        inner = _Names()
        body, out = self.seq(stmt.body, env, shape, inner)
        shortcut, short = (None, shape) if stmt.shortcut is None else self.seq(stmt.shortcut, env, shape, inner)
        if shape is None or out is None or short is None:
            return [], None
        if out != short:
            what = "the input" if stmt.shortcut is None else "the shortcut"
            labels = [Label(n.span, f"gives {format_shape(n.out_shape)}") for n in (body[-1:] + (shortcut or [])[-1:])]
            self.diags.add(error(
                codes.E0107, f"residual operands differ: the body gives {format_shape(out)}, {what} "
                         f"{format_shape(short)}", stmt.keyword_span, "cannot add these", secondary=tuple(labels),
                help=("add `shortcut { conv(%d, 1, stride=%s) batchnorm }` to project the input"
                      % (out[0], _stride_hint(shape, out))) if stmt.shortcut is None and len(out) == 3 == len(shape)
                else "make both sides produce the same shape"))
            return [], None
        node = ir.Residual(tuple(body), None if shortcut is None else tuple(shortcut),
                           names.take(label, "residual"), stmt.span, shape, out, label)
        return [node], out

    def branches(self, stmt: S.Branches, env: Env, shape: Shape | None, names: _Names,
                 label: str | None) -> tuple[list[ir.Node], Shape | None]:
        inner = _Names()
        each = self.split_input(stmt, shape) if stmt.op == "split" else shape
        results = [self.seq(branch, env, each, inner) for branch in stmt.branches]
        if shape is None or each is None or not results or any(out is None for _, out in results):
            return [], None
        shapes = [out for _, out in results if out is not None]  # all of them, checked above
        labels = tuple(Label(body[-1].span, f"gives {format_shape(out)}") for body, out in results if body)
        out = (_broadcast(shapes) if stmt.op in ("add", "mul") else _joined(shapes))
        if out is None:
            self.diags.add(_mismatch(stmt.op, shapes, stmt.keyword_span, labels))
            return [], None
        node = ir.Branches(stmt.op, tuple(tuple(body) for body, _ in results), names.take(label, stmt.op),
                           stmt.span, shape, out, label)
        return [node], out

    def split_input(self, stmt: S.Branches, shape: Shape | None) -> Shape | None:
        """The chunk of the input that each branch of a `split` gets; None (reported) when the
        channels do not divide into the branches."""
        if shape is None or not stmt.branches:
            return None
        count = len(stmt.branches)
        if shape[0] % count:
            what = "channels" if len(shape) == 3 else "features"
            self.diags.add(error(codes.E0114, f"`split` cannot cut {shape[0]} {what} into {count} equal parts",
                                 stmt.keyword_span, f"{count} branches",
                                 notes=(f"{shape[0]} / {count} = {shape[0] / count:g}",),
                                 help=f"give it a number of branches that divides {shape[0]}, or make the "
                                      f"{what} a multiple of {count}"))
            return None
        return (shape[0] // count,) + shape[1:]

    # ---- networks ------------------------------------------------------------------------
    def network(self, net: S.Network, overrides: Mapping[str, Value]) -> ir.Network | None:
        declared = [p.name for p in net.params]
        for name in overrides:
            if name not in declared:
                self.diags.add(error(codes.E0025, f"network `{net.name}` has no parameter `{name}`", net.name_span,
                                     "given a value it does not declare",
                                     help=suggest(name, declared) or
                                     (f"its parameters are {', '.join(declared)}" if declared
                                      else "it takes no parameters")))
        env: dict[str, ValueOrUnknown] = {}
        for param in net.params:
            if param.name in overrides:
                env[param.name] = overrides[param.name]
            elif param.default is None:
                self.diags.add(error(codes.E0014, f"network parameter `{param.name}` has no value", param.span,
                                     "no default", help=f"give it with `--set {param.name}=VALUE`"))
                env[param.name] = UNKNOWN
            else:
                env[param.name] = self.value(param.default, env)
        if not net.body or not isinstance(net.body[0], S.Input):
            return None
        input_shape = self.shape(net.body[0].shape, env)
        if input_shape is not None and len(input_shape) not in (1, 3):
            self.diags.add(error(codes.E0028, f"input must be CxHxW or a vector, found {format_shape(input_shape)}",
                                 net.body[0].shape.span, help="write the input like 1x28x28"))
            input_shape = None
        if input_shape is not None and _elements(input_shape) > limits.MAX_ACTIVATION_ELEMENTS:
            self.diags.add(error(codes.E0110, f"the input {format_shape(input_shape)} has more than 2^31 elements",
                                 net.body[0].shape.span, "too large"))
            input_shape = None
        try:
            body, out = self.seq(net.body[1:], env, input_shape, _Names())
        except _TooLarge:
            return None
        train = self.train_settings(net, env)
        if input_shape is None or out is None or self.diags.has_errors:
            return None
        params = cast("dict[str, Value]", {k: v for k, v in env.items()})  # no errors, so none is UNKNOWN
        return ir.Network(net.name, params, input_shape, out, tuple(body), net.span, train, self.program.files)


def expand(program: Program, network: str, overrides: Mapping[str, Value], diags: Diagnostics,
           observe: Observer | None = None, budget: Budget | None = None) -> ir.Network | None:
    """Expand one network of the program; None when it has errors (they are in `diags`).
    `observe` sees every statement as it is expanded, errors or not; `budget` is shared by the
    networks of one check."""
    return _Expander(program, diags, observe, budget or Budget()).network(program.networks[network], overrides)


def _version_one_reading(shape: S.Shape) -> tuple[str, ...]:
    """A note for `-> a * n`, which version 1 of the language read as the assertion `-> a`
    repeated n times: now the whole product is the shape."""
    dim = shape.dims[0] if len(shape.dims) == 1 else None
    if not isinstance(dim, S.Binary) or dim.op != "*" or dim.span.line != dim.span.end_line:
        return ()
    first: S.Expr = dim
    while isinstance(first, S.Binary) and first.op == "*":
        first = first.left
    if (first.span.line, first.span.column) != (dim.span.line, dim.span.column):
        return ()  # the product starts with a bracket: version 1 could not have read it so
    line = dim.span.file.line(dim.span.line)
    size = line[first.span.column - 1:first.span.end_column - 1]
    counts = line[first.span.end_column - 1:dim.span.end_column - 1].strip()
    return (f"after `->` the rest of the statement is the shape, so all of `{size} {counts}` is the size "
            f"(language version 1 read it as `-> {size}`, repeated); to repeat the statement, put the count "
            f"first: `{counts} -> {size}`",)


def _broadcast(shapes: list[Shape]) -> Shape | None:
    """The output of `add` or `mul`: every operand has the same channels, and its H x W is either
    the common size or 1x1 (broadcast over it); None when they do not fit."""
    if len(set(shapes)) == 1:
        return shapes[0]
    if any(len(s) != 3 for s in shapes) or len({s[0] for s in shapes}) > 1:
        return None
    sizes = {s[1:] for s in shapes} - {(1, 1)}
    return None if len(sizes) > 1 else shapes[0][:1] + sizes.pop()


def _joined(shapes: list[Shape]) -> Shape | None:
    """The output of `concat` or `split`: the channels summed, H and W shared; None when not."""
    if len({len(s) for s in shapes}) > 1 or len({s[1:] for s in shapes}) > 1:
        return None
    return (sum(s[0] for s in shapes),) + shapes[0][1:]


def _mismatch(op: str, shapes: list[Shape], span: Span, labels: tuple[Label, ...]) -> Diagnostic:
    listing = ", ".join(format_shape(s) for s in shapes)
    if op in ("concat", "split"):
        return error(codes.E0108, f"`{op}` branches differ in size: {listing}", span,
                     "cannot join these on the channel axis", secondary=labels,
                     help="give every branch the same H and W (padding, or the same stride)")
    verb = "add" if op == "add" else "multiply"
    return error(codes.E0109 if op == "add" else codes.E0113, f"`{op}` branches differ in shape: {listing}", span,
                 f"cannot {verb} these", secondary=labels,
                 help="make every branch give the same channels, and either the same H x W or 1x1 "
                      "(a Cx1x1 operand applies at every position)")


def _stride_hint(before: Shape, after: Shape) -> str:
    return str(max(1, before[1] // after[1])) if after[1] else "1"
