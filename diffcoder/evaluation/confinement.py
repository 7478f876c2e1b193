"""How the sandbox confines a program's view of the machine, decided once per interpreter.

`namespaces` (util-linux `unshare`, then `jail.py` inside): a private mount namespace in which the
whole file system is read-only except the program's own directory, the home directories are
covered by empty read-only mounts (the interpreter's own directories are bound back, read-only),
/dev/shm is a small private tmpfs, /proc shows only the program's PID namespace, the network
namespace has no interfaces; host root becomes `nobody`, any other user keeps its uid without a
single capability (root of a user namespace). `bubblewrap` (`bwrap`, where `unshare` cannot):
the same view, made by bwrap. `none`: nothing of this works here; the sandbox refuses to run
programs unless the caller allows it (`--unconfined`), and then only limits time, memory and
network.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NOBODY = 65534
JAIL = Path(__file__).with_name("jail.py")
PROBE_TIMEOUT = 20.0
KINDS = ("namespaces", "bubblewrap", "none")
_FACTS = (
    "import json, os, sys\n"
    "roots = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,\n"
    "         os.path.dirname(os.path.realpath(sys.executable))}\n"
    "roots |= {p for p in sys.path if os.path.isdir(p)}\n"
    "print(json.dumps({'executable': sys.executable,\n"
    "                  'roots': sorted({os.path.realpath(r) for r in roots})}))\n"
)
# Run in the jail by the probe: its own directory is writable, the one above it is not.
_PROBE = (
    "import os, sys\n"
    "open('written', 'w').write('x')\n"
    "outside = os.path.join(os.path.dirname(os.getcwd()), os.path.basename(os.getcwd()) + '.x')\n"
    "try:\n    open(outside, 'w').close()\nexcept OSError:\n    print('confined')\n"
    "else:\n    os.remove(outside)\n    print('writable: ' + outside)\n"
)


class SandboxUnavailable(RuntimeError):
    """Programs cannot be confined here and running them unconfined was not allowed."""


@dataclass(frozen=True)
class Interpreter:
    executable: str  # as the interpreter names itself (a venv's python, not the shim that ran it)
    roots: tuple[str, ...]  # its prefixes and import path, real paths


@lru_cache(maxsize=8)
def interpreter(python: str | None) -> Interpreter:
    command = [python or sys.executable, "-I", "-c", _FACTS]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT)
        facts = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        raise SandboxUnavailable(f"{command[0]} does not run as a Python interpreter") from None
    return Interpreter(facts["executable"], tuple(facts["roots"]))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def hidden_dirs() -> list[str]:
    """The home directories: the user's ($HOME and its passwd entry), /root and /home."""
    candidates = [os.path.expanduser("~"), pwd.getpwuid(os.getuid()).pw_dir, "/root", "/home"]
    return _outermost({os.path.realpath(p) for p in candidates if os.path.isdir(p)} - {"/"})


def private_ancestor(path: str) -> str | None:
    """The first directory on the way to `path` that others may not enter (nobody could not
    reach `path` through it), if any."""
    parts = Path(path).parts
    for depth in range(2, len(parts)):  # the path itself is theirs to open, or not
        ancestor = str(Path(*parts[:depth]))
        try:
            if not os.stat(ancestor).st_mode & 0o001:
                return ancestor
        except OSError:
            return None
    return None


def _outermost(paths: set[str]) -> list[str]:
    return sorted(p for p in paths if not any(_under(p, q) and p != q for q in paths))


def exposed_dirs(python: Interpreter, hidden: list[str]) -> list[str]:
    """The interpreter's directories that lie inside a hidden one: bound back read-only."""
    return _outermost({r for r in python.roots if any(_under(r, h) and r != h for h in hidden)})


def runs_as() -> tuple[int, int] | None:
    """Whom the program runs as: nobody when we are root; None keeps the uid, without
    capabilities."""
    return (NOBODY, NOBODY) if os.geteuid() == 0 else None


def command(kind: str, workdir: str, python: str | None, *, network: bool) -> list[str]:
    """The argv that runs `program.py` in `workdir` confined by `kind` (not `none`)."""
    facts = interpreter(python)
    hidden = hidden_dirs()
    if kind == "namespaces" and runs_as() is not None:
        # Where nobody could not pass, it is given a bare read-only path to what it needs.
        private = {private_ancestor(p) for p in (*facts.roots, workdir)} - {None}
        hidden = _outermost({*hidden, *private})  # type: ignore[arg-type]
    exposed = exposed_dirs(facts, hidden)
    target = [facts.executable, "program.py"]
    if kind == "namespaces":
        unshare = shutil.which("unshare") or "unshare"
        flags = ["--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]
        flags += [] if network else ["--net"]
        flags += [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
        drop = runs_as()
        scratch = ["/dev/shm"] if os.path.isdir("/dev/shm") else []
        spec = {"workdir": workdir, "hide": hidden, "expose": exposed, "scratch": scratch}
        spec.update({"uid": drop[0], "gid": drop[1]} if drop else {})
        jail = [sys.executable, "-I", "-S", str(JAIL), json.dumps(spec), "--"]
        return [unshare, *flags, *jail, *target]
    if kind == "bubblewrap":
        argv = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev"]
        argv += ["--proc", "/proc", "--tmpfs", "/dev/shm", "--unshare-pid", "--unshare-ipc"]
        argv += [] if network else ["--unshare-net"]
        for path in hidden:
            argv += ["--tmpfs", path]
        for path in exposed:
            argv += ["--ro-bind", path, path]
        for path in hidden:
            argv += ["--remount-ro", path]
        argv += ["--bind", workdir, workdir, "--chdir", workdir, "--die-with-parent"]
        return [*argv, "--cap-drop", "ALL", "--", *target]
    raise ValueError(f"no confinement command for {kind!r}")


def prepare_workdir(kind: str, workdir: Path) -> None:
    """The program's directory belongs to whom the program runs as."""
    drop = runs_as() if kind == "namespaces" else None
    if drop is not None:
        os.chown(workdir, *drop)


def _try(kind: str, python: str | None, network: bool) -> str | None:
    """None when `kind` confines a program here, else what went wrong (one line)."""
    tool = {"namespaces": "unshare", "bubblewrap": "bwrap"}[kind]
    if shutil.which(tool) is None:
        return f"{tool} is not installed"
    workdir = Path(tempfile.mkdtemp(prefix="diffcoder-sandbox-"))
    try:
        (workdir / "program.py").write_text(_PROBE, "utf-8")
        prepare_workdir(kind, workdir)
        argv = command(kind, str(workdir), python, network=network)
        done = subprocess.run(
            argv, cwd=workdir, capture_output=True, text=True, timeout=PROBE_TIMEOUT
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"{tool} could not run: {error}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if done.returncode == 0 and done.stdout.strip() == "confined":
        return None
    said = (done.stderr.strip().splitlines() or [done.stdout.strip()])[-1:]
    return f"{tool} failed ({said[0] if said else f'exit status {done.returncode}'})"


@dataclass(frozen=True)
class Confinement:
    kind: str  # one of KINDS
    why_not: tuple[str, ...] = ()  # for `none`: what each way answered

    def refusal(self) -> str:
        return (
            "cannot confine the programs (" + "; ".join(self.why_not) + "): they would run "
            "with your user's access to every file. Allow user namespaces (or install "
            "bubblewrap), or pass --unconfined to run them anyway"
        )


@lru_cache(maxsize=8)
def confinement(python: str | None = None, network: bool = False) -> Confinement:
    """The first way that confines a probe program here, for this interpreter."""
    answers = []
    for kind in KINDS[:-1]:
        problem = _try(kind, python, network)
        if problem is None:
            return Confinement(kind)
        answers.append(problem)
    return Confinement("none", tuple(answers))


def describe(kind: str) -> str:
    """What is confined, for messages and reports."""
    if kind == "none":
        return "unconfined: time, memory and network limits only"
    who = "as nobody" if kind == "namespaces" and runs_as() else "without capabilities"
    return (
        f"{kind}: read-only file system except the program's directory, home directories "
        f"hidden, private /dev/shm and PID namespace, no network, {who}"
    )
