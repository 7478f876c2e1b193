"""The sandbox confines files as well as time, memory and network: programs see a read-only file
system but for their own directory, no home directory, no host /tmp, no network, and not as root;
where nothing can confine them it refuses unless told `--unconfined`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from diffcoder.cli.main import main
from diffcoder.evaluation import confinement, jail, sandbox
from diffcoder.evaluation.confinement import Confinement, SandboxUnavailable
from diffcoder.evaluation.sandbox import SandboxLimits, run_program

REPO = Path(__file__).resolve().parents[2]
WORKING = [k for k in ("namespaces", "bubblewrap") if confinement._try(k, None, False) is None]


@pytest.fixture(autouse=True)
def fresh_probes():
    confinement.confinement.cache_clear()
    sandbox.isolation_prefix.cache_clear()
    yield
    confinement.confinement.cache_clear()
    sandbox.isolation_prefix.cache_clear()


@pytest.fixture(params=WORKING or ["none"])
def kind(request, monkeypatch) -> str:
    """Each way of confining that works on this machine (CI must have at least `namespaces`)."""
    if request.param == "none":
        pytest.fail("no way to confine programs works here: " + str(confinement.confinement()))
    monkeypatch.setattr(sandbox, "confinement", lambda *a: Confinement(request.param))
    return request.param


@pytest.fixture
def secrets(monkeypatch) -> Iterator[Path]:
    """Open to everyone, so that only the confinement stops a program: a home directory with a
    secret in it, and a world-writable file that must survive."""
    base = Path(tempfile.mkdtemp(prefix="diffcoder-secrets-"))
    base.chmod(0o777)
    home = base / "home"
    home.mkdir(mode=0o755)
    (home / "secret.txt").write_text("hunter2")
    (home / "secret.txt").chmod(0o644)
    monkeypatch.setenv("HOME", str(home))
    (base / "keep.txt").write_text("keep")
    (base / "keep.txt").chmod(0o666)
    yield base
    shutil.rmtree(base)


def _fails(program: str) -> sandbox.ExecResult:
    result = run_program(program)
    assert not result.passed, result.stdout
    return result


def test_the_normal_program_reads_its_files_imports_numpy_and_writes_its_directory(kind):
    program = (
        "import numpy, os, tempfile, multiprocessing\n"
        "me = open(__file__).read()\n"
        "assert 'numpy' in me\n"
        "open('out.txt', 'w').write('x' * 10)\n"
        "with tempfile.NamedTemporaryFile() as scratch:\n"
        "    assert scratch.name.startswith(os.getcwd())\n"
        "lock = multiprocessing.Lock()\n"
        "print(numpy.arange(4).sum(), sorted(os.listdir('.'))[-1], os.getuid())\n"
    )
    result = run_program(program)
    assert result.passed, result.stderr
    assert result.stdout.split()[:2] == ["6", "program.py"]
    if kind == "namespaces" and os.getuid() == 0:
        assert result.stdout.split()[2] == str(confinement.NOBODY)  # root is dropped


def test_writing_outside_its_directory_fails(kind, secrets):
    for target in (secrets / "new.txt", REPO / "pwned.txt", Path("/etc/pwned")):
        result = _fails(f"open({str(target)!r}, 'w').write('x')\n")
        assert "Read-only file system" in result.stderr or "Permission denied" in result.stderr
        assert not target.exists()


def test_deleting_or_changing_a_file_fails(kind, secrets):
    keep = secrets / "keep.txt"
    _fails(f"import os\nos.remove({str(keep)!r})\n")
    _fails(f"import os\nos.chmod({str(keep)!r}, 0o777)\n")
    _fails(f"open({str(keep)!r}, 'a').write('more')\n")
    assert keep.read_text() == "keep" and keep.stat().st_mode & 0o777 == 0o666


def test_the_home_directory_is_not_there(kind, secrets):
    secret = secrets / "home" / "secret.txt"
    result = _fails(f"print(open({str(secret)!r}).read())\n")
    assert "hunter2" not in result.stdout and "No such file" in result.stderr
    home = str(secret.parent)
    listing = run_program(
        f"import json, os\nprint(json.dumps([os.listdir({home!r}), os.listdir('/root')]))"
    )
    assert listing.passed, listing.stderr
    home, root = json.loads(listing.stdout)
    assert home == []
    # /root shows at most the path back to the interpreter (~/.pyenv here), nothing else
    exposed = confinement.exposed_dirs(confinement.interpreter(None), ["/root"])
    assert set(root) <= {Path(p).relative_to("/root").parts[0] for p in exposed}


def test_the_hosts_tmp_stays_untouched(kind, tmp_path):
    marker = Path("/tmp") / f"diffcoder-escape-{os.getpid()}"
    result = _fails(f"open({str(marker)!r}, 'w').write('x')\n")
    assert not marker.exists() and "Read-only" in result.stderr
    # /dev/shm is private: what a program leaves there is gone, never on the host
    assert run_program(f"open('/dev/shm/{marker.name}', 'w').write('x')\n").passed
    assert not (Path("/dev/shm") / marker.name).exists()


def test_sockets_do_not_reach_the_host(kind):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.3)
    try:
        port = server.getsockname()[1]
        _fails(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n")
        with pytest.raises(OSError):
            server.accept()
    finally:
        server.close()


def test_the_hosts_processes_are_out_of_sight_and_reach(kind):
    program = (
        "import os, signal\n"
        "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        f"os.kill({os.getpid()}, 0)\n"  # the test's own process, were it visible
    )
    result = _fails(program)
    assert os.getpid() not in json.loads(result.stdout) and "ProcessLookupError" in result.stderr


def test_no_capabilities_are_left(kind):
    result = run_program("print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])")
    assert result.passed and int(result.stdout, 16) == 0


def test_the_jail_falls_back_to_remounts_on_kernels_without_mount_setattr(tmp_path):
    """Linux < 5.12 has no mount_setattr: every mount is remounted read-only one by one."""
    if "namespaces" not in WORKING:
        pytest.skip("no mount namespaces here")
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "program.py").write_text(f"open({str(tmp_path / 'x')!r}, 'w')\n")
    argv = confinement.command("namespaces", str(workdir), None, network=False)
    start = argv.index(str(confinement.JAIL))
    shim = f"import sys; sys.path.insert(0, {str(Path(jail.__file__).parent)!r}); import jail; "
    shim += "jail.SYS_MOUNT_SETATTR = 100000; jail.main(sys.argv)"  # an unknown syscall: ENOSYS
    argv[start : start + 1] = ["-c", shim]
    confinement.prepare_workdir("namespaces", workdir)
    done = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Read-only file system" in done.stderr
    assert not (tmp_path / "x").exists()


def test_the_jail_never_touches_the_hosts_mounts(tmp_path):
    """Started anywhere but as PID 1 of a new namespace, the jail stops before any mount."""
    spec = {"workdir": str(tmp_path), "hide": [str(tmp_path)], "expose": [], "scratch": []}
    argv = [sys.executable, "-I", "-S", str(confinement.JAIL), json.dumps(spec), "--", "true"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == jail.FAILED and done.stderr.startswith(jail.PREFIX)
    assert "PID" in done.stderr and os.access(tmp_path, os.W_OK)


@pytest.mark.skipif(os.getuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_an_unprivileged_user_is_confined_through_a_user_namespace():
    """A non-root user gets the same confinement from a user namespace (uid kept, no caps)."""
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    if system_python is None or "namespaces" not in WORKING:
        pytest.skip("needs /usr/bin/python3 and namespaces")
    base = Path(tempfile.mkdtemp(prefix="diffcoder-unprivileged-"))
    try:
        for name in ("home", "outside"):
            (base / name).mkdir()
        base.chmod(0o755)
        (base / "outside").chmod(0o777)
        program = f"open({str(base / 'outside' / 'x')!r}, 'w')"
        script = (
            f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
            "from diffcoder.evaluation.sandbox import run_program, SandboxLimits\n"
            "from diffcoder.evaluation.confinement import confinement\n"
            "limits = SandboxLimits(python=sys.executable)\n"
            f"bad = run_program({program!r}, limits)\n"
            "ok = run_program('import os; print(os.getuid())', limits)\n"
            "print(confinement(sys.executable).kind, bad.passed, ok.passed, bad.stderr[-120:])\n"
        )
        env = {"PATH": "/usr/bin:/bin", "HOME": str(base / "home")}
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        done = subprocess.run(
            [*as_nobody, system_python, "-c", script],
            capture_output=True, text=True, timeout=120, env=env, cwd=base,
        )  # fmt: skip
        if "Permission denied" in done.stderr and "diffcoder" in done.stderr:
            pytest.skip("the repository is not readable by nobody here")
        assert done.stdout.split()[:3] == ["namespaces", "False", "True"], done.stderr
        assert "Read-only file system" in done.stdout
        assert not (base / "outside" / "x").exists()
    finally:
        shutil.rmtree(base)


def _no_namespaces(tmp_path: Path, monkeypatch) -> None:
    """A machine where neither unshare nor bwrap may create namespaces."""
    fake = tmp_path / "fakebin"
    fake.mkdir()
    for tool in ("unshare", "bwrap"):
        script = fake / tool
        script.write_text(f"#!/bin/sh\necho '{tool}: Operation not permitted' >&2\nexit 1\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")


def test_without_namespaces_programs_are_refused(tmp_path, monkeypatch):
    _no_namespaces(tmp_path, monkeypatch)
    found = confinement.confinement()
    assert found.kind == "none" and len(found.why_not) == 2
    with pytest.raises(SandboxUnavailable, match="--unconfined") as refused:
        run_program("print(1)")
    assert "unshare failed" in str(refused.value) and "bwrap failed" in str(refused.value)
    # allowed explicitly, it runs with the old limits only (here: the socket guard)
    allowed = run_program("print(1)", SandboxLimits(unconfined=True))
    assert allowed.passed and allowed.stdout == "1\n"


def test_the_command_line_refuses_before_running_and_obeys_unconfined(
    tmp_path, monkeypatch, canitedit_rows, capsys
):
    _no_namespaces(tmp_path, monkeypatch)
    argv = ["eval", "edit", "--dataset", str(canitedit_rows), "--format", "canitedit"]
    assert main([*argv, "--check-references", "--json"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("diffcoder eval: error: cannot confine the programs")
        and err.count("\n") == 1
    )
    assert main([*argv, "--check-references", "--json", "--unconfined"]) == 0
    captured = capsys.readouterr()
    assert "warning: --unconfined" in captured.err
    out = json.loads(captured.out)
    assert out["passed"] == 5 and out["sandbox"].startswith("unconfined")


def test_another_interpreter_is_confined_too(kind, tmp_path):
    """`--python` names another interpreter: its own directories stay reachable, read-only."""
    other = tmp_path / "other-venv"
    venv.create(other, with_pip=False)
    python = str(other / "bin" / "python")
    result = run_program("import sys\nprint(sys.prefix)\n", SandboxLimits(python=python))
    assert result.passed and result.stdout.strip() == str(other)
    assert not run_program(
        f"open({str(other / 'x')!r}, 'w')\n", SandboxLimits(python=python)
    ).passed
