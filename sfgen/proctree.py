"""An experiment's whole process tree, held by its launcher from start to end.

A process group is not enough: a double-forked ``setsid`` daemon, or a child in a session of its own,
leaves it and would outlive the run, holding the GPU and the experiment's locks (inherited descriptors).
So the launcher makes itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``): whatever the
experiment starts, however it detaches, is re-parented to the launcher, not to init, and stays below it
where :func:`descendants` finds it. The experiment itself gets ``PR_SET_PDEATHSIG``: if the launcher is
killed (``kill -9``), the experiment is stopped rather than left to finish unrecorded, as when Snakemake
dies. Linux only; elsewhere both are skipped and the process group is what is stopped.

Standard library only, loaded by every launcher; ``ctypes`` is imported when the launcher starts its
experiment, not before.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


_libc: list = []  # the C library, loaded once (before a fork: the experiment's preexec_fn uses it)


def _prctl(option: int, value: int) -> bool:
    try:
        if not _libc:
            import ctypes

            _libc.append(ctypes.CDLL(None, use_errno=True))
        return _libc[0].prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux
        return False


def become_subreaper() -> bool:
    """Have this process adopt every orphan below it (see the module docstring)."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def stopped_with_parent(signum: int) -> Callable[[], None]:
    """A ``preexec_fn`` for the experiment: ``signum`` reaches it when the process that started it dies."""
    parent = os.getpid()

    def arm() -> None:
        _prctl(_PR_SET_PDEATHSIG, signum)
        if os.getppid() != parent:  # it died before the line above: stop now
            os.kill(os.getpid(), signum)

    return arm


def descendants(root: int | None = None) -> list[int]:
    """Every live process below ``root`` (this process), children before their children; zombies,
    which have ended, are left out."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], list(children.get(root, ()))
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(children.get(pid, ()))
    return found


def reap() -> None:
    """Collect the exit status of every ended child (adopted orphans included), so none stays a zombie.
    Call it only after the experiment's own ``Popen`` has collected its status."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def stop_all(signum: int, timeout: float) -> bool:
    """Stop every process below this one: ``signum``, then SIGKILL to what is left after ``timeout``
    seconds. True if there was anything to stop."""
    left = descendants()
    if not left:
        reap()
        return False
    signal_all(left, signum)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        reap()
        left = descendants()
    signal_all(left, signal.SIGKILL)
    deadline = time.monotonic() + 5  # a process in uninterruptible sleep ends when the kernel lets it
    while descendants() and time.monotonic() < deadline:
        time.sleep(0.01)
        reap()
    reap()
    return True
