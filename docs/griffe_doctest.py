"""A griffe extension for the API reference: fence the `>>>` examples of our docstrings.

The docstrings are plain prose with doctest examples (they run in the test suite). Markdown would
read `>>> x` as three nested block quotes; this wraps every doctest block (from a `>>>` line to the
next blank line) in a ```pycon fence, drops `# doctest:` flags and turns `<BLANKLINE>` into an
empty line. mkdocs.yml loads it with `extensions: [docs/griffe_doctest.py]`.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_FLAGS = re.compile(r"\s*#\s*doctest:.*$")


def fence_doctests(text: str) -> str:
    """Wrap each doctest block of a docstring in a ```pycon fence."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if in_fence or not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(_FLAGS.sub("", lines[i][len(indent):]).replace("<BLANKLINE>", ""))
            i += 1
        if out and out[-1].strip():
            out.append("")
        out += [f"{indent}```pycon", *(indent + b if b else "" for b in block), f"{indent}```"]
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence doctest examples in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
