"""TIR text for the encoders: normalized programs and the equivalent rewrites used as positives."""

from __future__ import annotations

import random

from workbench.worldmodel.text import equivalent_view, expand_grids, identifiers, indent_tokens, rename


def test_text_rewrites_keep_the_program_shape():
    text = 'for i, j in T.grid(2, 3):\n with T.sblock("c"):\n  C[i, j] = A[i, j] + T.float32(1)\nB = alloc((2,))'
    assert identifiers(text) == ["i", "j", "B"]
    renamed = rename(text, random.Random(0))
    assert "T.grid(2, 3)" in renamed and "T.float32" in renamed and " i," not in renamed
    assert expand_grids(text).splitlines()[:2] == ["for i in range(2):", " for j in range(3):"]
    assert expand_grids(text).splitlines()[2] == '  with T.sblock("c"):'
    assert equivalent_view(text, random.Random(1)) != text


def test_indent_tokens_make_nesting_visible():
    assert indent_tokens("for i in x:\n    y = 1") == "@0 for i in x:\n@4 y = 1"
