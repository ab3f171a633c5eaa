"""A stand-in for a Sample Factory training run: prints the lines SF prints while it trains, to stderr.

The progress lines are SF's own format strings, copied from both generations (SF1 ``appo.py`` at v1.121.4,
SF2 ``algo/runners/runner.py``), through SF's colorlog format ``%(log_color)s[%(asctime)s][%(process)05d]
%(message)s`` with colorlog's escape codes::

    Fps is (10 sec: 4096.0, 60 sec: 4000.0, 300 sec: nan). Total num frames: 2500000. Throughput: ...
    Avg episode reward: [(0, '7.500')]

Around them it prints what each generation adds (SF2: its configuration, heartbeats, "Saving new best
policy, reward=..."; SF1: weight updates and worker timings; both: a shutdown with profiles). Those lines
are plausible, not copied: they are there so that a reader has to pick SF's progress out of the noise.

Options: ``--sf=1|2``, ``--train_for_env_steps=N`` (or ``--train_for_env_steps N``: the target),
``--frames=N`` frames reached by the last report, ``--reports=K`` (0: no progress line at all),
``--fps=F``, ``--reward=R`` (the last report's reward; policy p gets R + 2p; by default it follows
``--learning_rate`` and ``--seed``, as a sweep's would), ``--policies=P``, ``--seconds=S`` spread the
reports over S seconds,
``--noise=N`` shutdown lines after the last report, ``--hold=PATH`` after the reports, wait until PATH
exists (10 minutes at most), ``--fail_once=PATH`` exit 1 unless PATH exists, creating it (the next
attempt succeeds), ``--exit=N`` exit code (a traceback first, when it is not 0).
"""

import math
import os
import sys
import time

DEBUG, INFO, RESET = "\x1b[36m", "\x1b[37m\x1b[01m", "\x1b[0m"


def log(message: str, colour: str = DEBUG) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S") + f",{int(time.time() * 1000) % 1000:03d}"
    sys.stderr.write(f"{colour}[{stamp}][{os.getpid():05d}] {message}{RESET}\n")
    sys.stderr.flush()


def report(generation: int, frames: int, fps: float, rewards: list[float] | None, first: bool) -> None:
    windows = f"10 sec: {fps:.1f}, 60 sec: {'nan' if first else f'{fps * 0.98:.1f}'}, 300 sec: nan"
    samples = ", ".join(f"{p}: {fps / 2:.1f}" for p in range(len(rewards or [0])))
    log(f"Fps is ({windows}). Total num frames: {frames}. Throughput: {samples}. Samples: {frames // 4}. "
        "Policy #0 lag: (min: 0.0, avg: 1.2, max: 3.0)")
    if rewards is not None:
        log("Avg episode reward: %r" % [(p, f"{r:.3f}") for p, r in enumerate(rewards)])
        if generation == 2:
            log(f"Saving new best policy, reward={rewards[0]:.3f}!", INFO)
    if generation == 1:
        log(f"Updated weights on worker 0, policy_version {frames // 1000} (0.00032)")
    else:
        log("Heartbeat connected on Batcher_0", INFO)


def main() -> int:
    argv = sys.argv[1:]
    options = dict(arg[2:].split("=", 1) for arg in argv if arg.startswith("--") and "=" in arg)
    if "--train_for_env_steps" in argv:
        options["train_for_env_steps"] = argv[argv.index("--train_for_env_steps") + 1]
    generation = int(options.get("sf", 2))
    policies = int(options.get("policies", 1))
    reports, frames_total = int(options.get("reports", 3)), int(options.get("frames", 0))
    fps = float(options.get("fps", 4096))
    learning_rate, seed = float(options.get("learning_rate", 1e-3)), int(options.get("seed", 0))
    default = 20 - 4 * abs(math.log10(learning_rate) + 3.5) + seed / 3
    reward = float(options.get("reward", default))
    if generation == 2:
        log("Starting experiment with the following configuration:\n"
            f"train_for_env_steps={options.get('train_for_env_steps', 10000000000)}\nnum_policies={policies}", INFO)
    else:
        log(f"Initializing actor-critic model on device cuda:0, {policies} policies", INFO)
    print("stdout of the trainer: environments created", flush=True)
    for index in range(1, reports + 1):
        rewards = [reward - (reports - index) + 2 * p for p in range(policies)]
        report(generation, frames_total * index // reports, fps, rewards, index == 1)
        time.sleep(float(options.get("seconds", 0)) / reports)
    deadline = time.monotonic() + 600
    while options.get("hold") and not os.path.exists(options["hold"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    for index in range(int(options.get("noise", 0))):
        log(f"RolloutWorker_w{index % 8} profile tree view: wait_policy_total: {index * 0.1:.4f}, "
            f"env_step: {index * 0.37:.4f}, process_policy_outputs: {index * 0.05:.4f}", INFO)
    if reports:
        log(f"Collected {{0: {frames_total}}}, FPS: {fps:.1f}", INFO)
    code = int(options.get("exit", 0))
    fail_once = options.get("fail_once")
    if fail_once and not os.path.exists(fail_once):
        open(fail_once, "w").close()
        code = 1
    if code:
        print("Traceback (most recent call last):\n  File \"train.py\", line 42, in <module>\n"
              "RuntimeError: CUDA error: an illegal memory access was encountered", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
