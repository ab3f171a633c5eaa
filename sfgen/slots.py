"""Local GPU slots as flock'd files: the kernel releases a slot when every process holding it is gone.

A slot file per (GPU, index) lives in the slot dir; workflows pointed at the same dir share the GPUs.
Run slots (one per ``max_parallel``) live in the workflow's own state dir: the limit is per workflow.
The choice follows Sample Factory: the GPU with the most free slots, ties to the lower id. Starts are
spaced by ``pause_between`` seconds, recorded in the same lock file that serialises the choice.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass
class Claim:
    """What a starting experiment holds: its GPU (None: untouched) and its slot locks' descriptors."""

    gpu: str | None
    fds: tuple[int, ...] = ()

    def release(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = ()


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
    interrupted. Launchers may wait here before a slot frees: the slot passes on within milliseconds."""
    slot_dir.mkdir(parents=True, exist_ok=True)
    run_slots[0].parent.mkdir(parents=True, exist_ok=True)
    waited = False
    while not interrupted():
        lock = try_lock(slot_dir / "select.lock")
        if lock is None:
            time.sleep(0.005)
            continue
        try:
            last = os.pread(lock, 64, 0).decode() or "0"
            delay = float(last) + pause_between - time.time()
            if delay > 0:
                time.sleep(min(delay, 0.5))
                continue
            run = _first_free(run_slots)
            if run is not None:
                gpu = _pick_gpu(slot_dir, gpus, per_gpu) if gpus else (None, None)
                if gpu is not None:
                    os.ftruncate(lock, 0)
                    os.pwrite(lock, f"{time.time():.6f}".encode(), 0)
                    return Claim(gpu[0], tuple(fd for fd in (run, gpu[1]) if fd is not None))
                os.close(run)
        finally:
            os.close(lock)
        if not waited:
            on_wait()
            waited = True
        time.sleep(0.005)
    return None
