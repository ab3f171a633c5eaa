"""Local GPU slots as flock'd files: the kernel releases a slot when every process holding it is gone.

A slot file per (GPU, index) lives in the slot dir; workflows pointed at the same dir share the GPUs.
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
    """What a starting experiment holds: its GPU (None: untouched) and the slot lock's descriptor."""

    gpu: str | None
    fd: int | None


def _pick(slot_dir: Path, gpus: list[str], per_gpu: int) -> Claim | None:
    free: list[list[int]] = []
    for gpu in gpus:
        held = []
        for index in range(per_gpu):
            fd = try_lock(slot_dir / f"gpu{gpu}.slot{index}")
            if fd is not None:
                held.append(fd)
        free.append(held)
    best = max(range(len(gpus)), key=lambda i: (len(free[i]), -i), default=None)
    chosen = None
    if best is not None and free[best]:
        chosen = Claim(gpus[best], free[best].pop(0))
    for held in free:
        for fd in held:
            os.close(fd)
    return chosen


def claim(
    slot_dir: Path,
    gpus: list[str] | None,
    per_gpu: int,
    pause_between: float,
    interrupted: Callable[[], bool],
    on_wait: Callable[[], None],
) -> Claim | None:
    """Wait for the start spacing and, when ``gpus`` is given, a free GPU slot; None if interrupted."""
    slot_dir.mkdir(parents=True, exist_ok=True)
    waited = False
    while not interrupted():
        lock = try_lock(slot_dir / "select.lock")
        if lock is None:
            time.sleep(0.05)
            continue
        try:
            last = os.pread(lock, 64, 0).decode() or "0"
            delay = float(last) + pause_between - time.time()
            if delay > 0:
                time.sleep(min(delay, 0.5))
                continue
            chosen = _pick(slot_dir, gpus, per_gpu) if gpus else Claim(None, None)
            if chosen is not None:
                stamp = f"{time.time():.6f}".encode()
                os.ftruncate(lock, 0)
                os.pwrite(lock, stamp, 0)
                return chosen
        finally:
            os.close(lock)
        if not waited:
            on_wait()
            waited = True
        time.sleep(0.2)
    return None
