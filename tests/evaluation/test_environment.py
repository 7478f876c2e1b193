"""Evaluation environments: a problem whose imports the interpreter lacks is an environment error
(left out of pass@1, listed by package), never a model failure; an original that passes only
sometimes is flaky, not a pass."""

from __future__ import annotations

import json
import sys
import venv
from pathlib import Path

import pytest

from diffcoder.cli.main import main
from diffcoder.evaluation import references
from diffcoder.evaluation.attempts import EditAttempt
from diffcoder.evaluation.datasets import EditProblem
from diffcoder.evaluation.edit_eval import (
    EvalSettings,
    evaluate_edits,
    split_by_environment,
    summarize_edits,
)
from diffcoder.evaluation.environment import (
    BENCHMARK_PACKAGES,
    env_summary,
    environment_errors,
    imported_modules,
    install_hint,
    missing_at_run_time,
    missing_modules,
)
from diffcoder.evaluation.references import ReferencePair, check_pairs
from diffcoder.evaluation.sandbox import ExecResult, SandboxLimits

ABSENT = "diffcoder_absent_package"


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """Another interpreter, without numpy or any other third-party package."""
    where = tmp_path_factory.mktemp("bare") / "venv"
    venv.create(where, with_pip=False)
    return str(where / "bin" / "python")


def test_imports_are_read_from_the_whole_program():
    source = (
        "import os, numpy.linalg as la\n"
        "from scipy import stats\n"
        "from . import sibling\n"
        "def f():\n"
        "    import pandas\n"
        "    from z3 import Solver\n"
        "class C:\n"
        "    def m(self):\n"
        "        return __import__('flask')\n"
        "import importlib\n"
        "torch = importlib.import_module('torch.nn')\n"
    )
    assert imported_modules(source) == {"numpy", "scipy", "pandas", "z3", "flask", "torch"}


def test_optional_imports_and_the_standard_library_do_not_count():
    source = (
        "from __future__ import annotations\n"
        "import json, collections.abc, typing\n"
        "try:\n    import ujson as json\nexcept ImportError:\n    pass\n"
        "try:\n    from wtforms.form import Form\nexcept Exception as e:\n    Form = None\n"
        "try:\n    import yaml\nexcept (ModuleNotFoundError, OSError):\n    yaml = None\n"
        "if typing.TYPE_CHECKING:\n    import pandas\nelse:\n    import sklearn\n"
        "try:\n    import required_one\nexcept ValueError:\n    pass\n"
    )
    assert imported_modules(source) == {"sklearn", "required_one"}


def test_a_program_that_does_not_parse_is_scanned_line_by_line():
    broken = "import numpy as np\nfrom flask import Flask\nprint 'python 2'\n  import sys\n"
    assert imported_modules(broken) == {"numpy", "flask"}


def test_the_interpreter_that_runs_the_programs_is_asked(bare_python):
    assert missing_modules(["numpy", "json", ABSENT]) == {ABSENT}
    assert missing_modules(["numpy", "json", ABSENT], bare_python) == {"numpy", ABSENT}
    assert missing_modules([]) == set()


def test_environment_errors_name_problems_and_packages(bare_python):
    sources = {
        "a": ("import numpy\n", "import numpy\n", "assert True\n"),
        "b": ("from sklearn import svm\n", "import z3\n", "pass\n"),
        "c": ("x = 1\n", "x = 2\n", "assert x == 2\n"),
    }
    assert environment_errors(sources) == {}
    errors = environment_errors(sources, bare_python)
    assert errors == {"a": ["numpy"], "b": ["sklearn", "z3"]}
    summary = env_summary(errors)
    assert summary == {
        "env_errors": 2,
        "env_errors_by_package": {"numpy": ["a"], "scikit-learn": ["b"], "z3-solver": ["b"]},
    }
    hint = install_hint(summary["env_errors_by_package"], bare_python)
    assert "2 problem(s)" in hint and "z3-solver" in hint and ".[eval]" in hint


def test_a_missing_benchmark_package_at_run_time_is_the_environments(bare_python):
    numpy_missing = "Traceback...\nModuleNotFoundError: No module named 'numpy.linalg'\n"
    assert missing_at_run_time(numpy_missing, bare_python) == "numpy"
    assert missing_at_run_time(numpy_missing) is None  # this interpreter has numpy
    invented = "ModuleNotFoundError: No module named 'numpyy'\n"
    assert missing_at_run_time(invented, bare_python) is None  # the model's own mistake
    assert missing_at_run_time("AssertionError\n", bare_python) is None


def test_the_eval_extra_installs_every_benchmark_package():
    """pyproject's `eval` extra and the modules the harness knows the benchmarks import agree."""
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text("utf-8")
    block = text.split("\neval = [", 1)[1].split("]", 1)[0]
    pinned = {line.strip().strip('",').split("=")[0].split(">")[0] for line in block.splitlines()}
    assert set(BENCHMARK_PACKAGES.values()) - {"torch"} <= pinned - {""}
    assert "torch" in text.split("dependencies = [", 1)[1].split("]", 1)[0]


def _problem(key: str, program: str, tests: str = "assert f() == 2\n") -> EditProblem:
    return EditProblem(key, program, program.replace("1", "2"), tests, "make it 2", "corrective")


class GoldEdits:
    name = "gold"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def edit(self, text, instruction, target, *, temperature, seed):
        return EditAttempt(self.answers.get(text, text), None, "eos", "file", 4, 8, 2.0, 0.01)

    def close(self) -> None:
        pass


def test_problems_that_need_a_missing_package_leave_pass_at_1_and_are_reported(bare_python):
    plain = _problem("plain", "def f():\n    return 1\n")
    numeric = _problem("numeric", "import numpy\n\ndef f():\n    return int(numpy.int64(1))\n")
    limits = SandboxLimits(python=bare_python)
    runnable, env = split_by_environment([plain, numeric], limits)
    assert [p.id for p in runnable] == ["plain"] and env == {"numeric": ["numpy"]}
    settings = EvalSettings(limits=limits)
    backend = GoldEdits({plain.before: plain.after})
    summary = summarize_edits(evaluate_edits(backend, runnable, settings, log=None), settings, env)
    assert (summary["total"], summary["pass_at_1"]) == (1, 1.0)
    assert summary["env_errors"] == 1 and summary["env_errors_by_package"] == {"numpy": ["numeric"]}


def test_a_sample_that_fails_for_a_missing_package_is_not_the_models_failure(bare_python):
    plain = _problem("plain", "def f():\n    return 1\n")
    other = _problem("other", "def f():\n    return 10\n", "assert f() == 20\n")
    answers = {
        plain.before: "import numpy\n\ndef f():\n    return 2\n",  # needs what the image has
        other.before: "import numpyy\n\ndef f():\n    return 20\n",  # an invented module
    }
    settings = EvalSettings(limits=SandboxLimits(python=bare_python))
    records = evaluate_edits(GoldEdits(answers), [plain, other], settings, log=None)
    assert [r["env_error"] for r in records] == ["numpy", None]
    summary = summarize_edits(records, settings)
    assert summary["total"] == 1 and summary["pass_at_1"] == 0.0  # "other" failed on its own
    assert summary["env_errors_by_package"] == {"numpy": ["plain"]}


def _fake_runs(monkeypatch, outcomes: dict[str, list[bool]]) -> None:
    """run_programs answering each program with its scripted outcomes, one per run."""
    served: dict[str, int] = {}

    def run_programs(sources, limits=None, *, workers=2):
        results = []
        for source in sources:
            index = served.get(source, 0)
            served[source] = index + 1
            ok = outcomes[source][min(index, len(outcomes[source]) - 1)]
            results.append(ExecResult(ok, 0 if ok else 1, False, 0.01, "", "" if ok else "boom"))
        return results

    monkeypatch.setattr(references, "run_programs", run_programs)


def test_originals_that_pass_are_rerun_and_flaky_ones_are_named(monkeypatch):
    pairs = [
        ReferencePair("steady", "gold-1", "orig-1", ("x = 1",)),
        ReferencePair("timing", "gold-2", "orig-2", ("x = 1",)),
        ReferencePair("blind", "gold-3", "orig-3", ("x = 1",)),
        ReferencePair("shaky-gold", "gold-4", "orig-4", ("x = 1",)),
        ReferencePair("broken", "gold-5", "orig-5", ("x = 1",)),
    ]
    _fake_runs(
        monkeypatch,
        {
            **{f"gold-{i}": [True] for i in (1, 2, 3)},
            "gold-4": [False, True],
            "gold-5": [False],
            **{f"orig-{i}": [False] for i in (1, 4, 5)},
            "orig-2": [True, False, True],  # passes once, then fails: timing
            "orig-3": [True],  # passes every time: the tests cannot tell
        },
    )
    result = check_pairs(pairs, SandboxLimits())
    assert (result["total"], result["passed"], result["before_passed"]) == (5, 3, 1)
    assert result["before_passed_ids"] == ["blind"]
    assert [f["id"] for f in result["failed"]] == ["broken"]
    flaky = {f["id"]: (f["program"], f["passed_runs"], f["runs"]) for f in result["flaky"]}
    assert flaky == {"timing": ("before", 2, 3), "shaky-gold": ("after", 2, 3)}
    assert result["env_errors"] == 0


def test_check_references_counts_missing_packages_apart(tmp_path, bare_python, capsys):
    rows = [
        {
            "full_name": "0_plain",
            "before": "def f():\n    return 1\n",
            "after": "def f():\n    return 2\n",
            "tests": "assert f() == 2\n",
        },
        {
            "full_name": "1_solver",
            "before": "import z3\n\ndef f():\n    return 1\n",
            "after": "import z3\n\ndef f():\n    return 2\n",
            "tests": "assert f() == 2\n",
        },
        {
            "full_name": "2_frames",
            "before": "def f():\n    return 1\n",
            "after": f"def f():\n    import {ABSENT}\n    return 2\n",
            "tests": "import pandas\nassert f() == 2\n",
        },
    ]
    data = tmp_path / "rows.jsonl"
    with data.open("w") as out:
        for row in rows:
            out.write(json.dumps({**row, "instruction_descriptive": "two"}) + "\n")
    argv = ["eval", "edit", "--dataset", str(data), "--format", "canitedit", "--check-references"]
    assert main([*argv, "--json", "--python", bare_python]) == 2  # an incomplete environment
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert (result["total"], result["passed"], result["failed"]) == (3, 1, [])
    assert result["env_errors"] == 2
    assert result["env_errors_by_package"] == {
        ABSENT: ["2_frames"],
        "pandas": ["2_frames"],
        "z3-solver": ["1_solver"],
    }
    assert "2 problem(s) left out" in captured.err and bare_python in captured.err
    # the same data set with the interpreter that has the eval extra: only the invented package
    assert main([*argv, "--json"]) == 2
    result = json.loads(capsys.readouterr().out)
    assert result["env_errors_by_package"] == {ABSENT: ["2_frames"]}


def test_infill_references_report_environment_errors_too(tmp_path, bare_python, capsys):
    row = {
        "task_id": "X/0",
        "prefix": "import numpy\n\ndef f():\n",
        "middle": "    return 1\n",
        "suffix": "",
        "test": "def check(c):\n    assert c() == 1\n",
        "entry_point": "f",
    }
    data = tmp_path / "infill.jsonl"
    data.write_text(json.dumps(row) + "\n")
    argv = ["eval", "infill", "--dataset", str(data), "--check-references", "--json"]
    assert main([*argv, "--python", bare_python]) == 2
    result = json.loads(capsys.readouterr().out)
    assert result["env_errors_by_package"] == {"numpy": ["X/0"]} and result["failed"] == []
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["passed"], result["env_errors"], result["before_passed"]) == (1, 0, 0)


@pytest.mark.skipif(sys.platform != "linux", reason="the sandbox confines programs on Linux")
def test_benchmark_packages_import_in_the_sandbox():
    """With the eval extra installed, every package the benchmarks import loads in the sandbox
    (its memory limit and read-only file system included)."""
    from diffcoder.evaluation.sandbox import run_program

    lacking = missing_modules(BENCHMARK_PACKAGES)
    if lacking:
        pytest.skip(f"the eval extra is not installed here: {sorted(lacking)}")
    program = "import " + ", ".join(sorted(BENCHMARK_PACKAGES)) + "\nprint('ok')\n"
    result = run_program(program, SandboxLimits(timeout=60))
    assert result.passed and result.stdout == "ok\n", result.stderr
