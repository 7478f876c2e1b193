"""Whether the interpreter that runs the programs has what a problem imports.

A problem whose programs import a package that interpreter lacks cannot pass there, whatever the
model writes: it is an environment error, left out of pass@1 and reported by package, never a
model failure. Imports are read from the source (ast): every non-optional import, anywhere in the
program (an import inside `try: ... except ImportError` or `if TYPE_CHECKING:` is optional), of
a top-level module that is not in the standard library; the interpreter itself is asked which of
those it cannot find (`--python` may name another one than ours).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

# What the supported benchmarks' programs import beyond the standard library (the `eval` extra
# installs these; docs/evaluation.md says where each comes from), by module: the pip package.
BENCHMARK_PACKAGES = {
    "autograd": "autograd",
    "flask": "flask",
    "numpy": "numpy",
    "pandas": "pandas",
    "scipy": "scipy",
    "sklearn": "scikit-learn",
    "torch": "torch",
    "wtforms": "wtforms",
    "z3": "z3-solver",
}
# Other modules whose package has another name, for the install hint.
PACKAGE_NAMES = {
    **BENCHMARK_PACKAGES,
    "attr": "attrs",
    "bs4": "beautifulsoup4",
    "cv2": "opencv-python",
    "dateutil": "python-dateutil",
    "PIL": "pillow",
    "skimage": "scikit-image",
    "yaml": "pyyaml",
}
_OPTIONAL_GUARDS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_IMPORT_LINE = re.compile(
    r"^\s*(?:from\s+([A-Za-z_]\w*)[\w.]*\s+import|import\s+([A-Za-z_]\w*))", re.M
)
_NOT_FOUND = re.compile(r"ModuleNotFoundError: No module named '([A-Za-z_][\w.]*)'")
_FIND = (
    "import importlib.util, json, sys\n"
    "def found(name):\n"
    "    try:\n        return importlib.util.find_spec(name) is not None\n"
    "    except (ImportError, ValueError):\n        return False\n"
    "print(json.dumps([n for n in sys.argv[1:] if not found(n)]))\n"
)


def _guards_imports(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in _OPTIONAL_GUARDS for n in names)


def _is_type_checking(test: ast.expr) -> bool:
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: set[str] = set()
        self.optional = 0

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(_guards_imports(h) for h in node.handlers)
        self.optional += guarded
        for statement in node.body:
            self.visit(statement)
        self.optional -= guarded
        for child in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(child)

    visit_TryStar = visit_Try

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for statement in node.orelse:
                self.visit(statement)
        else:
            self.generic_visit(node)

    def _add(self, dotted: str | None) -> None:
        if dotted and not self.optional:
            self.found.add(dotted.split(".")[0])

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0:
            self._add(node.module)

    def visit_Call(self, node: ast.Call) -> None:  # __import__("x"), importlib.import_module("x")
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        value = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else 0
        if name in ("__import__", "import_module") and isinstance(value, str):
            self._add(value if not value.startswith(".") else None)
        self.generic_visit(node)


def imported_modules(source: str) -> set[str]:
    """Top-level modules `source` imports, standard library ones left out. A program that does
    not parse is scanned line by line."""
    try:
        visitor = _Imports()
        with warnings.catch_warnings():  # a data set's invalid escapes are not ours to report
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
        visitor.visit(tree)
        found = visitor.found
    except (SyntaxError, ValueError, RecursionError):
        found = {a or b for a, b in _IMPORT_LINE.findall(source)}
    return {name for name in found if name not in sys.stdlib_module_names}


def missing_modules(names: Iterable[str], python: str | None = None) -> set[str]:
    """The modules of `names` that `python` (default: this interpreter) cannot find, as it finds
    them in the sandbox: isolated mode, no user site-packages, no PYTHONPATH."""
    names = sorted(set(names))
    if not names:
        return set()
    command = [python or sys.executable, "-I", "-c", _FIND, *names]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    try:
        return set(json.loads(done.stdout))
    except ValueError:
        raise RuntimeError(
            f"{command[0]} could not say which modules it has: {done.stderr.strip()[-300:]}"
        ) from None


def environment_errors(
    sources: Mapping[str, Sequence[str]], python: str | None = None
) -> dict[str, list[str]]:
    """Problem id -> the modules its programs import that `python` lacks (only problems that
    lack some)."""
    needs = {key: set().union(*map(imported_modules, texts)) for key, texts in sources.items()}
    missing = missing_modules(set().union(*needs.values()) if needs else (), python)
    return {key: sorted(wanted & missing) for key, wanted in needs.items() if wanted & missing}


def missing_at_run_time(stderr: str, python: str | None = None) -> str | None:
    """The module a failed run could not import, when a supported benchmark's environment has it
    and `python` lacks it (a model that imports an unknown module is the model's failure)."""
    named = _NOT_FOUND.findall(stderr)
    module = named[-1].split(".")[0] if named else None
    return module if module in BENCHMARK_PACKAGES and _lacks(module, python) else None


@lru_cache(maxsize=64)
def _lacks(module: str, python: str | None) -> bool:
    return module in missing_modules([module], python)


def package_of(module: str) -> str:
    return PACKAGE_NAMES.get(module, module)


def env_summary(errors: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """`env_errors` (problems) and `env_errors_by_package` (pip package -> problem ids)."""
    by_package: dict[str, list[str]] = {}
    for key, modules in errors.items():
        for module in modules:
            by_package.setdefault(package_of(module), []).append(key)
    return {"env_errors": len(errors), "env_errors_by_package": dict(sorted(by_package.items()))}


def install_hint(by_package: Mapping[str, Sequence[str]], python: str | None = None) -> str:
    """One line for `env_errors_by_package`: what is missing and how to get it."""
    problems = {key for keys in by_package.values() for key in keys}
    return (
        f"{len(problems)} problem(s) left out: {python or sys.executable} lacks "
        f"{', '.join(sorted(by_package))}; install them (`pip install -e '.[eval]'` has what the "
        "supported benchmarks import) or pass --python with an interpreter that has them"
    )
