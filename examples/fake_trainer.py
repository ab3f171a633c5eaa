"""A stand-in for Sample Factory's trainer that needs no GPU: it records what it was given and exits.

It accepts any ``--key=value`` arguments, sleeps ``--fake_seconds`` (default 0.5), and writes
``<train_dir>/<experiments_root>/<experiment>/fake_trainer.json`` (or ``<train_dir>/<experiment>/...``
when there is no ``--experiments_root``) with its argv, CUDA_VISIBLE_DEVICES and start/end times.
``--fake_exit=N`` makes it exit with N.
"""

import json
import os
import sys
import time


def main() -> int:
    args = dict(arg[2:].split("=", 1) for arg in sys.argv[1:] if arg.startswith("--") and "=" in arg)
    start = time.time()
    print(f"fake trainer: {args.get('experiment')} on CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')}")
    time.sleep(float(args.get("fake_seconds", 0.5)))
    directory = os.path.join(args.get("train_dir", "train_dir"), args.get("experiments_root", ""), args.get("experiment", "unnamed"))
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "fake_trainer.json"), "w") as handle:
        json.dump(
            {"argv": sys.argv, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time()},
            handle,
        )
    return int(args.get("fake_exit", 0))


if __name__ == "__main__":
    sys.exit(main())
