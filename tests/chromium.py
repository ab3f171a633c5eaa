"""A real headless Chromium, driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: no
port, no extra package): open a page, record every network request it makes, read its DOM, screenshot it.

Why the protocol rather than ``--dump-dom``/``--screenshot``: it reports each request the page makes
(``Network.requestWillBeSent``, file: URLs included), which is how the tests show that a report fetches
nothing. As a second guard, Chromium is pointed at a proxy where nothing listens and resolves no name, so
even a request the tests failed to see could not leave the machine.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from conftest import wait_for

BINARY = next((path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None)


class Chromium:
    def __init__(self, profile_dir: Path, width: int = 1200, height: int = 900):
        assert BINARY, "no chromium on PATH"
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()
        argv = [
            BINARY, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
            "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile_dir}", f"--window-size={width},{height}", "--remote-debugging-pipe",
            "about:blank",
        ]
        log = os.open(profile_dir.parent / "chromium.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        actions = [(os.POSIX_SPAWN_DUP2, to_browser, 3), (os.POSIX_SPAWN_DUP2, from_browser, 4),
                   (os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2)]
        self.pid = os.posix_spawn(BINARY, argv, os.environ, file_actions=actions, setsid=True)
        for fd in (to_browser, from_browser, log):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Network.enable", session=True)
        self.call("Page.enable", session=True)

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: bool = False, timeout: float = 60, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept in ``events``."""
        self._next_id += 1
        command = {"id": self._next_id, "method": method, "params": params}
        if session:
            command["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def open(self, url: str, timeout: float = 60) -> list[str]:
        """Load ``url`` until its load event; the URL of every request it made."""
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + timeout
        while not any(event.get("method") == "Page.loadEventFired" for event in self.events):
            self.events.append(self._message(deadline))
        return [event["params"]["request"]["url"] for event in self.events
                if event.get("method") == "Network.requestWillBeSent"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, max_height: int = 4000) -> None:
        """The whole page (up to ``max_height`` CSS pixels) as a PNG."""
        size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
        shot = self.call("Page.captureScreenshot", session=True, format="png", clip=clip, captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (OSError, TimeoutError, EOFError, RuntimeError):
            pass
        try:
            wait_for(lambda: os.waitpid(self.pid, os.WNOHANG) != (0, 0), timeout=10, what="Chromium to exit")
            reaped = True
        except AssertionError:
            reaped = False
        try:
            os.killpg(self.pid, signal.SIGKILL)  # its zygote and renderers, should any outlive it
        except ProcessLookupError:
            pass
        if not reaped:
            os.waitpid(self.pid, 0)
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
