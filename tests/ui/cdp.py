"""A headless Chromium and a small Chrome DevTools Protocol client, for tests of pages.

Debian's chromium, started the way this closed network needs (no background networking:
its connections out are refused, many at a time). The client talks CDP over the browser's
websocket with aiohttp (already here for textual-serve): one page target, flattened session.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp

from wpfarm_tui import programs

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
)


def chromium_path() -> str | None:
    return programs.find("chromium")


def die_with_parent() -> None:
    """preexec_fn: SIGTERM this child when the test process dies (a timeout's kill, Ctrl+C
    twice), which runs no fixture teardown; Linux's PR_SET_PDEATHSIG."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@contextmanager
def chromium(user_data_dir: Path, timeout: float = 30.0) -> Iterator[str]:
    """Start Chromium with a fresh profile; yield its browser websocket URL; stop it."""
    user_data_dir.mkdir(parents=True, exist_ok=True)
    port_file = user_data_dir / "DevToolsActivePort"
    port_file.unlink(missing_ok=True)  # an earlier run's, naming a port now closed
    log = (user_data_dir.parent / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [chromium_path() or "chromium", *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}",
         "about:blank"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=die_with_parent)
    try:
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {proc.returncode}; see {log.name}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"chromium gave no DevToolsActivePort in {timeout:.0f} s")
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        yield f"ws://127.0.0.1:{port}{path}"
    finally:
        stop_group(proc)
        log.close()


def stop_group(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """TERM the process group (a browser's or a server's children too), then KILL it."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is left
    proc.wait(timeout)


class CdpError(RuntimeError):
    pass


class Page:
    """One page target. `send` a CDP method; `evaluate` JavaScript for its value."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session_id: str) -> None:
        self.ws = ws
        self.session_id = session_id
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, browser_ws: str) -> Page:
        ws = await http.ws_connect(browser_ws, max_msg_size=0)
        await ws.send_json({"id": 0, "method": "Target.createTarget",
                            "params": {"url": "about:blank"}})
        target = (await ws.receive_json(timeout=10))["result"]["targetId"]
        await ws.send_json({"id": 0, "method": "Target.attachToTarget",
                            "params": {"targetId": target, "flatten": True}})
        while True:  # an attachedToTarget event may come before the answer
            message = await ws.receive_json(timeout=10)
            if message.get("id") == 0:
                return cls(ws, message["result"]["sessionId"])

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            future = self._waiting.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(data)

    async def send(self, method: str, params: dict[str, Any] | None = None,
                   timeout: float = 15.0) -> dict[str, Any]:
        message_id = next(self._ids)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        await self.ws.send_json({"id": message_id, "method": method, "params": params or {},
                                 "sessionId": self.session_id})
        answer = await asyncio.wait_for(future, timeout)
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error']}")
        return answer["result"]

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate",
                                 {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise CdpError(f"{expression[:60]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def press(self, key: str, code: str, key_code: int, shift: bool = False) -> None:
        """A key as a person types it: keyDown with its text (xterm reads that), keyUp."""
        common = {"key": key, "code": code, "windowsVirtualKeyCode": key_code,
                  "modifiers": 8 if shift else 0}
        await self.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": key, **common})
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", **common})

    async def close(self) -> None:
        self._reader.cancel()
        await self.ws.close()
