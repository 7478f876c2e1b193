"""The import graph of `diffcoder`, read from the source (AST): no cycles between modules or between
packages, the layer rules of docs/architecture.md, and files small enough to read.

Imports inside functions count too: a lazy import still makes the importing module depend on it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "diffcoder"
MAX_LINES = 350


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str) -> set[str]:
    """The diffcoder modules `name` imports (a `from package import module` names the module)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            origin = _resolve(name, path.name == "__init__.py", node)
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in MODULES else origin
                       for a in node.names]  # fmt: skip
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]  # `import a.b.c` of a name inside a module
            if target.startswith("diffcoder") and target != name:
                found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def strongly_connected(graph: dict[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one node are cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_the_graph_is_read_from_the_source():
    # guards the checks below against passing on an empty or mis-read graph
    assert len(GRAPH) > 60
    assert "diffcoder.model.types" in GRAPH["diffcoder.model.engine"]
    assert "diffcoder.model.backend" in GRAPH["diffcoder.editing.edit_pipeline"]
    assert strongly_connected({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


def test_no_module_import_cycle():
    assert strongly_connected(GRAPH) == []


def test_no_package_import_cycle():
    packages: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        own = package_of(module)
        packages.setdefault(own, set()).update(
            package_of(t) for t in targets if package_of(t) != own
        )
    assert "diffcoder.cli" in packages and "diffcoder.model" in packages
    assert strongly_connected(packages) == []


# What each package may import, besides itself (docs/architecture.md draws the same arrows).
ALLOWED = {
    "diffcoder.model": set(),
    "diffcoder.editing": {"diffcoder.model"},
    "diffcoder.lsp_server": {"diffcoder", "diffcoder.editing", "diffcoder.model"},
    "diffcoder.testing": {"diffcoder.model"},
    "diffcoder.training": {"diffcoder.editing", "diffcoder.model"},
    "diffcoder.evaluation": {"diffcoder.editing", "diffcoder.model", "diffcoder.lsp_server"},
    "diffcoder.serving": {"diffcoder.editing", "diffcoder.model"},
    # everything but the command line, which sits on top of all of them
    "diffcoder.benchmarking": {
        "diffcoder.editing",
        "diffcoder.evaluation",
        "diffcoder.lsp_server",
        "diffcoder.model",
        "diffcoder.serving",
        "diffcoder.testing",
        "diffcoder.training",
    },
}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layers_point_one_way(package):
    used = {
        package_of(t)
        for module, targets in GRAPH.items()
        if package_of(module) == package
        for t in targets
    }
    assert used - ALLOWED[package] - {package} == set()


def test_editing_reaches_the_model_only_through_its_torch_free_interface():
    used = {t for m, ts in GRAPH.items() if m.startswith("diffcoder.editing") for t in ts}
    model_modules = {t for t in used if t.startswith("diffcoder.model")}
    assert model_modules <= {"diffcoder.model.types", "diffcoder.model.backend"}


def test_services_never_import_the_server():
    server = "diffcoder.lsp_server.server"
    importers = {m for m, targets in GRAPH.items() if server in targets}
    assert importers <= {"diffcoder.lsp_server.__main__"}


def test_no_file_is_longer_than_the_limit():
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_package_root_holds_only_init_and_main():
    loose = sorted(p.name for p in ROOT.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"]
