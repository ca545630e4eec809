"""The shape of the code, read from its source: no import cycles, no private names across modules, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("workbench", "widgets")
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if _is_package(module) else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(name: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in the module, at any depth."""
    tree = ast.parse(MODULES[name].read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(name, node)
            out.append((source, [alias.name for alias in node.names], node.lineno))
    return out


def _edges(name: str) -> set[str]:
    """The project modules ``name`` imports (``from pkg import submodule`` counts as the submodule)."""
    edges = set()
    for source, names, _ in _imports(name):
        if source not in MODULES:
            continue
        subs = [f"{source}.{n}" for n in names if f"{source}.{n}" in MODULES]
        edges |= set(subs)
        if len(subs) < len(names) or not names:
            edges.add(source)
    edges.discard(name)
    return edges


def test_there_is_no_import_cycle():
    graph = {name: _edges(name) for name in MODULES}
    # A package's __init__ re-exports its submodules: that is the one direction allowed between them.
    for name in graph:
        if _is_package(name):
            graph[name] = {e for e in graph[name] if not e.startswith(name + ".")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_private_name_is_imported_across_modules():
    bad = []
    for name in MODULES:
        for source, names, line in _imports(name):
            if source.split(".")[0] not in PACKAGES:
                continue
            bad += [f"{MODULES[name].relative_to(ROOT)}:{line}: {source}.{n}" for n in names
                    if n.startswith("_") and not n.startswith("__")]
            if any(part.startswith("_") and part != "__init__" and part != "_tvm" for part in source.split(".")):
                bad.append(f"{MODULES[name].relative_to(ROOT)}:{line}: private module {source}")
    assert not bad, "\n".join(bad)


def _defined_names(tree: ast.AST) -> set[str]:
    """Names a module defines itself: functions, classes, and attributes it assigns (``self._x = ...``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_no_private_attribute_defined_elsewhere_is_used():
    """``obj._name`` where no code of this module defines ``_name`` reaches into another module's internals
    (``self``/``cls`` may use what they inherit)."""
    bad = []
    for path in MODULES.values():
        tree = ast.parse(path.read_text())
        defined = _defined_names(tree)
        # Other libraries' own names (``os._exit``) are their API, not a reach into this project's modules.
        foreign = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for alias in node.names if alias.name.split(".")[0] not in PACKAGES}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls", *foreign):
                continue
            if node.attr not in defined:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small_and_says_what_it_is_for(name):
    text = MODULES[name].read_text()
    assert len(text.splitlines()) <= MAX_LINES, f"{name}: {len(text.splitlines())} lines (at most {MAX_LINES})"
    assert ast.get_docstring(ast.parse(text)), f"{name}: no module docstring"
