"""Run untrusted Python programs (model output + hidden tests) in a confined child process.

Own process group (and PID namespace where available), fresh temporary directory, timeout then
kill of the whole group, resource limits, no network, stripped environment, files removed after.
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
    """`unshare` arguments that give the child no network and its own PID namespace (so every
    descendant dies with it), or () where namespaces cannot be made (then the socket guard)."""
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


def _own_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def _limit_setter(limits: SandboxLimits) -> Callable[[], None]:
    # RLIMIT_NPROC counts every process of the real user, so the allowance is on top of those.
    nproc = limits.max_processes + (_own_process_count() if os.getuid() != 0 else 0)
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


def run_program(source: str, limits: SandboxLimits | None = None) -> ExecResult:
    """Run `source` as a Python script; passed means exit code 0 within `limits.timeout`."""
    limits = limits or SandboxLimits()
    prefix = () if limits.network else isolation_prefix()
    workdir = Path(tempfile.mkdtemp(prefix="diffcoder-sandbox-"))
    guard_dir = None
    if not limits.network and not prefix:
        guard_dir = workdir / ".guard"
        guard_dir.mkdir()
        (guard_dir / "sitecustomize.py").write_text(_SOCKET_GUARD, "utf-8")
    (workdir / "program.py").write_text(source, "utf-8")
    command = [*prefix, limits.python or sys.executable, "program.py"]
    # Output goes to files, not pipes: RLIMIT_FSIZE caps a flood, and a daemonised child that
    # keeps the stream open cannot make us wait for it.
    out_path, err_path = workdir / ".stdout", workdir / ".stderr"
    start = time.perf_counter()
    try:
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=_environment(workdir, guard_dir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=_limit_setter(limits),
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
