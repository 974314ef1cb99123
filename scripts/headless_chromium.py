"""Open a local HTML file in headless Chromium, collect console errors, and save a screenshot.

    python scripts/headless_chromium.py PAGE.html [--screenshot OUT.png] [--width 1280] [--max-height 0]

Talks the DevTools protocol over ``--remote-debugging-pipe`` (file descriptors 3 and 4, NUL-separated JSON), so
it needs no port, no websocket library and no network: only the system's Chromium (``/usr/bin/chromium``;
``GUARDRAIL_CHROMIUM`` names another). Exit code 0 when the page loaded with no console error, 1 otherwise.

``load(path)`` is what the browser test and ``scripts/make_report_images.py`` call.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",  # run as root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)


def chromium_path() -> str | None:
    """The Chromium to use: ``$GUARDRAIL_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on PATH."""
    named = os.environ.get("GUARDRAIL_CHROMIUM")
    if named:
        return named
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageLoad:
    """What loading the page gave: console messages by level, uncaught exceptions, failed requests, a screenshot."""

    url: str
    loaded: bool = False
    console: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    exceptions: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: bytes | None = None
    size: tuple[int, int] = (0, 0)  # CSS pixels of the whole page
    values: list[Any] = field(default_factory=list)  # what each of ``load(evaluate=...)`` gave

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed requests: empty for a clean load."""
        return [
            *(f"console.{level}: {text}" for level, text in self.console if level in ("error", "assert")),
            *(f"exception: {text}" for text in self.exceptions),
            *(f"request failed: {text}" for text in self.failed_requests),
        ]


class _Pipe:
    """The DevTools protocol over Chromium's pipe: send commands, read replies and events."""

    def __init__(self, process: subprocess.Popen[bytes], write_fd: int, read_fd: int) -> None:
        self.process = process
        self.write_fd = write_fd
        self.read_fd = read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium closed the pipe (exit code {self.process.poll()})")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        data: dict[str, Any] = json.loads(message)
        return data

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        command: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            command["sessionId"] = session
        os.write(self.write_fd, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, method: str, *, timeout: float = 30.0) -> dict[str, Any]:
        for index, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message.get("method") == method:
                return message
            self.events.append(message)


def load(
    path: str | Path,
    *,
    screenshot: bool = True,
    width: int = 1280,
    height: int = 900,
    max_height: int = 0,
    settle_seconds: float = 0.5,
    timeout: float = 60.0,
    evaluate: Sequence[str] = (),
) -> PageLoad:
    """Load ``path`` in headless Chromium; console messages, exceptions, failed requests and a screenshot.

    The screenshot covers the whole page (or its top ``max_height`` CSS pixels when > 0) at ``width``. Each
    JavaScript expression of ``evaluate`` is run once the page has loaded; its value lands in ``values``.
    """
    binary = chromium_path()
    if binary is None:
        raise FileNotFoundError("no chromium on PATH (apt-get install chromium, or set GUARDRAIL_CHROMIUM)")
    url = Path(path).resolve().as_uri()
    result = PageLoad(url=url)
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    with tempfile.TemporaryDirectory(prefix="guardrail-chromium-") as profile:

        def child_fds() -> None:
            # Chromium reads commands on fd 3 and writes replies on fd 4: move the pipe ends there (through fds
            # above 9, so that one end already sitting on 3 or 4 is not overwritten before it is moved).
            commands, replies = (
                fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10),
                fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10),
            )
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        # close_fds=False: subprocess would close fds 3 and 4 after preexec_fn; every other fd Python opened is
        # non-inheritable anyway.
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=child_fds,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        pipe = _Pipe(process, to_chrome_w, from_chrome_r)
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            pipe.call("Page.navigate", {"url": url}, session=session, timeout=timeout)
            pipe.wait_for("Page.loadEventFired", timeout=timeout)
            result.loaded = True
            time.sleep(settle_seconds)
            for expression in evaluate:
                answer = pipe.call(
                    "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
                )
                result.values.append(answer.get("result", {}).get("value"))
            metrics = pipe.call("Page.getLayoutMetrics", session=session)
            content = metrics.get("cssContentSize") or metrics["contentSize"]
            result.size = (int(content["width"]), int(content["height"]))
            if screenshot:
                shot_height = result.size[1] if max_height <= 0 else min(result.size[1], max_height)
                shot = pipe.call(
                    "Page.captureScreenshot",
                    {
                        "format": "png",
                        "captureBeyondViewport": True,
                        "clip": {"x": 0, "y": 0, "width": width, "height": shot_height, "scale": 1},
                    },
                    session=session,
                    timeout=timeout,
                )
                result.screenshot = base64.b64decode(shot["data"])
            pipe.call("Runtime.evaluate", {"expression": "1"}, session=session)  # drain events sent so far
        finally:
            with contextlib.suppress(RuntimeError, TimeoutError, OSError):
                pipe.call("Browser.close", timeout=5)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            os.close(to_chrome_w)
            os.close(from_chrome_r)
    for event in pipe.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            result.console.append((params.get("type", "log"), text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            result.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            result.console.append((entry.get("level", "info"), entry.get("text", "")))
        elif method == "Network.requestWillBeSent":
            result.requests.append(params.get("request", {}).get("url", ""))
        elif method == "Network.loadingFailed":
            result.failed_requests.append(f"{params.get('errorText', '')} ({params.get('type', '')})")
    return result


def main(argv: list[str] | None = None) -> int:
    """Load the page; print its errors and the requests it made; 1 if any error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("page", type=Path)
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the page here")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--max-height", type=int, default=0, help="crop the screenshot to this many CSS pixels")
    args = parser.parse_args(argv)
    page = load(args.page, screenshot=args.screenshot is not None, width=args.width, max_height=args.max_height)
    print(f"loaded {page.url}: {page.size[0]}x{page.size[1]} CSS px; requests: {len(page.requests)}")
    for request in page.requests:
        print(f"  request {request[:120]}")
    for error in page.errors:
        print(f"  ERROR {error}")
    if args.screenshot is not None and page.screenshot is not None:
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        args.screenshot.write_bytes(page.screenshot)
        print(f"wrote {args.screenshot}")
    return 1 if page.errors or not page.loaded else 0


if __name__ == "__main__":
    sys.exit(main())
