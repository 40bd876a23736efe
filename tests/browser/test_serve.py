"""``workbench serve --demo`` in a real browser: headless Chromium opens the page,
the app's panes render in its terminal, and a key press typed into the page
changes what the app shows. And the server's websocket refuses pages of any
other origin (any site open in the user's browser could otherwise drive the app),
while the served page opened by any loopback name (localhost, 127.0.0.1, [::1]) may.

Chromium is driven through the Chrome DevTools protocol over its websocket
(aiohttp's client, which textual-serve already needs). textual-serve draws the
terminal on a canvas, so the text is read from xterm.js's own screen buffer:
a script installed before the page loads keeps a reference to the page's
``Terminal`` object when the page stores it, without changing anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1400,900",
]

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                                  "(apt-get install -y chromium)")
aiohttp = pytest.importorskip("aiohttp", reason="aiohttp comes with textual-serve (pip install textual-serve)")
pytest.importorskip("textual_serve", reason="workbench serve needs textual-serve (pip install textual-serve)")

#: Keeps the page's xterm.js Terminal when the page assigns it to ``.terminal``.
CAPTURE_TERMINAL = """
(() => {
  const found = [];
  Object.defineProperty(window, "__workbenchTerminals", {value: found});
  Object.defineProperty(Object.prototype, "terminal", {
    configurable: true,
    get() { return undefined; },
    set(value) {
      Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
      if (value && value.buffer && typeof value.write === "function") { found.push(value); }
    },
  });
})();
"""

#: The text on the terminal's screen, one line per row (null before the terminal exists).
SCREEN_TEXT = """
(() => {
  const term = (window.__workbenchTerminals || [])[0];
  if (!term) { return null; }
  const buffer = term.buffer.active;
  const rows = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
})()
"""

STARTUP_DEADLINE = 60.0
RENDER_DEADLINE = 60.0


# --------------------------------------------------------------------------- processes
class Lines:
    """A process's output, read line by line in a thread (so waits can have deadlines)."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in iter(stream.readline, ""):
            self.lines.put(line)
        stream.close()

    def wait_for(self, pattern: str, deadline: float) -> re.Match[str]:
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            except queue.Empty:
                continue
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no line matching {pattern!r} in time; got: {''.join(self.seen)!r}")


def _stop(process: subprocess.Popen[Any]) -> None:
    """End ``process`` and what it started (it leads its own process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # children left behind by a process that ended


def _serve_argv() -> list[str]:
    from workbench.cli import build_parser

    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    if "serve" in subcommands.choices:
        return [sys.executable, "-m", "workbench", "serve"]
    # Not wired into `workbench` yet: the same command through its own entry point.
    return [sys.executable, "-m", "workbench.cli.serve"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``workbench serve --demo`` on a free loopback port; its URL."""
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([*_serve_argv(), "--demo", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        output = Lines(process.stdout)
        match = output.wait_for(r"open (http://127\.0\.0\.1:\d+)/ in a browser", time.monotonic() + STARTUP_DEADLINE)
        url = match.group(1) + "/"
        deadline = time.monotonic() + STARTUP_DEADLINE
        while True:
            assert process.poll() is None, f"workbench serve exited: {''.join(output.seen)}"
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "workbench serve did not answer in time"
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[str]:
    """Headless Chromium with a fresh profile; its DevTools browser websocket URL."""
    profile = tmp_path / "chromium-profile"
    process = subprocess.Popen([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_DEADLINE
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            assert process.poll() is None, "chromium exited at start-up"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port in time"
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        yield f"ws://127.0.0.1:{port}{path}"
    finally:
        _stop(process)


# --------------------------------------------------------------------------- DevTools protocol
class DevTools:
    """A minimal Chrome DevTools protocol client: commands and their answers, by id."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            future = self._pending.pop(data.get("id"), None)
            if future is not None and not future.done():
                if "error" in data:
                    future.set_exception(RuntimeError(f"DevTools: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))

    async def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
                   timeout: float = 30) -> Any:
        message_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self.socket.send_str(json.dumps(message))
        return await asyncio.wait_for(future, timeout)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def page_session(browser_url: str) -> AsyncIterator[tuple[DevTools, str]]:
    async with aiohttp.ClientSession() as http, http.ws_connect(browser_url, max_msg_size=0) as socket:
        tools = DevTools(socket)
        try:
            target = await tools.send("Target.createTarget", {"url": "about:blank"})
            attached = await tools.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
            yield tools, attached["sessionId"]
        finally:
            await tools.close()


async def screen_text(tools: DevTools, session: str) -> str | None:
    result = await tools.send("Runtime.evaluate", {"expression": SCREEN_TEXT, "returnByValue": True},
                              session=session)
    return result.get("result", {}).get("value")


async def wait_for_screen(tools: DevTools, session: str, wanted: list[str], deadline: float) -> str:
    text: str | None = None
    while time.monotonic() < deadline:
        text = await screen_text(tools, session)
        if text is not None and all(word in text for word in wanted):
            return text
        await asyncio.sleep(0.25)
    raise AssertionError(f"the page never showed {wanted}; last screen:\n{text}")


async def press(tools: DevTools, session: str, key: str, code: str, key_code: int, *, shift: bool = False) -> None:
    """A real key press (down, up) as the browser would get it from the keyboard."""
    modifiers = 8 if shift else 0
    down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": key_code, "modifiers": modifiers}
    if len(key) == 1:  # a printable key also types its character
        down.update(text=key, unmodifiedText=key)
    else:
        down["type"] = "rawKeyDown"
    await tools.send("Input.dispatchKeyEvent", down, session=session)
    await tools.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code,
                                                "windowsVirtualKeyCode": key_code, "modifiers": modifiers},
                     session=session)


# --------------------------------------------------------------------------- the browser test
@needs_chromium
@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])  # the printed URL, and the name users type
async def test_the_app_renders_in_the_browser_and_answers_keys(served: str, chromium: str, tmp_path: Path,
                                                               name: str) -> None:
    async with page_session(chromium) as (tools, session):
        await tools.send("Page.enable", session=session)
        await tools.send("Runtime.enable", session=session)
        await tools.send("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE_TERMINAL}, session=session)
        await tools.send("Page.navigate", {"url": served.replace("127.0.0.1", name, 1)}, session=session)

        # The page is textual-serve's, and the app's three panes render in its terminal, with
        # the demo's profiles listed (the app opened its embedded simulator).
        screen = await wait_for_screen(tools, session, ["Profiles", "Operations", "demo-glance",
                                                        "demo-yandex"],
                                       time.monotonic() + RENDER_DEADLINE)
        assert "keys and commands" not in screen
        # The demo opens its first profile (Kusto): its images are listed from the simulator.
        await wait_for_screen(tools, session, ["demo-kusto", "customImage1"], time.monotonic() + RENDER_DEADLINE)
        page = await tools.send("Runtime.evaluate", {"returnByValue": True, "expression": (
            "[document.querySelector('.intro div').textContent.trim(), "
            "document.body.classList.contains('-first-byte')]")},
            session=session)
        assert page["result"]["value"] == ["Image Workbench", True]  # serve's --title; the app's bytes arrived

        # A key typed into the page reaches the app: "?" opens the help screen ...
        await tools.send("Runtime.evaluate", {"expression": "window.__workbenchTerminals[0].focus()"},
                         session=session)
        await press(tools, session, "?", "Slash", 191, shift=True)
        screen = await wait_for_screen(tools, session, ["keys and commands"], time.monotonic() + RENDER_DEADLINE)
        # ... and Escape closes it again.
        await press(tools, session, "Escape", "Escape", 27)
        deadline = time.monotonic() + RENDER_DEADLINE
        while "keys and commands" in (await screen_text(tools, session) or ""):
            assert time.monotonic() < deadline, "the help screen did not close on Escape"
            await asyncio.sleep(0.25)

        shot = await tools.send("Page.captureScreenshot", {"format": "png"}, session=session)
        image = base64.b64decode(shot["data"])
        assert image.startswith(b"\x89PNG")
        (tmp_path / "serve.png").write_bytes(image)


# --------------------------------------------------------------------------- the websocket's origin check
#: A stand-in for the app, speaking textual-serve's process protocol: it notes that it
#: started, says hello in a data packet, and runs until it is told to quit.
FAKE_APP = """
import os, sys
with open(sys.argv[1], "a") as started:
    started.write(f"{os.getpid()}\\n")
out = sys.stdout.buffer
payload = b"hello from the app"
out.write(b"__GANGLION__\\n" + b"D" + len(payload).to_bytes(4, "big") + payload)
out.flush()
while chunk := sys.stdin.buffer.read1(65536):
    if b'"quit"' in chunk:
        break
"""

FOREIGN_ORIGINS = [
    "http://evil.example",  # any other site open in the browser
    "null",  # a sandboxed iframe, a file:// page
    "https://127.0.0.1:{port}",  # same host and port, other scheme
    "http://127.0.0.1:{other}",  # same host, another port (another local web app)
    "http://localhost:{other}",  # a loopback name is ours only with our port
    "http://[::1]:{other}",
    "http://[::1]:{port}",  # our port on the other loopback address: maybe another program
    "https://localhost:{port}",
    "http://127.0.0.1:{port}.evil.example",
    "http://localhost.evil.example:{port}",
]

#: The page opened by another loopback name than the printed URL's: still the server's own.
LOOPBACK_ALIASES = ["http://localhost:{port}", "http://LocalHost:{port}/"]  # the server is on 127.0.0.1


#: ``workbench serve``'s own server, serving FAKE_APP: argv[1] port, argv[2] the app's command.
SERVE_FAKE_APP = """
import sys
from workbench.cli.serve import make_server
port = int(sys.argv[1])
print(f"serving on {port}", flush=True)
make_server(sys.argv[2], host="127.0.0.1", port=port, title="origin test",
            public_url=f"http://127.0.0.1:{port}").serve()
"""


@pytest.fixture
def fake_app_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``workbench serve``'s server running FAKE_APP for each session, in its own process:
    (its URL, the file each started app process appends its pid to)."""
    import shlex

    from workbench.cli.serve import _free_port

    script = tmp_path / "fake_app.py"
    script.write_text(FAKE_APP)
    started = tmp_path / "started.txt"
    port = _free_port("127.0.0.1")
    command = shlex.join([sys.executable, str(script), str(started)])
    process = subprocess.Popen([sys.executable, "-c", SERVE_FAKE_APP, str(port), command],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    try:
        output = Lines(process.stdout)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_DEADLINE
        output.wait_for(rf"serving on {port}", deadline)
        while True:
            assert process.poll() is None, f"the server exited: {''.join(output.seen)}"
            try:
                if httpx.get(url + "/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not answer in time"
            time.sleep(0.2)
        yield url, started
    finally:
        _stop(process)


async def test_a_websocket_from_another_origin_is_refused_before_any_app_starts(fake_app_server) -> None:
    url, started = fake_app_server
    port = int(url.rsplit(":", 1)[1])
    async with aiohttp.ClientSession() as http:
        for origin in [o.format(port=port, other=port + 1) for o in FOREIGN_ORIGINS]:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                async with http.ws_connect(url + "/ws", origin=origin):
                    pass
            assert refused.value.status == 403, origin
        # A client that sends no Origin at all is refused too.
        async with http.get(url + "/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                   "Sec-WebSocket-Version": "13",
                                                   "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode()}
                            ) as answer:
            assert answer.status == 403
            assert f"is not {url}; open {url}/ in the browser" in await answer.text()
    assert not started.exists()  # no app process was started for any of them


async def test_a_websocket_from_the_served_page_drives_the_app(fake_app_server) -> None:
    url, started = fake_app_server
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/") as page:  # the page connects to its own server's websocket
            assert page.status == 200
            assert f"ws://127.0.0.1:{url.rsplit(':', 1)[1]}/ws" in await page.text()
        async with http.ws_connect(url + "/ws", origin=url) as socket:  # what the browser sends for that page
            first = await asyncio.wait_for(socket.receive(), timeout=STARTUP_DEADLINE)
            assert first.type == aiohttp.WSMsgType.BINARY and first.data == b"hello from the app"
            await socket.send_json(["ping", "p1"])
            pong = await asyncio.wait_for(socket.receive(), timeout=STARTUP_DEADLINE)
            assert json.loads(pong.data) == ["pong", "p1"]
    assert len(started.read_text().split()) == 1  # one session, one app process


@pytest.mark.parametrize("alias", LOOPBACK_ALIASES)
async def test_a_websocket_from_the_page_opened_by_another_loopback_name_drives_the_app(
        fake_app_server, alias: str) -> None:
    url, started = fake_app_server
    origin = alias.format(port=url.rsplit(":", 1)[1])
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "/ws", origin=origin) as socket:
        first = await asyncio.wait_for(socket.receive(), timeout=STARTUP_DEADLINE)
        assert first.type == aiohttp.WSMsgType.BINARY and first.data == b"hello from the app"
    assert len(started.read_text().split()) == 1


@pytest.mark.parametrize("host, names", [
    ("127.0.0.1", ["127.0.0.1", "localhost"]),
    ("::1", ["[::1]", "localhost"]),
    ("localhost", ["127.0.0.1", "localhost", "[::1]"]),
    ("127.0.0.2", ["127.0.0.2"]),  # the usual names do not reach it
])
def test_a_server_on_loopback_accepts_the_loopback_names_that_reach_it(host: str, names: list[str]) -> None:
    from workbench.cli.serve import websocket_origins

    public = f"http://{names[0]}:8123"
    origins = websocket_origins(public, host, 8123)
    assert origins == {f"http://{name}:8123" for name in names}
    # behind a proxy, the public URL's origin is accepted too
    proxied = websocket_origins("https://wb.example/", host, 8123)
    assert proxied == origins | {"https://wb.example"}


def test_a_page_on_another_loopback_address_is_foreign() -> None:
    from workbench.cli.serve import websocket_origins

    assert "http://[::1]:8123" not in websocket_origins("http://127.0.0.1:8123", "127.0.0.1", 8123)
    assert "http://127.0.0.1:8123" not in websocket_origins("http://[::1]:8123", "::1", 8123)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "wb.example"])
def test_a_server_off_loopback_accepts_only_its_public_url(host: str) -> None:
    from workbench.cli.serve import websocket_origins

    assert websocket_origins("http://wb.example:8123", host, 8123) == {"http://wb.example:8123"}
    assert websocket_origins("http://127.0.0.1:8123", host, 8123) == {"http://127.0.0.1:8123"}


async def test_workbench_serve_refuses_a_foreign_origin(served: str) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with http.ws_connect(served + "ws", origin="http://evil.example"):
                pass
    assert refused.value.status == 403
