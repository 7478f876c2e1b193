"""Run untrusted Python programs (model output + hidden tests) in a confined child process.

Confined as `confinement` decides (read-only file system but for the program's own directory, no
home directories, no network, own PID namespace, not root), in its own process group, in a fresh
temporary directory, with resource limits and a stripped environment; killed with its whole group
at the timeout; its files are removed after. Where nothing confines programs, it refuses to run
them (`SandboxUnavailable`) unless `SandboxLimits.unconfined` allows it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from diffcoder.evaluation.confinement import (
    SandboxUnavailable,
    command,
    confinement,
    describe,
    prepare_workdir,
    runs_as,
)

__all__ = ["SandboxUnavailable", "describe"]

DEFAULT_TIMEOUT = 15.0
DEFAULT_WORKERS = 2  # programs run at once (`--workers`)
OUTPUT_TAIL = 2000  # characters of stdout/stderr kept per run, enough to see the failing assert

# Written next to the program when no network namespace can be made: a process can still open
# AF_UNIX sockets (asyncio's self-pipe needs them), never internet ones.
_SOCKET_GUARD = """\
import socket as _socket

_Plain = _socket.socket


class _NoNetworkSocket(_Plain):
    def __init__(self, family=-1, *args, **kwargs):
        if family in (-1, _socket.AF_INET, _socket.AF_INET6):
            raise PermissionError("network access is disabled in the diffcoder sandbox")
        super().__init__(family, *args, **kwargs)


_socket.socket = _NoNetworkSocket
"""


@dataclass(frozen=True)
class SandboxLimits:
    timeout: float = DEFAULT_TIMEOUT  # wall clock, seconds
    memory_mb: int = 4096  # address space; numpy/pandas imports need a few hundred MiB of it
    max_processes: int = 64  # beyond the user's current processes; the kernel exempts root
    max_file_mb: int = 64
    network: bool = False
    # The interpreter that runs programs (default: this one); a benchmark's libraries live there.
    python: str | None = None
    # Run programs even where nothing confines them (`--unconfined`); confined where possible.
    unconfined: bool = False

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.memory_mb <= 0 or self.max_processes <= 0:
            raise ValueError("sandbox timeout, memory_mb and max_processes must be positive")
        if self.python is not None and shutil.which(self.python) is None:
            raise ValueError(f"--python {self.python} is not an executable interpreter")


@dataclass(frozen=True)
class ExecResult:
    passed: bool  # exit code 0 within the timeout
    returncode: int | None  # None when killed at the timeout
    timed_out: bool
    seconds: float
    stdout: str  # tails
    stderr: str


@lru_cache(maxsize=1)
def isolation_prefix() -> tuple[str, ...]:
    """For unconfined runs: `unshare` arguments that give the child no network and its own PID
    namespace, or () where namespaces cannot be made (then the socket guard)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for prefix in ((unshare, "-rn", "--pid", "--fork", "--kill-child"), (unshare, "-rn")):
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return ()


def sandbox_kind(limits: SandboxLimits) -> str:
    """How programs run under `limits` (see `confinement`), or SandboxUnavailable with what is
    missing when nothing confines them here and `limits.unconfined` is off."""
    found = confinement(limits.python, limits.network)
    if found.kind == "none" and not limits.unconfined:
        raise SandboxUnavailable(found.refusal())
    return found.kind


def _process_count(uid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def _limit_setter(limits: SandboxLimits, uid: int) -> Callable[[], None]:
    # RLIMIT_NPROC counts every process of the real user, so the allowance is on top of those.
    nproc = limits.max_processes + (_process_count(uid) if uid != 0 else 0)
    memory = limits.memory_mb * 1024 * 1024
    cpu = int(limits.timeout) + 2  # a backstop: the wall-clock timeout normally fires first

    def set_limits() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_mb << 20,) * 2)
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return set_limits


def _environment(workdir: Path, guard_dir: Path | None) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8",
        # One thread per numeric library: threads count against the process limit.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    if guard_dir is not None:
        env["PYTHONPATH"] = str(guard_dir)
    return env


def _tail(path: Path) -> str:
    with path.open("rb") as stream:
        stream.seek(max(0, path.stat().st_size - 4 * OUTPUT_TAIL))
        return stream.read().decode("utf-8", "replace")[-OUTPUT_TAIL:]


def _kill_group(process: subprocess.Popen, patience: float = 5.0) -> None:
    """SIGKILL the program's process group until it is empty (a fork bomb keeps refilling it
    for a moment, and killed processes linger until they are reaped)."""
    deadline = time.monotonic() + patience
    with contextlib.suppress(ProcessLookupError):
        while time.monotonic() < deadline:
            os.killpg(process.pid, signal.SIGKILL)
            if process.poll() is None:
                process.wait()
            time.sleep(0.01)
            os.killpg(process.pid, 0)  # raises once no process of the group is left


def _launch(kind: str, workdir: Path, limits: SandboxLimits) -> tuple[list[str], Path | None, int]:
    """The command, the socket guard's directory (unconfined, without a network namespace) and
    the uid the program runs as."""
    if kind != "none":
        prepare_workdir(kind, workdir)
        drop = runs_as() if kind == "namespaces" else None
        argv = command(kind, str(workdir), limits.python, network=limits.network)
        return argv, None, drop[0] if drop else os.getuid()
    prefix = () if limits.network else isolation_prefix()
    guard_dir = None
    if not limits.network and not prefix:
        guard_dir = workdir / ".guard"
        guard_dir.mkdir()
        (guard_dir / "sitecustomize.py").write_text(_SOCKET_GUARD, "utf-8")
    return [*prefix, limits.python or sys.executable, "program.py"], guard_dir, os.getuid()


def run_program(source: str, limits: SandboxLimits | None = None) -> ExecResult:
    """Run `source` as a Python script; passed means exit code 0 within `limits.timeout`."""
    limits = limits or SandboxLimits()
    kind = sandbox_kind(limits)
    workdir = Path(tempfile.mkdtemp(prefix="diffcoder-sandbox-"))
    # Output goes to files, not pipes: RLIMIT_FSIZE caps a flood, and a daemonised child that
    # keeps the stream open cannot make us wait for it.
    out_path, err_path = workdir / ".stdout", workdir / ".stderr"
    try:
        (workdir / "program.py").write_text(source, "utf-8")
        argv, guard_dir, uid = _launch(kind, workdir, limits)
        start = time.perf_counter()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(
                argv,
                cwd=workdir,
                env=_environment(workdir, guard_dir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=_limit_setter(limits, uid),
            )
        try:
            process.wait(timeout=limits.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        _kill_group(process)  # leftovers (daemonised children) die with the group too
        seconds = time.perf_counter() - start
        code = None if timed_out else process.returncode
        return ExecResult(code == 0, code, timed_out, seconds, _tail(out_path), _tail(err_path))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_programs(
    sources: Iterable[str],
    limits: SandboxLimits | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
) -> list[ExecResult]:
    """`run_program` over many sources with a small pool; results in input order."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda source: run_program(source, limits), sources))
