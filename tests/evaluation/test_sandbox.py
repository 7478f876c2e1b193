"""The sandbox: normal programs pass; loops, fork bombs, allocations and network are contained."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from diffcoder.evaluation import sandbox
from diffcoder.evaluation.confinement import Confinement
from diffcoder.evaluation.sandbox import SandboxLimits, run_program, run_programs


def sandbox_processes(tag: bytes = b"program.py") -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            count += entry.name.isdigit() and tag in (entry / "cmdline").read_bytes()
        except OSError:
            continue
    return count


def test_a_normal_program_passes_and_a_failing_one_does_not():
    ok = run_program("import json\nprint(json.dumps([1, 2]))\n")
    assert ok.passed and ok.returncode == 0 and ok.stdout == "[1, 2]\n"
    bad = run_program("assert 1 + 1 == 3, 'arithmetic'\n")
    assert not bad.passed and bad.returncode == 1 and "arithmetic" in bad.stderr


def test_an_infinite_loop_is_killed_at_the_timeout():
    start = time.perf_counter()
    result = run_program("while True:\n    pass\n", SandboxLimits(timeout=1.0))
    assert result.timed_out and not result.passed and result.returncode is None
    assert time.perf_counter() - start < 6


def test_a_fork_bomb_is_contained_and_leaves_nothing_behind():
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    start = time.perf_counter()
    result = run_program(bomb, SandboxLimits(timeout=1.5, max_processes=32))
    assert not result.passed
    assert time.perf_counter() - start < 15
    assert sandbox_processes() == 0


def test_a_detached_child_dies_with_the_program():
    tag = f"diffcoder-detached-{os.getpid()}"
    child = f"import time; time.sleep(5)  # {tag}"
    program = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {child!r}], start_new_session=True)\n"
        "time.sleep(0.5)\n"
    )
    assert run_program(program).passed
    assert sandbox_processes(tag.encode()) == 0


def test_a_huge_allocation_fails_fast():
    result = run_program("block = bytearray(2 * 1024**3)\n", SandboxLimits(memory_mb=512))
    assert not result.passed and not result.timed_out and "MemoryError" in result.stderr


def test_a_file_larger_than_the_limit_cannot_be_written():
    program = "with open('big', 'wb') as f:\n    f.write(b'x' * (32 << 20))\n"
    assert not run_program(program, SandboxLimits(max_file_mb=4)).passed


def test_an_output_flood_is_cut_off():
    flood = "while True:\n    print('x' * 100_000)\n"
    result = run_program(flood, SandboxLimits(timeout=5.0, max_file_mb=4))
    assert not result.passed and len(result.stdout) <= 2000


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    yield server
    server.close()


def _connect_program(port: int) -> str:
    return f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"


def _accepted(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except OSError:
        return False
    return True


def test_the_network_is_unreachable(listener):
    result = run_program(_connect_program(listener.getsockname()[1]))
    assert not result.passed and not _accepted(listener)


def test_unconfined_without_namespaces_a_socket_guard_blocks_internet_sockets(
    listener, monkeypatch
):
    monkeypatch.setattr(sandbox, "confinement", lambda *a: Confinement("none", ("simulated",)))
    monkeypatch.setattr(sandbox, "isolation_prefix", lambda: ())
    unconfined = SandboxLimits(unconfined=True)
    result = run_program(_connect_program(listener.getsockname()[1]), unconfined)
    assert not result.passed and "network access is disabled" in result.stderr
    assert not _accepted(listener)
    # asyncio's event loop needs AF_UNIX socket pairs; those stay allowed.
    assert run_program("import asyncio\nasyncio.run(asyncio.sleep(0))\n", unconfined).passed


def test_environment_is_stripped_and_files_are_removed(monkeypatch):
    monkeypatch.setenv("DIFFCODER_TEST_SECRET", "hunter2")
    program = (
        "import os\nassert 'DIFFCODER_TEST_SECRET' not in os.environ\n"
        "open('scratch.txt', 'w').write('x')\nprint(os.getcwd())\n"
    )
    result = run_program(program)
    assert result.passed
    workdir = Path(result.stdout.strip())
    assert workdir.name.startswith("diffcoder-sandbox-") and not workdir.exists()


def test_programs_run_in_parallel_and_keep_their_order():
    body = "import time\nstart = time.time()\ntime.sleep(1.0)\nprint({}, start, time.time())\n"
    results = run_programs([body.format(i) for i in range(3)], workers=2)
    rows = [r.stdout.split() for r in results]
    assert [row[0] for row in rows] == ["0", "1", "2"]
    (_, start0, end0), (_, start1, end1) = [map(float, row) for row in rows[:2]]
    assert start1 < end0 and start0 < end1  # the first two ran at the same time


def test_programs_run_with_the_chosen_interpreter():
    with pytest.raises(ValueError, match="not an executable"):
        SandboxLimits(python="/nonexistent/python3")
    assert run_program("print(1)", SandboxLimits(python=sys.executable)).passed


def test_limits_are_validated():
    with pytest.raises(ValueError):
        SandboxLimits(timeout=0)
    assert os.environ.get("DIFFCODER_TEST_SECRET") is None
