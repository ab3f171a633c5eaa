"""A test trainer: records each run (argv, environment, pid, times) as a JSON file, then sleeps and exits.

Arguments it reads (others are recorded and ignored): ``--probe_dir=DIR`` where records go,
``--sleep=S`` seconds to sleep, ``--exit=N`` exit code, ``--spawn=1`` start a child that sleeps too
(to test that whole process trees are stopped), ``--hold=PATH`` after the sleep, run until PATH exists (at
most 10 minutes: a test releases the experiment by creating it), ``--ignore_signals=1`` note SIGINT and
SIGTERM in the record's ``signals`` and go on running (only SIGKILL stops it).
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid


def main() -> int:
    options = dict(arg[2:].split("=", 1) for arg in sys.argv[1:] if arg.startswith("--") and "=" in arg)
    record = {
        "argv": sys.argv[1:],
        "executable": sys.executable,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "env": {k: v for k, v in os.environ.items() if k.startswith("PROBE_") or k == "CUDA_VISIBLE_DEVICES"},
        "slurm": {k: v for k, v in os.environ.items() if k in ("SLURM_JOB_ID", "SLURM_JOB_GPUS")},
        "start": time.time(),
    }
    sleep = float(options.get("sleep", 0))
    child = None
    if options.get("spawn") == "1":
        child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({sleep + 60})"])
        record["child_pid"] = child.pid
    path = os.path.join(options["probe_dir"], f"{uuid.uuid4().hex}.json")
    if options.get("ignore_signals") == "1":
        record["signals"] = []

        def note(signum, _frame):
            record["signals"].append(signal.Signals(signum).name)
            _write(path, record)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, note)
    _write(path, record)
    time.sleep(sleep)
    deadline = time.monotonic() + 600
    while options.get("hold") and not os.path.exists(options["hold"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    record["end"] = time.time()
    _write(path, record)
    return int(options.get("exit", 0))


def _write(path: str, record: dict) -> None:
    """Atomically, so a test reading records never sees half of one."""
    with open(path + ".tmp", "w") as handle:
        json.dump(record, handle)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    sys.exit(main())
