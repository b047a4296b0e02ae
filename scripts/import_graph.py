#!/usr/bin/env python3
"""The import graph of the two crates, at the level of their top modules, from the `crate::` paths in the
code (comments and doc comments left out). Prints it as the text block that docs/design.md shows between
`<!-- begin import-graph -->` and `<!-- end import-graph -->`; fails on an import circle.

Usage: scripts/import_graph.py            print the block
       scripts/import_graph.py --check    exit 1 if the design page's block differs, or on a circle
       scripts/import_graph.py --write    replace the design page's block
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CRATES = [("yolo-ffi-core", ROOT / "core/src"), ("yolo-ffi", ROOT / "src")]
PAGE = ROOT / "docs/design.md"
BEGIN, END = "<!-- begin import-graph -->", "<!-- end import-graph -->"


def top_module(src: Path, path: Path) -> str | None:
    parts = path.relative_to(src).with_suffix("").parts
    return None if parts == ("lib",) else parts[0]


def code_of(text: str) -> str:
    """The text without comments, strings or `#[cfg(test)]` modules (tests may reach anywhere)."""
    text = text.split("\n#[cfg(test)]\nmod tests")[0]
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def graph(src: Path) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.rs")):
        module = top_module(src, path)
        if module is None:
            continue
        code = code_of(path.read_text(encoding="utf-8"))
        targets = set(re.findall(r"\bcrate::(\w+)", code))
        if "ffi_boundary!" in code:  # the C crate's macro expands to `$crate::boundary::...`
            targets.add("boundary")
        # A grouped import: `use crate::{a::X, b};`
        for group in re.findall(r"\bcrate::\{([^}]*)\}", code):
            targets |= {item.strip().split("::")[0] for item in group.split(",") if item.strip()}
        known = {t for t in targets if (src / f"{t}.rs").exists() or (src / t / "mod.rs").exists()}
        edges.setdefault(module, set()).update(known - {module})
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def block() -> tuple[str, list[str]]:
    lines, problems = ["```text"], []
    for crate, src in CRATES:
        edges = graph(src)
        lines.append(f"{crate} ({src.relative_to(ROOT)}/): module -> the modules it imports")
        for module in sorted(edges):
            lines.append(f"  {module:<16} -> {', '.join(sorted(edges[module])) or '(nothing)'}")
        problems += [f"{crate}: import circle {' -> '.join(c)}" for c in circles(edges)]
    lines.append("```")
    return "\n".join(lines), problems


def main(argv: list[str]) -> int:
    text, problems = block()
    for p in problems:
        print(p, file=sys.stderr)
    if not argv:
        print(text)
        return 1 if problems else 0
    page = PAGE.read_text(encoding="utf-8")
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
    if argv[0] == "--write":
        PAGE.write_text(page[:start] + "\n" + text + "\n" + page[end:], encoding="utf-8")
    elif page[start:end].strip() != text.strip():
        print(f"import_graph: {PAGE.relative_to(ROOT)} shows another graph than the code's: "
              "run scripts/import_graph.py --write", file=sys.stderr)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
