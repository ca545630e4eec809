"""Subgraphs from TVMScript, which is Python: parsed only after a check that it cannot run anything else.

TVM's parser evaluates the expressions of a script with Python, so a script that reaches ``os`` or a builtin
runs it while it is parsed. Unless told the script is ``trusted``, :func:`parse_tvmscript` first reads the
script's syntax tree and refuses anything TVMScript does not need: names other than ``T``, ``I``, a few
builtins and the script's own variables, attributes that start with ``_``, attribute chains that leave
TVMScript's own modules, imports other than TVMScript's, lambdas, comprehensions and f-strings. The parser
is then not handed the ``tvm`` module either. Logged workloads are data (decoded from TVM's JSON), never code.
"""

from __future__ import annotations

import ast
import builtins
import types
from pathlib import Path
from typing import Any

from workbench._tvm import import_tvm
from workbench.subgraphs.base import Subgraph, SubgraphError, structural_hash

_BUILTINS = frozenset({"range", "True", "False", "None", "int", "float", "bool", "min", "max", "abs", "len"})
# Builtins that run code, open files or reach objects' insides: a script may not bind (shadow) their names either.
_UNSAFE_BUILTINS = frozenset({
    "eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals", "vars",
    "dir", "input", "breakpoint", "help", "exit", "quit", "memoryview", "object", "type", "super", "classmethod",
    "staticmethod", "property", "print", "iter", "next", "callable", "isinstance", "issubclass", "hasattr", "id"})
_IMPORTS = {("tvm.script", "ir"): "I", ("tvm.script", "tir"): "T", ("tvm.script", "tirx"): "T"}
_SCRIPT_MODULES = ("tvm.script", "tvm.tirx.script")
_FORBIDDEN = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.JoinedStr, ast.Global,
              ast.Nonlocal, ast.Delete, ast.Try, ast.Raise, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the script binds itself: functions, classes, parameters, loop and ``with`` targets, assignments."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _string_problem(value: str) -> str | None:
    """Why a string could run code if TVM evaluated it as an expression (it does, for buffer shapes): a call,
    a private attribute or name, a lambda or a comprehension in it. Names, dotted keys and arithmetic are data."""
    try:
        tree = ast.parse(value.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Call, *_FORBIDDEN)):
            return f"the string {value[:60]!r} holds code ({type(node).__name__})"
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")) or (
                isinstance(node, ast.Name) and node.id.startswith("_")):
            return f"the string {value[:60]!r} reaches a private name"
    return None


def _chain(node: ast.Attribute) -> tuple[ast.AST, list[str]]:
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    return node, attrs[::-1]


def check_tvmscript(text: str, *, origin: str = "<string>") -> None:
    """Raise SubgraphError, naming the line, if the script does anything but describe a TVMScript program."""
    import_tvm()
    from tvm.script import ir as I  # noqa: N812
    from tvm.script import tirx as T  # noqa: N812

    try:
        tree = ast.parse(text, filename=origin)
    except (SyntaxError, ValueError, RecursionError) as err:
        raise SubgraphError(f"{origin}: not valid TVMScript: {err}") from err
    roots = {"T": T, "I": I}
    bound = _bound_names(tree)
    allowed = _BUILTINS | set(roots) | bound

    def refuse(node: ast.AST, why: str) -> None:
        raise SubgraphError(f"{origin}:{getattr(node, 'lineno', '?')}: {why}; TVMScript loaded from a file or a string "
                            "may only describe a program (pass trusted=True for a script you wrote yourself)")

    for node in ast.walk(tree):  # the parser looks a name up as the builtin until the script has bound it
        name = getattr(node, "name", None) or getattr(node, "arg", None) or (
            node.id if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) else None)
        if name in _UNSAFE_BUILTINS or name in roots:
            refuse(node, f"binds the name {name!r}, which is Python's (or TVMScript's) own")
    _check_nodes(tree, roots, allowed, refuse)


def _check_nodes(tree: ast.AST, roots: dict[str, Any], allowed: set[str], refuse: Any) -> None:
    """Refuse any node of ``tree`` a program description does not need."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            why = _string_problem(node.value)
            if why:
                refuse(node, why)
            continue
        if isinstance(node, ast.Import):
            refuse(node, f"imports {', '.join(a.name for a in node.names)}")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _IMPORTS.get((node.module or "", alias.name)) != (alias.asname or alias.name):
                    refuse(node, f"imports {alias.name} from {node.module}")
        elif isinstance(node, _FORBIDDEN):
            refuse(node, f"uses {type(node).__name__}, which TVMScript does not need")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in allowed:
            refuse(node, f"uses the name {node.id!r}, which it does not define")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                refuse(node, f"uses the private attribute {node.attr!r}")
            base, attrs = _chain(node)
            if isinstance(base, ast.Name) and base.id in roots:
                obj: Any = roots[base.id]
                for name in attrs:
                    obj = getattr(obj, name, None)
                    if obj is None:
                        refuse(node, f"uses {base.id}.{'.'.join(attrs)}, which TVMScript does not have")
                    if isinstance(obj, types.ModuleType) and not obj.__name__.startswith(_SCRIPT_MODULES):
                        refuse(node, f"reaches the module {obj.__name__} through {base.id}")


def parse_tvmscript(text: str, *, origin: str = "<string>", trusted: bool = False) -> Any:
    """Parse TVMScript (an ``@I.ir_module`` class or a ``@T.prim_func``) into an IRModule.

    Unless ``trusted``, the script is checked first (:func:`check_tvmscript`) and parsed without the ``tvm``
    module in scope.
    """
    tvm = import_tvm()
    from tvm.script import ir as I  # noqa: N812
    from tvm.script import parser
    from tvm.script import tirx as T  # noqa: N812

    names: dict[str, Any] = {"I": I, "T": T}
    if trusted:
        names["tvm"] = tvm
    else:
        check_tvmscript(text, origin=origin)
        # The parser evaluates expressions with Python's eval: hand it only the builtins a program needs.
        names["__builtins__"] = {name: getattr(builtins, name) for name in _BUILTINS if hasattr(builtins, name)}
    try:
        parsed = parser.parse(text, extra_vars=names)
    except Exception as err:  # noqa: BLE001 - the parser raises many error types
        raise SubgraphError(f"{origin}: not valid TVMScript: {str(err).strip()[:2000]}") from err
    if isinstance(parsed, tvm.tirx.PrimFunc):
        return tvm.IRModule({"main": parsed})
    if isinstance(parsed, tvm.IRModule):
        return parsed
    raise SubgraphError(f"{origin}: TVMScript must define an IRModule or a PrimFunc, got {type(parsed).__name__}")


def from_tvmscript(source: str | Path, *, name: str | None = None, weight: int = 1, trusted: bool = False
                   ) -> Subgraph:
    """A subgraph from a TVMScript file path or a TVMScript string (``trusted``: see :func:`parse_tvmscript`)."""
    path = Path(source) if isinstance(source, Path) or (len(str(source)) < 4096 and "\n" not in str(source)) else None
    if path is not None:
        if not path.is_file():
            raise SubgraphError(f"{path}: no such TVMScript file")
        try:
            text, origin = path.read_text(), str(path)
        except (OSError, UnicodeDecodeError) as err:
            raise SubgraphError(f"{path}: not a TVMScript text file ({err})") from err
    else:
        text, origin = str(source), "<string>"
    mod = parse_tvmscript(text, origin=origin, trusted=trusted)
    default_name = Path(origin).stem if path is not None else f"script_{structural_hash(mod) & 0xFFFFFF:06x}"
    try:
        return Subgraph(name=name or default_name, mod=mod, weight=weight, source=f"tvmscript:{origin}", op="custom")
    except SubgraphError as err:
        raise SubgraphError(f"{origin}: {err}") from err
