"""The package's layering, checked on the real import graph (every import statement of every
module, read with ast, including the ones inside functions).

The parts of cnndsl and the parts each may import are written down here, once. The static
core (parser, passes, IR, shape rules, diagnostics, the `train { }` schema) imports nothing
above it; the trainer is a stack of rooms, each importing only rooms below it; nothing imports
the CLI. What `import cnndsl` and the CLI load on start-up imports no torch: that happens
inside the functions that need it. Alongside: pyproject.toml installs every package folder and
declares every package imported.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from importlib.metadata import packages_distributions
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cnndsl"

# Which part a module belongs to: the longest matching prefix wins. The other modules at the
# top of the package (parser.py, ir.py, compiler.py, settings_schema.py, render.py, display.py, ...)
# and passes/ are the core.
PARTS = {
    "cnndsl": "api",  # the package itself: cnndsl.check, cnndsl.compile, cnndsl.train, cnndsl.Run
    "cnndsl.api": "api",  # cnndsl.load, compile, summary, diagram, train: the pipeline for Python callers
    "cnndsl.magic": "api",  # the IPython extension
    "cnndsl.__main__": "cli",
    "cnndsl.cli": "cli",
    "cnndsl.backends": "backends",
    "cnndsl.graph": "graph",
    "cnndsl.lsp": "lsp",  # the language server: the static passes, answered to an editor
    "cnndsl.passes": "core",
    "cnndsl.train": "train",  # the package's docstring: the map of its rooms
    "cnndsl.train.errors": "train.errors",
    "cnndsl.train.data": "train.data",
    "cnndsl.train.distributed": "train.distributed",
    "cnndsl.train.rundir": "train.rundir",
    "cnndsl.train.loop": "train.loop",
    "cnndsl.train.commands": "train.commands",
}
ROOMS = {"train.errors", "train.data", "train.distributed", "train.rundir", "train.loop"}

# The parts each part may import (besides itself). This is the layering.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "graph": {"core"},
    "backends": {"core"},
    "lsp": {"core", "api"},
    "api": {"core", "backends", "graph", "train", "train.errors", "train.commands"},
    "train": set(),
    "train.errors": {"core"},
    "train.data": {"core", "train.errors"},
    "train.distributed": {"core", "train.errors"},
    "train.rundir": {"core", "train.errors"},
    "train.loop": {"core", "train.errors", "train.data", "train.distributed"},
    "train.commands": {"core", "backends"} | ROOMS,
    "cli": {"core", "api", "backends", "graph", "lsp", "train.errors", "train.commands"},
}
HEAVY = {"torch", "torchvision", "onnx", "onnxscript", "onnxruntime", "numpy", "PIL", "safetensors"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def part_of(module: str) -> str:
    if module not in PARTS and module.count(".") == 1:
        return "core"
    prefix = max((p for p in PARTS if module == p or module.startswith(p + ".")), key=len)
    assert prefix != "cnndsl" or module == "cnndsl", f"{module}: a package PARTS does not place"
    return PARTS[prefix]


@cache
def imports(module: str) -> list[tuple[str, bool]]:
    """What `module` imports: (the imported module, whether on import rather than inside a
    function). Imports for the type checker only (`if TYPE_CHECKING:`) never run: not counted."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    lazy = {id(inner) for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for inner in ast.walk(node)}
    typing_only = {id(inner) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                   for inner in ast.walk(node)}
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) not in lazy) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:  # `from pkg import module` imports the module
                target = f"{base}.{alias.name}"
                found.append((target if target in MODULES else base, id(node) not in lazy))
    return found


@cache
def internal_edges() -> list[tuple[str, str, bool]]:
    return [(module, target, top) for module in MODULES for target, top in imports(module)
            if target == "cnndsl" or target.startswith("cnndsl.")]


def test_every_module_belongs_to_a_part_and_every_part_has_its_rules() -> None:
    assert set(PARTS.values()) | {"core"} == set(ALLOWED)
    assert all(part_of(module) in ALLOWED for module in MODULES)
    assert all(target in MODULES for _, target, _ in internal_edges()), "an import names no module of cnndsl"


def test_the_layering_itself_has_no_cycle() -> None:
    try:
        TopologicalSorter(ALLOWED).static_order()
    except CycleError as cycle:
        pytest.fail(f"the allowed imports go round in a circle: {cycle.args[1]}")


def test_every_import_goes_down_the_layers() -> None:
    upward = [f"{module} -> {target}" for module, target, _ in internal_edges()
              if part_of(target) != part_of(module) and part_of(target) not in ALLOWED[part_of(module)]]
    assert not upward, "imports that the layering does not allow:\n" + "\n".join(upward)


def test_the_static_core_never_imports_the_trainer_or_the_backends() -> None:
    core = [f"{module} -> {target}" for module, target, _ in internal_edges()
            if part_of(module) == "core" and part_of(target) != "core"]
    assert not core


def test_no_module_imports_another_that_imports_it_back() -> None:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, target, _ in internal_edges():
        if target != module:
            graph[module].add(target)
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        pytest.fail(f"an import cycle: {' -> '.join(cycle.args[1])}")


def test_what_the_static_commands_load_imports_torch_only_inside_functions() -> None:
    """Everything `import cnndsl` and the CLI load on start-up (module-level imports, followed)
    imports no heavy package; torch and Pillow are imported inside the functions that need them."""
    loaded, todo = set(), ["cnndsl", "cnndsl.cli", "cnndsl.__main__"]
    while todo:
        module = todo.pop()
        if module not in loaded:
            loaded.add(module)
            todo += [target for target, eager in imports(module) if eager and target in MODULES]
    heavy = [f"{module} -> {target}" for module in sorted(loaded) for target, eager in imports(module)
             if eager and target.partition(".")[0] in HEAVY]
    assert not heavy, "loaded on start-up, and importing heavy packages:\n" + "\n".join(heavy)
    assert {"cnndsl.settings_schema", "cnndsl.passes.expand", "cnndsl.train.errors"} <= loaded  # the check sees them


def test_every_package_is_installed() -> None:
    """pyproject.toml lists the packages; a folder left out would be missing from a wheel."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and newer
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {module_name(init) for init in PACKAGE.rglob("__init__.py")}
    assert folders <= listed, f"not in pyproject.toml's packages: {sorted(folders - listed)}"


def _distribution(requirement: str) -> str:
    """`Pillow>=13` -> `pillow`: a requirement's name, normalised as packaging does."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def test_every_package_imported_is_declared() -> None:
    """A package cnndsl imports itself is a dependency (or an extra's, for the optional
    ones), even when another dependency happens to bring it along."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_distribution(r) for r in project["dependencies"]}
    declared |= {_distribution(r) for extra in project["optional-dependencies"].values() for r in extra}
    imported = {target.partition(".")[0] for module in MODULES for target, _ in imports(module)}
    third_party = imported - set(sys.stdlib_module_names) - {"cnndsl", "__future__"}
    providers = packages_distributions()
    undeclared = sorted(name for name in third_party
                        if not {_distribution(d) for d in providers.get(name, [name])} & declared)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_import_cnndsl_loads_a_public_name_only_when_it_is_used() -> None:
    """`import cnndsl` (paid by every command's start-up) loads no module behind the public
    names until one is used; `cnndsl.train` stays the function whatever is imported after."""
    code = ("import sys, cnndsl\n"
            "lazy = ['cnndsl.api', 'cnndsl.compiler', 'cnndsl.train.commands.run', 'cnndsl.train.rundir.files']\n"
            "assert not [m for m in lazy if m in sys.modules], [m for m in lazy if m in sys.modules]\n"
            "import cnndsl.train.commands.session, cnndsl.train.errors\n"
            "assert callable(cnndsl.train) and cnndsl.train.__module__ == 'cnndsl.api', cnndsl.train\n"
            "assert cnndsl.Run.__module__ == 'cnndsl.train.commands.run' and cnndsl.check.__module__ == 'cnndsl.compiler'\n"
            "assert set(cnndsl.__all__) <= set(dir(cnndsl))\n"
            "from cnndsl.train.errors import Interrupted\n"
            "assert cnndsl.Interrupted is Interrupted and issubclass(cnndsl.TrainError, cnndsl.Error)\n"
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
