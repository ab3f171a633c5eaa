"""Asking before a command touches many experiments (``sfgen reset``, ``sfgen cancel``): y/N on a
terminal; without one, a refusal that names ``--yes``."""

from __future__ import annotations

import sys

from sfgen.exceptions import SfgenError

CONFIRM_ABOVE = 5  # acting on more than this many experiments asks first


def confirmed(verb: str, count: int, consequence: str, yes: bool) -> bool:
    """Whether to go on with ``verb`` (e.g. "reset") on ``count`` experiments."""
    if count <= CONFIRM_ABOVE or yes:
        return True
    if not sys.stdin.isatty():
        raise SfgenError(f"refusing to {verb} {count} experiments without confirmation (stdin is not a terminal): pass --yes")
    print(f"sfgen: {verb} {count} experiments, {consequence}? [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
