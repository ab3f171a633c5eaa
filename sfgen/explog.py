"""An experiment's log (``logs/RULE.log``): the lines sfgen notes in it, and its last lines as a terminal
would show them.

sfgen's own lines start with ``==== sfgen TIME`` (:func:`note`): the launcher's header and exit lines,
and why an experiment did or did not run (re-attached, already done, waiting for an earlier run), which a
user finds where they look first; :func:`tail` leaves them out. The tail is what the launcher prints when
an experiment fails and ``sfgen status`` shows under each failure. It reads only the end of the file, so a
multi-GB log costs what a small one does; the module sits at the bottom (the launcher imports it),
standard library only.

Lines are whole: the cause of a failure is usually at the end of a long line (``ModuleNotFoundError: No
module named ...`` after a path), so a line is wrapped to a width, never cut, except one longer than
:data:`LONGEST` (a progress bar without line breaks, a dumped array), whose end is what stays.
"""

from __future__ import annotations

import os
import re
import textwrap
from datetime import datetime, timezone
from pathlib import Path

PREFIX = "==== sfgen "


def now() -> str:
    """A local ISO timestamp, as every record and log line of sfgen writes it."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def note(path: Path, line: str) -> None:
    """Append one of sfgen's own lines to the log at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as log:
        log.write(f"{PREFIX}{now()} {line}\n".encode())


_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")
TAIL_LINES = 5
LONGEST = 2000  # characters of one line shown at most: its last ones


def _whole(line: str) -> str:
    """``line`` as shown: at most its last LONGEST characters, saying how many were left out."""
    if len(line) <= LONGEST:
        return line
    return f"[{len(line) - LONGEST} characters before, in the log] ...{line[-LONGEST:]}"


def _wrapped(line: str, width: int | None) -> list[str]:
    """``line`` in pieces of at most ``width`` characters (at spaces where it can), or whole without one."""
    if width is None or len(line) <= width:
        return [line]
    return textwrap.wrap(line, width, break_on_hyphens=False, drop_whitespace=False) or [line]


def tail(path: Path, lines: int = TAIL_LINES, width: int | None = None) -> list[str]:
    """The last ``lines`` lines the experiment printed (sfgen's own header lines left out), as a terminal
    would show them: the text after a carriage return wins, escape sequences removed. With ``width``, each
    is wrapped into pieces that fit it (more than ``lines`` display lines then)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 65536))
            data = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    shown = []
    for line in data.splitlines()[-200:]:
        line = _CONTROL.sub("", line.rsplit("\r", 1)[-1]).rstrip()
        if line and not line.startswith(PREFIX):
            shown.append(_whole(line))
    return [piece for line in shown[-lines:] for piece in _wrapped(line, width)]
