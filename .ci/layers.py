#!/usr/bin/env python3
"""The layer check: `src/` is layered, and a module may use only its own layer and the layers
below it. Every `crate::<layer>` path in src/ (in `use` lines and inline, doc comments aside)
is checked against the order below, and `src/` may hold nothing but folders, `lib.rs` and
`main.rs`. Exit 1 with one line per violation.

The order is the README's "Architecture" table, top to bottom. To add a layer, put it here
where it belongs; never import upwards to save a move (pass the value down instead).
"""
import pathlib
import re
import sys

# Top to bottom: each layer may use those after it.
LAYERS = [
    "cli",
    "server",
    "request",
    "gateway",
    "frontend",
    "access",
    "reply",
    "upstream",
    "limit",
    "observe",
    "config",
    "tls",
    "s3",
    "util",
]
RANK = {name: i for i, name in enumerate(LAYERS)}
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
# `use crate::{a, b}` groups.
GROUP = re.compile(r"\bcrate::\{([^}]*)\}")


def code_lines(text):
    """The lines of `text` without comments (line comments and doc comments)."""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.split("//", 1)[0] if "//" in line else line
        yield number, stripped


def main():
    src = pathlib.Path(__file__).resolve().parent.parent / "src"
    problems = []
    for entry in sorted(src.iterdir()):
        if entry.is_file() and entry.name not in ("lib.rs", "main.rs"):
            problems.append(f"src/{entry.name}: a loose file; move it into the folder of its layer")
        if entry.is_dir() and entry.name not in RANK:
            problems.append(f"src/{entry.name}/: not a known layer; add it to LAYERS in .ci/layers.py")
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        if len(rel.parts) == 1:
            continue  # lib.rs declares the layers; main.rs is outside the crate
        layer = rel.parts[0]
        if layer not in RANK:
            continue
        for number, line in code_lines(path.read_text()):
            used = [m.group(1) for m in PATH.finditer(line)]
            for group in GROUP.finditer(line):
                used += [p.strip().split("::")[0] for p in group.group(1).split(",") if p.strip()]
            for target in used:
                if target in ("self", "super"):
                    continue
                if target not in RANK:
                    problems.append(f"src/{rel}:{number}: crate::{target} is not a layer")
                elif RANK[target] < RANK[layer]:
                    problems.append(
                        f"src/{rel}:{number}: {layer} uses crate::{target}, a layer above it"
                    )
    for p in problems:
        print(p)
    if problems:
        print(f"layer check: {len(problems)} problem(s); the order is in .ci/layers.py", file=sys.stderr)
        return 1
    print(f"layer check: {len(LAYERS)} layers, no module imports a layer above it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
