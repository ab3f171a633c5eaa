"""Local GPU slots as flock'd files: the kernel releases a slot when every process holding it is gone.

A slot file per (GPU, index) lives in the slot dir; workflows pointed at the same dir share the GPUs.
Run slots (one per ``max_parallel``) live in the workflow's own state dir: the limit is per workflow.
The choice follows Sample Factory: the GPU with the most free slots, ties to the lower id. Starts are
spaced by ``pause_between`` seconds, recorded in the same lock file that serialises the choice.
Claims waiting for a slot sleep on a FIFO into which each release writes a byte: a freed slot passes
on at once, and waiting costs no CPU. The FIFO lives in a directory of the user's own (runtime dir or
/tmp), named by the slot dir's inode, so the workflow dir holds only plain files to copy or archive.
"""

from __future__ import annotations

import fcntl
import os
import select
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from sfgen.exceptions import OptionError


def gpu_ids(num_gpus: int, parent_visible: str | None) -> list[str]:
    """Device ids for slot GPUs 0..num_gpus-1: the i-th id of a parent CUDA_VISIBLE_DEVICES, else i."""
    if not parent_visible:
        return [str(i) for i in range(num_gpus)]
    listed = [item.strip() for item in parent_visible.split(",") if item.strip()]
    if len(listed) < num_gpus:
        raise OptionError(
            f"num_gpus={num_gpus} but CUDA_VISIBLE_DEVICES={parent_visible} lists {len(listed)}: "
            f"lower num_gpus or widen CUDA_VISIBLE_DEVICES"
        )
    return listed[:num_gpus]


def try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


_RECHECK = 0.1  # seconds: how often a waiting claim looks again unwoken (a holder killed, an interrupt)


class Claim:
    """What a starting experiment holds: its GPU (None: untouched), its slot locks' descriptors, and the
    FIFO that wakes the claims waiting for them."""

    def __init__(self, gpu: str | None, fds: tuple[int, ...] = (), fifo: Path | None = None):
        self.gpu = gpu
        self.fds = fds
        self.fifo = fifo

    def release(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = ()
        if self.fifo is not None:
            _wake_one(self.fifo)


def _fifo_path(slot_dir: Path) -> Path:
    slots = os.stat(slot_dir)
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"sfgen-{os.getuid()}"
    return runtime / f"slots-{slots.st_dev}-{slots.st_ino}.fifo"


def _wakeup_fifo(slot_dir: Path) -> Path | None:
    """The FIFO of the claims on ``slot_dir``; None where none can be made (no FIFOs, a runtime dir that
    is not this user's own): claims then look again every _RECHECK seconds."""
    try:
        fifo = _fifo_path(slot_dir)
        fifo.parent.mkdir(mode=0o700, exist_ok=True)
        owned = os.lstat(fifo.parent)
        if owned.st_uid != os.getuid() or owned.st_mode & 0o077:
            return None
        with suppress(FileExistsError):
            os.mkfifo(fifo, 0o600)
    except OSError:
        return None
    return fifo


def remove_wakeup_fifo(slot_dir: Path) -> None:
    """Remove the slot dir's FIFO when a run ends, so none accumulate. A run still sharing the slot dir
    makes it again at its next claim; its claims waiting meanwhile look again every _RECHECK seconds."""
    with suppress(OSError):
        _fifo_path(slot_dir).unlink()


def _listen(fifo: Path | None) -> int | None:
    """The FIFO open for reading while a claim waits; read-write, so that it never reads as closed when
    the last releaser has closed its end."""
    if fifo is None:
        return None
    try:
        return os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return None


def _wake_one(fifo: Path) -> None:
    """One byte per release: each wakes one waiting claim to look (none listening: nothing to do)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no claim waits
        return
    with suppress(BlockingIOError):
        os.write(fd, b"\0")
    os.close(fd)


def _sleep_until_woken(listening: int | None) -> None:
    if listening is None:
        time.sleep(_RECHECK)
    elif select.select([listening], [], [], _RECHECK)[0]:
        with suppress(BlockingIOError):  # another claim took the byte
            os.read(listening, 1)


def _first_free(paths: list[Path]) -> int | None:
    for path in paths:
        fd = try_lock(path)
        if fd is not None:
            return fd
    return None


def _pick_gpu(slot_dir: Path, gpus: list[str], per_gpu: int) -> tuple[str, int] | None:
    free: list[list[int]] = []
    for gpu in gpus:
        held = []
        for index in range(per_gpu):
            fd = try_lock(slot_dir / f"gpu{gpu}.slot{index}")
            if fd is not None:
                held.append(fd)
        free.append(held)
    best = max(range(len(gpus)), key=lambda i: (len(free[i]), -i))
    chosen = (gpus[best], free[best].pop(0)) if free[best] else None
    for held in free:
        for fd in held:
            os.close(fd)
    return chosen


def _try_claim(
    run_slots: list[Path], slot_dir: Path, gpus: list[str] | None, per_gpu: int, pause_between: float,
    fifo: Path | None,
) -> Claim | float | None:
    """One look, serialised by the select lock: the claim; or the seconds left of the start spacing; or
    None while no slot is free."""
    lock = os.open(slot_dir / "select.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held for a look only
        delay = float(os.pread(lock, 64, 0).decode() or "0") + pause_between - time.time()
        if delay > 0:
            return delay
        run = _first_free(run_slots)
        if run is None:
            return None
        gpu = _pick_gpu(slot_dir, gpus, per_gpu) if gpus else (None, None)
        if gpu is None:
            os.close(run)
            return None
        os.ftruncate(lock, 0)
        os.pwrite(lock, f"{time.time():.6f}".encode(), 0)
        return Claim(gpu[0], tuple(fd for fd in (run, gpu[1]) if fd is not None), fifo)
    finally:
        os.close(lock)


def claim(
    run_slots: list[Path],
    slot_dir: Path,
    gpus: list[str] | None,
    per_gpu: int,
    pause_between: float,
    interrupted: Callable[[], bool],
    on_wait: Callable[[], None],
) -> Claim | None:
    """Wait for a run slot, the start spacing and, when ``gpus`` is given, a free GPU slot; None if
    interrupted. Launchers may wait here before a slot frees: the slot passes on within a millisecond."""
    slot_dir.mkdir(parents=True, exist_ok=True)
    run_slots[0].parent.mkdir(parents=True, exist_ok=True)
    fifo = _wakeup_fifo(slot_dir)
    listening = _listen(fifo)
    try:
        waited = False
        while not interrupted():
            result = _try_claim(run_slots, slot_dir, gpus, per_gpu, pause_between, fifo)
            if isinstance(result, Claim):
                return result
            if result is not None:
                time.sleep(min(result, _RECHECK))
                continue
            if not waited:
                on_wait()
                waited = True
            _sleep_until_woken(listening)
        return None
    finally:
        if listening is not None:
            os.close(listening)
