"""TIR text for the encoders: a normalized form of TVMScript, and equivalent rewrites used as positives."""

from __future__ import annotations

import random
import re

_DROP_PREFIXES = ("# from tvm.",  "@I.ir_module", "class Module", "@T.prim_func", "T.func_attr",
                  "# with T.sblock(\"root\")", "T.reads(", "T.writes(", "T.sblock_attr(")
_IDENT = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\b")
# Words of TVMScript itself: never renamed.
_KEYWORDS = frozenset({
    "T", "I", "for", "in", "with", "if", "else", "and", "or", "not", "def", "return", "True", "False", "None",
    "main", "float32", "float16", "int32", "int64", "bool", "max", "min",
})


MAX_LINE = 160  # long conditions and signatures are cut; the loop structure is what matters

_BINDING = re.compile(r"^[\w, ]+ = (T\.axis\.)?(spatial|reduce|remap|opaque|S|R)\(")


def normalize_tir(script: str) -> str:
    """Compact TVMScript: loop nests, blocks and statements, one space per indentation level.

    Dropped: imports, decorators, function attributes, read/write regions, block attributes and block
    variable bindings (the loop extents above them carry the tiling), which are most of the text.
    """
    out = []
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(_DROP_PREFIXES) or _BINDING.match(stripped):
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 4
        stripped = stripped.replace("T.sblock_alloc_buffer", "alloc").replace("T.axis.", "")
        out.append(" " * depth + stripped[:MAX_LINE])
    return "\n".join(out)


def program_text(mod) -> str:
    """Normalized TIR text of an IRModule (what every encoder reads)."""
    return normalize_tir(mod.script())


_DEF_FOR = re.compile(r"^\s*for ([\w, ]+) in ")
_DEF_LHS = re.compile(r"^\s*([\w, ]+) = ")
_DEF_PARAM = re.compile(r"(\w+): T\.Buffer")


def identifiers(text: str) -> list[str]:
    """Names the program defines (loop variables, block variables, buffers), in order of first definition."""
    names: dict[str, None] = {}
    for line in text.splitlines():
        for pattern in (_DEF_FOR, _DEF_LHS):
            m = pattern.match(line)
            if m:
                names.update((n.strip(), None) for n in m.group(1).split(","))
        names.update((n, None) for n in _DEF_PARAM.findall(line))
    return [n for n in names if n and n not in _KEYWORDS]


_POOL = ("a", "b", "c", "x", "y", "k", "buf", "it", "ax", "i", "j", "tmp", "acc", "r", "s", "t")


def rename(text: str, rng: random.Random) -> str:
    """The same program with every defined name replaced consistently by a random one."""
    mapping = {n: f"{rng.choice(_POOL)}{rng.randrange(1000)}" for n in identifiers(text)}

    def sub(m: re.Match) -> str:
        word = m.group(1)
        if m.start() > 0 and text[m.start() - 1] == ".":
            return word
        return mapping.get(word, word)

    return _IDENT.sub(sub, text)


_GRID = re.compile(r"^( *)for ([\w, ]+) in T\.grid\(([^()]*)\):$")


def expand_grids(text: str) -> str:
    """Rewrite ``for i, j in T.grid(a, b):`` as nested ``for i in range(a):`` loops (same program)."""
    out: list[str] = []
    shift = 0  # extra indentation of the lines inside expanded grids
    stack: list[tuple[int, int]] = []  # (depth of the grid line, extra indentation it added)
    for line in text.splitlines():
        depth = len(line) - len(line.lstrip(" "))
        while stack and depth <= stack[-1][0]:
            shift -= stack.pop()[1]
        m = _GRID.match(line)
        if m:
            names = [n.strip() for n in m.group(2).split(",")]
            extents = [e.strip() for e in m.group(3).split(",")]
            if len(names) == len(extents):
                for i, (n, e) in enumerate(zip(names, extents, strict=True)):
                    out.append(" " * (depth + shift + i) + f"for {n} in range({e}):")
                stack.append((depth, len(names) - 1))
                shift += len(names) - 1
                continue
        out.append(" " * shift + line)
    return "\n".join(out)


def equivalent_view(text: str, rng: random.Random) -> str:
    """A random semantically equivalent rewrite: renamed names, and grids expanded or not."""
    view = rename(text, rng)
    if rng.random() < 0.5:
        view = expand_grids(view)
    return view


def indent_tokens(text: str) -> str:
    """Make nesting visible to tokenizers that drop whitespace: ``   for`` becomes ``@3 for``."""
    return "\n".join(f"@{len(ln) - len(ln.lstrip(' '))} {ln.lstrip(' ')}" for ln in text.splitlines())
