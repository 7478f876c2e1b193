"""The first process inside the sandbox's namespaces: it confines the file system, drops
privileges, then becomes the program's interpreter (`exec`).

Run as a script, standard library only (`python -I -S jail.py SPEC -- python program.py`), by
`unshare --mount --pid --fork --mount-proc [--net] [--user --map-root-user]`, so every mount
here is private to the program (it refuses to run as anything but PID 1 of a new namespace).
SPEC (JSON) names:

- `workdir`: the program's directory, the only place it may write;
- `hide`: directories covered by an empty read-only tmpfs (the home directories);
- `expose`: directories under a hidden one bound back read-only (the interpreter in ~/.pyenv);
- `scratch`: private, small, writable tmpfs mounts (/dev/shm: multiprocessing's semaphores);
- `uid`/`gid`: whom to become (host root becomes nobody); without them every capability is
  dropped and root in the user namespace can no longer gain any.

Then every mount but `workdir` and `scratch` is read-only (checked in /proc/self/mountinfo).
On any failure it prints one line starting `diffcoder sandbox:` and exits with `FAILED`.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

FAILED = 121
PREFIX = "diffcoder sandbox:"
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 1, 2
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
SYS_MOUNT_SETATTR = 442  # the same number on every architecture since Linux 5.12
PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 24, 28, 38, 47
SECURE_NOROOT_LOCKED = 0b101111  # noroot and no-setuid-fixup, keep-caps off; each locked

_libc = ctypes.CDLL(None, use_errno=True)


class MountAttr(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in ("set", "clr", "propagation", "userns")]


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    encoded = [None if s is None else s.encode() for s in (source, target, fstype, data or None)]
    _check(_libc.mount(*encoded[:3], ctypes.c_ulong(flags), encoded[3]), f"mount {target}")


def set_readonly(path: str, readonly: bool, *, recursive: bool) -> None:
    """mount_setattr(2): one call for a whole tree; per-mount remounts on older kernels."""
    attr = MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) if readonly else MountAttr(0, 1)
    flags = AT_RECURSIVE if recursive else 0
    args = (SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), flags, ctypes.byref(attr))
    if _libc.syscall(*args, ctypes.c_size_t(ctypes.sizeof(attr))) == 0:
        return
    if ctypes.get_errno() != 38:  # ENOSYS: a kernel older than 5.12
        _check(-1, f"make {path} {'read-only' if readonly else 'writable'}")
    for target in mount_points() if recursive else [path]:
        if recursive and target != path and not target.startswith(path.rstrip("/") + "/"):
            continue
        kept = os.statvfs(target).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
        flags = MS_REMOUNT | MS_BIND | kept | (MS_RDONLY | MS_NOSUID if readonly else 0)
        mount(None, target, None, flags)


def _unescape(field: str) -> str:
    return field.encode().decode("unicode_escape").encode("latin-1").decode()


def mount_points() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        return [_unescape(line.split()[4]) for line in table]


def writable_mounts() -> set[str]:
    """Mount points whose visible (last) mount is writable; a covered mount cannot be reached."""
    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        top = {_unescape(row[4]): row[5].split(",") for row in map(str.split, table)}
    return {path for path, options in top.items() if "rw" in options}


def confine(spec: dict) -> None:
    workdir = spec["workdir"]
    # Open what stays reachable before anything is covered: the bind mounts come from the fds.
    keep = {path: os.open(path, os.O_PATH) for path in [workdir, *spec.get("expose", [])]}
    for path in spec.get("hide", []):
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
    for path, fd in keep.items():
        os.makedirs(path, exist_ok=True)  # inside a hiding tmpfs, the path must exist again
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    for path in spec.get("scratch", []):
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    set_readonly("/", True, recursive=True)
    for path in [workdir, *spec.get("scratch", [])]:
        set_readonly(path, False, recursive=False)
    left = writable_mounts() - {workdir, *spec.get("scratch", [])}
    if left:
        raise OSError(f"mounts stayed writable: {', '.join(sorted(left))}")


def drop_privileges(spec: dict) -> None:
    if spec.get("uid") is not None:  # host root: become nobody (no capabilities after setuid)
        os.setgroups([])
        os.setresgid(spec["gid"], spec["gid"], spec["gid"])
        os.setresuid(spec["uid"], spec["uid"], spec["uid"])
    else:  # root of a user namespace: keep the uid, lose every capability for good
        _check(_libc.prctl(PR_SET_SECUREBITS, SECURE_NOROOT_LOCKED, 0, 0, 0), "securebits")
        _check(_libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0), "clear ambient capabilities")
        cap = 0
        while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
            cap += 1
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def main(argv: list[str]) -> None:
    try:
        if os.getpid() != 1:  # never remount the host's file system: only in a fresh namespace
            raise OSError("runs only as the first process of its own PID and mount namespaces")
        spec, command = json.loads(argv[1]), argv[argv.index("--") + 1 :]
        confine(spec)
        drop_privileges(spec)
        os.chdir(spec["workdir"])
        os.execv(command[0], command)
    except (OSError, ValueError, KeyError, IndexError) as error:
        print(f"{PREFIX} {error}", file=sys.stderr, flush=True)
        os._exit(FAILED)


if __name__ == "__main__":
    main(sys.argv)
