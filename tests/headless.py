"""Drives Debian's headless chromium through the DevTools protocol over --remote-debugging-pipe
(stdlib only: no websocket, no npm). The browser reads NUL-terminated JSON commands on fd 3 and
writes replies and events on fd 4 (https://chromedevtools.github.io/devtools-protocol/).

Why not `chromium --dump-dom --virtual-time-budget`: virtual time stops while any fetch is
pending, and an EventSource (/v1/events) is a fetch that never ends, so the dump never comes.
Here the test waits, in real time, for a condition on the rendered page instead."""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--remote-debugging-pipe",
]


def find_chromium():
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _above(fd, lowest):
    """A copy of `fd` numbered >= lowest; closes the original."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return high


class Chromium:
    """One headless browser with one page. Use as a context manager."""

    def __init__(self, binary, window=(1400, 1000)):
        self.window = window
        self.profile = tempfile.mkdtemp(prefix="segstream-chromium-")
        cmd_r, self._cmd_w = os.pipe()  # we write commands, chromium reads fd 3
        self._out_r, out_w = os.pipe()  # chromium writes fd 4, we read
        # Move the child's ends above 4, so putting one on fd 3 cannot overwrite the other.
        cmd_r, out_w = _above(cmd_r, 10), _above(out_w, 10)
        flags = CHROMIUM_FLAGS + [f"--user-data-dir={self.profile}",
                                  f"--window-size={window[0]},{window[1]}", "about:blank"]
        # A tiny Python trampoline puts the pipe ends on fds 3 and 4, where chromium expects them
        # (dash, the /bin/sh of Debian, cannot redirect fds above 9).
        trampoline = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
                      "os.execv(sys.argv[3], sys.argv[3:])")
        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(cmd_r), str(out_w), binary] + flags,
            pass_fds=(cmd_r, out_w), stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        os.close(cmd_r)
        os.close(out_w)
        self._buf = b""
        self._next_id = 0
        self.session = None
        self.console = []  # console messages and uncaught exceptions of the page

    def __enter__(self):
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": page["targetId"], "flatten": True})["sessionId"]
        self.call("Page.enable", session=self.session)
        self.call("Runtime.enable", session=self.session)
        # --window-size is the window, not the page: pin the viewport itself.
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.window[0], "height": self.window[1], "deviceScaleFactor": 1,
                   "mobile": False}, session=self.session)
        return self

    def __exit__(self, *exc):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - closing is best effort, kill follows
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._cmd_w)
        os.close(self._out_r)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            if time.time() > deadline:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._out_r], [], [], 0.5)
            if ready:
                chunk = os.read(self._out_r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium exited (code {self.proc.poll()})")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=30):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._on_event(reply)

    def _on_event(self, event):
        method = event.get("method")
        if method == "Runtime.consoleAPICalled":
            args = event["params"].get("args", [])
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in args)
            self.console.append(f"console.{event['params'].get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = event["params"]["exceptionDetails"]
            desc = details.get("exception", {}).get("description") or details.get("text")
            self.console.append(f"uncaught: {desc}")

    def navigate(self, url, timeout=30):
        """Loads `url` and waits for its load event."""
        result = self.call("Page.navigate", {"url": url}, session=self.session)
        if result.get("errorText"):
            raise RuntimeError(f"cannot load {url}: {result['errorText']}")
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'",
                      timeout, f"{url} to load")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate",
                           {"expression": expression, "returnByValue": True,
                            "awaitPromise": True}, session=self.session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout, what):
        """Polls a JavaScript expression until it is truthy; returns its value. An expression that
        throws (the page is not there yet) counts as false."""
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError as e:
                value = str(e)[:200]
            else:
                if value:
                    return value
            time.sleep(0.2)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last: {value!r})")

    def dom(self):
        """The rendered DOM after JavaScript, as --dump-dom would print it."""
        return self.evaluate("document.documentElement.outerHTML")

    def screenshot(self, path, full_page=False):
        """A PNG of the viewport, or of the whole page when `full_page`."""
        params = {"format": "png"}
        if full_page:
            size = self.evaluate("[document.documentElement.scrollWidth, "
                                 "document.documentElement.scrollHeight]")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1})
        data = self.call("Page.captureScreenshot", params, session=self.session)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path
