"""Resolve: syntax tree -> program. Loads `use`d files, binds every call to a layer or a
block, checks argument names and counts, names in expressions, and where `input` stands.

Everything here is decided from the text alone; values and shapes come later (expand).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import chain
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .. import codes, limits, syntax as S
from ..diagnostics import Diagnostics, Fix, Label, error, rename, suggest
from ..layers import LAYERS, REQUIRED, lookup
from ..module_names import RESERVED
from ..program import BlockCall, LayerCall, Program, Unresolved
from ..source import Span

# Read-only names whose value is the shape reaching the statement (`height`, `width`: an
# error on a vector). `channels` cannot be a parameter; the others can, and then shadow it.
SHAPE_NAMES = frozenset({"channels", "height", "width"})

Loader = Callable[[Path], tuple["S.Module | None", list]]
MAX_HINTS = 100


class _Resolver:
    def __init__(self, root: S.Module, load: Loader, diags: Diagnostics) -> None:
        self.root = root
        self.load = load
        self.diags = diags
        self.modules: list[S.Module] = []
        self.blocks: dict[str, S.Block] = {}
        self.shape_names: frozenset[str] = SHAPE_NAMES  # those of the definition being resolved
        self.hints_left = MAX_HINTS

    def rename(self, span: Span, name: str, candidates: Iterable[str]) -> tuple[str | None, tuple[Fix, ...]]:
        """`did you mean` and its fix, for the first MAX_HINTS misspellings of a program: each
        compares the name with every candidate, and both may number in the tens of thousands."""
        if self.hints_left <= 0:
            return None, ()
        self.hints_left -= 1
        return rename(span, name, candidates)

    # ---- files ---------------------------------------------------------------------------
    def collect(self, module: S.Module, stack: tuple[Path, ...]) -> None:
        self.modules.append(module)
        for use in module.uses:
            base = module.file.path.parent if module.file.path else Path.cwd()
            try:
                target = (base / use.path).resolve()
                found = target.is_file()
            except (OSError, RuntimeError, ValueError) as exc:  # a name too long, a loop of links, a NUL
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.diags.add(error(codes.E0020, f"cannot read the file `use` names: {reason}", use.span, "cannot be read",
                                     help="paths in `use` are relative to the file that says `use`"))
                continue
            if target in stack:
                chain = " -> ".join(p.name for p in stack + (target,))
                self.diags.add(error(codes.E0019, "`use` cycle", use.span, "this file is already being loaded",
                                     notes=(f"cycle: {chain}",), help="remove one of the `use` lines of the cycle"))
                continue
            if len(stack) >= limits.MAX_USE_DEPTH:
                self.diags.add(error(codes.E0019, f"`use` chain deeper than {limits.MAX_USE_DEPTH} files", use.span))
                continue
            if any(m.file.path == target for m in self.modules):
                continue
            if not found:
                self.diags.add(error(codes.E0020, f"cannot find `{use.path}`", use.span, "no such file",
                                     notes=(f"looked for `{use.path}` next to {module.file.name}",),
                                     help="paths in `use` are relative to the file that says `use`"))
                continue
            used, diagnostics = self.load(target)
            for diagnostic in diagnostics:  # one about the file as a whole points at its `use`
                self.diags.add(diagnostic if diagnostic.span else replace(diagnostic, span=use.span))
            if used is not None:
                self.collect(used, stack + (target,))

    def define_blocks(self) -> None:
        for module in self.modules:
            for block in module.blocks:
                if lookup(block.name):
                    self.diags.add(error(codes.E0017, f"block `{block.name}` has the name of a layer", block.name_span,
                                         "a layer name", help="rename the block"))
                elif block.name in self.blocks:
                    first = self.blocks[block.name]
                    self.diags.add(error(codes.E0016, f"block `{block.name}` is defined twice", block.name_span,
                                         "defined again here", secondary=(Label(first.name_span, "first defined here"),),
                                         help="rename one of them"))
                else:
                    self.blocks[block.name] = block
                self.check_params(block.params)

    def check_params(self, params: Sequence[S.Param]) -> None:
        seen: set[str] = set()
        defaulted = False
        for param in params:
            if param.name in seen:
                self.diags.add(error(codes.E0023, f"parameter `{param.name}` is declared twice", param.span))
            seen.add(param.name)
            if param.name == "channels":
                self.diags.add(error(codes.E0023, "`channels` is a read-only name and cannot be a parameter",
                                     param.span, help="choose another name"))
            if param.default is None and defaulted:
                self.diags.add(error(codes.E0023, f"parameter `{param.name}` has no default but follows one that has",
                                     param.span, help="put parameters without a default first"))
            defaulted = defaulted or param.default is not None

    # ---- bodies --------------------------------------------------------------------------
    def body(self, stmts: Sequence[S.Stmt], scope: frozenset[str], in_network: bool, top: bool) -> tuple:
        out: list[object] = []
        for index, stmt in enumerate(stmts):
            if isinstance(stmt, S.Input) and in_network and top and index == 0:
                for dim in stmt.shape.dims:
                    self.names(dim, scope - self.shape_names)
                out.append(stmt)
                continue
            if isinstance(stmt, S.TrainSection) and in_network and top:
                for setting in stmt.settings:
                    self.names(setting.value, scope - self.shape_names)
                out.append(stmt)
                continue
            resolved = self.stmt(stmt, scope, in_network, None)
            if resolved is not None:
                out.append(resolved)
        return tuple(out)

    def stmt(self, stmt: S.Stmt, scope: frozenset[str], in_network: bool, label: tuple[str, Span] | None):
        if isinstance(stmt, S.Labeled):
            if stmt.label in RESERVED:
                self.diags.add(error(codes.E0029, f"`{stmt.label}` cannot be a label: PyTorch modules have an attribute "
                                              "of that name", stmt.label_span, "reserved by PyTorch",
                                     help=f"choose another label, e.g. `{stmt.label}_`"))
            return self.stmt(stmt.stmt, scope, in_network, (stmt.label, stmt.label_span))
        if isinstance(stmt, S.Call):
            return self.call(stmt, scope, label)
        if label is not None and not isinstance(stmt, (S.Residual, S.Branches, S.Repeat)):
            self.diags.add(error(codes.E0024, "only layers, block calls, residuals and branches can be labelled",
                                 label[1], "this label", help="remove the label"))
        if isinstance(stmt, S.Repeat):
            self.names(stmt.count, scope)
            body = self.body(stmt.body, scope, in_network, False)
            return replace(stmt, body=body) if label is None else _labelled(replace(stmt, body=body), label)
        if isinstance(stmt, S.Assertion):
            for dim in stmt.shape.dims:
                self.names(dim, scope)
            inner = self.stmt(stmt.stmt, scope, in_network, label)
            return None if inner is None else replace(stmt, stmt=inner)
        if isinstance(stmt, S.Residual):
            body = self.body(stmt.body, scope, in_network, False)
            shortcut = None if stmt.shortcut is None else self.body(stmt.shortcut, scope, in_network, False)
            return _labelled(replace(stmt, body=body, shortcut=shortcut), label)
        if isinstance(stmt, S.Branches):
            branches = tuple(self.body(b, scope, in_network, False) for b in stmt.branches)
            if stmt.op not in S.BRANCH_OPS:
                hint, fixes = rename(stmt.keyword_span, stmt.op, S.BRANCH_OPS)
                self.diags.add(error(codes.E0010, f"unknown construct `{stmt.op}`", stmt.keyword_span,
                                     "not a construct that takes branches",
                                     help=hint or f"the constructs with branches are {', '.join(S.BRANCH_OPS)}",
                                     fixes=fixes))
                return Unresolved(stmt.span)
            if not stmt.branches:
                self.diags.add(error(codes.E0027, f"`{stmt.op}` needs at least one branch", stmt.keyword_span,
                                     help=f"write `{stmt.op} {{ branch {{ ... }} branch {{ ... }} }}`"))
            return _labelled(replace(stmt, branches=branches), label)
        if isinstance(stmt, S.Input):
            self.diags.add(error(codes.E0021, "`input` must be the first statement of a network", stmt.span,
                                 "misplaced `input`"))
            return None
        if isinstance(stmt, S.TrainSection):
            self.diags.add(error(codes.E0026, "a `train` section belongs directly in a network", stmt.span))
            return None
        raise AssertionError(f"unhandled statement {stmt!r}")

    def call(self, call: S.Call, scope: frozenset[str], label: tuple[str, Span] | None):
        for arg in call.args:
            self.names(arg.value, scope)
        spec = lookup(call.name)
        if spec is not None:
            bound = self.bind(call, [(p.name, p.default is not REQUIRED) for p in spec.params], f"`{spec.name}`")
            if bound is None:
                return Unresolved(call.span)
            spans = {name: expr.span for name, expr in bound.items()}
            return LayerCall(spec, bound, spans, label[0] if label else None, call.span)
        block = self.blocks.get(call.name)
        if block is not None:
            bound = self.bind(call, [(p.name, p.default is not None) for p in block.params],
                              f"block `{block.name}`")
            if bound is None:
                return Unresolved(call.span)
            return BlockCall(block.name, bound, label[0] if label else None, call.span)
        hint, fixes = self.rename(call.name_span, call.name, [*LAYERS, *self.blocks])
        self.diags.add(error(codes.E0010, f"unknown layer or block `{call.name}`", call.name_span, "not defined",
                             help=hint or "see the layer table in docs/language.md", fixes=fixes))
        return Unresolved(call.span)

    def bind(self, call: S.Call, params: list[tuple[str, bool]], what: str) -> dict[str, S.Expr] | None:
        """Bind positional then keyword arguments to parameter names, as Python does."""
        names = [name for name, _ in params]
        bound: dict[str, S.Expr] = {}
        ok = True
        positional = [a for a in call.args if a.name is None]
        for index, arg in enumerate(positional):
            if index >= len(names):
                self.diags.add(error(codes.E0013, f"{what} takes at most {len(names)} argument"
                                     f"{'s' if len(names) != 1 else ''}, found {len(positional)}", arg.span,
                                     "one too many" if index == len(positional) - 1 else "extra argument",
                                     help=f"{what} takes ({', '.join(names)})" if names else
                                     f"write {what.split('`')[1]} without arguments"))
                ok = False
                break
            bound[names[index]] = arg.value
        seen_keyword = False
        for arg in call.args:
            if arg.name is None:
                if seen_keyword:
                    self.diags.add(error(codes.E0013, "positional argument after a keyword argument", arg.span,
                                         help="put positional arguments first"))
                    ok = False
                continue
            seen_keyword = True
            if arg.name not in names:
                name_span = Span(arg.span.file, arg.span.line, arg.span.column, arg.span.line,
                                 arg.span.column + len(arg.name))
                hint, fixes = self.rename(name_span, arg.name, names)
                self.diags.add(error(codes.E0012, f"{what} has no parameter `{arg.name}`", arg.span, "unknown",
                                     help=hint or (f"its parameters are {', '.join(names)}" if names
                                                   else f"{what} takes no arguments"), fixes=fixes))
                ok = False
            elif arg.name in bound:
                self.diags.add(error(codes.E0015, f"argument `{arg.name}` is given twice", arg.span, "given again here",
                                     help=f"remove one of the two values of `{arg.name}`"))
                ok = False
            else:
                bound[arg.name] = arg.value
        missing = [name for name, has_default in params if not has_default and name not in bound]
        if missing and ok:
            self.diags.add(error(codes.E0014, f"{what} is missing {', '.join(f'`{m}`' for m in missing)}", call.span,
                                 f"needs {', '.join(missing)}", help=f"{what} takes ({', '.join(names)})"))
            ok = False
        return bound if ok else None

    def names(self, expr: S.Expr, scope: frozenset[str]) -> None:
        if isinstance(expr, S.Name):
            if expr.id not in scope:
                hint, fixes = self.rename(expr.span, expr.id, sorted(scope))
                self.diags.add(error(codes.E0011, f"unknown name `{expr.id}`", expr.span, "not defined here",
                                     help=hint or "declare it as a parameter of the network or block", fixes=fixes))
        elif isinstance(expr, S.Unary):
            self.names(expr.operand, scope)
        elif isinstance(expr, S.Binary):
            self.names(expr.left, scope)
            self.names(expr.right, scope)
        elif isinstance(expr, S.TupleExpr):
            for item in expr.items:
                self.names(item, scope)

    def definition(self, node: S.Block | S.Network, in_network: bool):
        declared = frozenset(p.name for p in node.params)
        # the builtins that read the shape reaching a statement; a parameter shadows its namesake
        self.shape_names = SHAPE_NAMES - declared
        scope = declared | self.shape_names
        for param in node.params:
            if param.default is not None:
                self.names(param.default, declared if in_network else scope)
        return replace(node, body=self.body(node.body, scope, in_network, True))

    # ---- recursion -----------------------------------------------------------------------
    def check_recursion(self, blocks: dict[str, S.Block]) -> frozenset[str]:
        """Report call cycles; returns the blocks on one, which expansion must not enter.
        A depth-first search with an explicit stack: a file may chain thousands of blocks."""
        state: dict[str, int] = {}  # 1 while on the current path, 2 when done
        cyclic: set[str] = set()
        for root in blocks:
            if root in state:
                continue
            state[root] = 1
            path = [root]
            stack = [iter(_block_calls(blocks[root].body))]
            while stack:
                call = next(stack[-1], None)
                if call is None:
                    state[path.pop()] = 2
                    stack.pop()
                elif state.get(call.block) == 1:
                    cyclic.update(path)
                    chain = " -> ".join(path + [call.block])
                    self.diags.add(error(codes.E0018, f"block `{call.block}` calls itself", call.span,
                                         "recursive call", notes=(f"call chain: {chain}",),
                                         help="blocks are expanded inline; use `repeat` for repetition"))
                elif state.get(call.block) is None:
                    state[call.block] = 1
                    path.append(call.block)
                    stack.append(iter(_block_calls(blocks[call.block].body)))
        return frozenset(cyclic)


def _labelled(stmt, label):
    return stmt if label is None else S.Labeled(label[0], label[1], stmt, stmt.span)


def _block_calls(stmts) -> list[BlockCall]:
    found = []
    for stmt in stmts:
        if isinstance(stmt, BlockCall):
            found.append(stmt)
        elif isinstance(stmt, S.Labeled):
            found.extend(_block_calls((stmt.stmt,)))
        elif isinstance(stmt, S.Repeat):
            found.extend(_block_calls(stmt.body))
        elif isinstance(stmt, S.Assertion):
            found.extend(_block_calls((stmt.stmt,)))
        elif isinstance(stmt, S.Residual):
            found.extend(_block_calls(stmt.body + (stmt.shortcut or ())))
        elif isinstance(stmt, S.Branches):
            for branch in stmt.branches:
                found.extend(_block_calls(branch))
    return found


def resolve(root: S.Module, load: Loader, diags: Diagnostics) -> Program:
    """Resolve names across `root` and the files it uses."""
    r = _Resolver(root, load, diags)
    r.collect(root, (root.file.path.resolve(),) if root.file.path else ())
    r.define_blocks()
    blocks = {name: r.definition(block, False) for name, block in r.blocks.items()}
    recursive = r.check_recursion(blocks)
    networks: dict[str, S.Network] = {}
    for network in root.networks:
        if network.name in networks:
            diags.add(error(codes.E0016, f"network `{network.name}` is defined twice", network.name_span,
                            secondary=(Label(networks[network.name].name_span, "first defined here"),)))
            continue
        r.check_params(network.params)
        if not network.body or not isinstance(network.body[0], S.Input):
            diags.add(error(codes.E0021, f"network `{network.name}` has no `input`", network.name_span,
                            "its first statement must be `input`",
                            help="start the network with its input shape, e.g. `input 1x28x28`"))
        networks[network.name] = r.definition(network, True)
    return Program(root.file, blocks, networks, tuple(m.file for m in r.modules), recursive)
