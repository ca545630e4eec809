"""Seeded damage to log and model files, for the robustness tests and the fuzz benchmark.

Each mutation changes one file the way real damage does (a flipped byte, a write cut short, a blank or
duplicated line, a huge line, a value of the wrong type, deeply nested JSON) and says which lines it left
untouched, so a reader can be checked to keep every one of them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

KINDS = ("byte_flip", "truncate", "blank_line", "duplicate_line", "huge_line", "wrong_type", "deep_nesting",
         "torn_middle", "bad_numbers")


@dataclass
class Mutation:
    kind: str
    file: str
    line: int | None  # the 1-based line it changed or inserted (None: the file as a whole)
    intact: list[int]  # the 1-based numbers, in the mutated file, of lines left exactly as they were


def _wrong_type(obj: object, rng: random.Random) -> object:
    """The JSON value with one of its leaves (or containers) replaced by a value of another type."""
    choices = ["x", 3, -1.5, None, [], {}, [1, [2]], 0.9, float("nan"), True]
    if isinstance(obj, list) and obj and rng.random() < 0.8:
        out = list(obj)
        i = rng.randrange(len(out))
        out[i] = _wrong_type(out[i], rng)
        return out
    if isinstance(obj, dict) and obj and rng.random() < 0.8:
        out = dict(obj)
        key = rng.choice(sorted(out))
        out[key] = _wrong_type(out[key], rng)
        return out
    return rng.choice([c for c in choices if type(c) is not type(obj)])


def mutate_lines(path: Path, rng: random.Random) -> Mutation:
    """Damage one JSON-lines file in place."""
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    kind = rng.choice(KINDS)
    n = len(lines)
    at = rng.randrange(max(n, 1))
    intact = list(range(1, n + 1))
    if kind == "byte_flip" and n:
        raw = bytearray(lines[at])
        if raw:
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        lines[at] = bytes(raw)
        intact.remove(at + 1)
    elif kind == "truncate" and n:
        data = b"\n".join(lines)
        cut = rng.randrange(len(data) + 1)
        lines = data[:cut].split(b"\n")
        whole = data[:cut].count(b"\n")  # lines before the cut are complete
        intact = list(range(1, whole + 1))
        path.write_bytes(data[:cut])
        return Mutation(kind, path.name, whole + 1, intact)
    elif kind == "torn_middle" and n:
        lines[at] = lines[at][: rng.randrange(max(len(lines[at]), 1))]
        intact.remove(at + 1)
    elif kind in ("blank_line", "huge_line", "deep_nesting"):
        new = {"blank_line": b"", "huge_line": b'["' + b"x" * (1 << 20) + b'"]',
               "deep_nesting": b"[" * 100000 + b"]" * 100000}[kind]
        lines.insert(at, new)
        intact = [i if i <= at else i + 1 for i in intact]
    elif kind == "duplicate_line" and n:
        lines.insert(at, lines[at])  # the copy at line at+1, the original (still intact) at at+2
        intact = [i if i <= at else i + 1 for i in intact]
    elif kind in ("wrong_type", "bad_numbers") and n:
        try:
            obj = json.loads(lines[at])
        except ValueError:
            obj = None
        if kind == "wrong_type":
            lines[at] = json.dumps(_wrong_type(obj, rng)).encode()
        else:  # numbers out of range: negative, NaN, infinite, fractional indices (the line may stop being JSON)
            text = json.dumps(obj)
            for old, new in (("0.0", "-0.0"), ("1", "-1"), ("2", "NaN"), ("3", "1e999"), (", 0]", ", 0.9]")):
                text = text.replace(old, new, 1)
            lines[at] = text.encode()
        intact.remove(at + 1)
    path.write_bytes(b"\n".join(lines) + (b"\n" if lines else b""))
    return Mutation(kind, path.name, at + 1, intact)


def mutate_bytes(path: Path, rng: random.Random) -> Mutation:
    """Damage a binary file (weights, a tokenizer) in place: a flipped byte, a cut, or garbage appended."""
    data = bytearray(path.read_bytes())
    kind = rng.choice(("byte_flip", "truncate", "append"))
    if kind == "byte_flip" and data:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        data = data[: rng.randrange(len(data) + 1)]
    else:
        data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    path.write_bytes(bytes(data))
    return Mutation(kind, path.name, None, [])
