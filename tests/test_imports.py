"""No import circles in the project: the modules of engine/, dsocr_app/ and bench/ form an acyclic graph.

Every module is parsed with `ast` (nothing is imported); an edge A -> B is an import of project module B
anywhere in A, at module level or inside a function (a function-level import is still a dependency: it only
moves the circle from load time to call time). `from pkg import name` counts as an import of `pkg.name` when
that is a module, else of `pkg`. A package's `__init__` is not an edge of its own submodules' imports of
siblings (`from . import x` in `pkg/a.py` depends on `pkg/x.py`, not on `pkg/__init__.py`). bench/'s scripts
import each other by bare name (`import resources`), as `python bench/run.py` runs them.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "dsocr_app")
SCRIPTS = ("bench",)


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the packages and script folders."""
    out = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    for top in SCRIPTS:
        for path in sorted((ROOT / top).glob("*.py")):
            out[f"{top}.{path.stem}"] = path
    return out


def _resolve(module: str, level: int, importer: str, is_package: bool) -> str:
    """The absolute name of a (possibly relative) import made in `importer`."""
    if level == 0:
        return module
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports (module level and function level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    script_dir = name.split(".")[0] if name.split(".")[0] in SCRIPTS else None
    found: set[str] = set()

    def add(target: str) -> None:
        if script_dir and f"{script_dir}.{target}" in modules:  # bench/run.py: `import resources`
            target = f"{script_dir}.{target}"
        while target and target not in modules:  # `import engine.runtime.x.y` -> the longest known prefix
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module or "", node.level, name, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                if sub in modules or (script_dir and f"{script_dir}.{sub}" in modules):
                    add(sub)
                elif not (node.level and node.module is None):
                    add(base)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None (an iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_the_graph_sees_real_imports():
    graph = import_graph()
    assert "engine.pipeline" in graph["engine"]  # module level, relative
    assert "engine.options" in graph["engine.pipeline"]
    assert "engine.cli.options" in graph["engine.cli.ocr_cmd"]  # `from .options import ...` in a subpackage
    assert "engine.model" in graph["engine.cli.ocr_cmd"]  # function level: `from ..model import load`
    assert "bench.resources" in graph["bench.run"]  # a script's bare-name import
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _all_cycles() -> list[list[str]]:  # for a person fixing them: python tests/test_imports.py
    graph = {k: set(v) for k, v in import_graph().items()}
    out = []
    while (cycle := find_cycle(graph)) is not None:
        out.append(cycle)
        graph[cycle[-2]].discard(cycle[-1])
    return out


if __name__ == "__main__":
    for c in _all_cycles():
        print(" -> ".join(c))
