"""`wpfarm serve`: the console in a web page.

textual-serve does the web part: an aiohttp server whose page runs xterm.js, and for each
browser session a console process of its own whose screen and keys cross a websocket.
Whoever reaches the page drives the console (every action it can start), so it binds to
loopback unless the operator says `--public`; a bastion's operators reach it through an
SSH tunnel (`ssh -L 8765:127.0.0.1:8765 bastion`).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import shlex
import socket
import sys
from pathlib import Path

from wpfarm_tui.actions.base import with_read_only
from wpfarm_tui.commands.runner import ExitCode, farm_path_of
from wpfarm_tui.inventory import load_farm

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback one ("" and 0.0.0.0 are not)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass  # a name: what it resolves to decides
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback
                               for i in infos)


def console_command(farm_file: Path, read_only: bool, theme: str | None = None) -> list[str]:
    """What each browser session runs: only the farm's path, never a secret (argv is
    visible to every user of the machine); the console reads its secrets as it always does."""
    command = [sys.executable, "-m", "wpfarm_tui", "--farm", str(farm_file)]
    if theme:
        command += ["--theme", theme]
    if read_only:
        command.append("--read-only")
    return [*command, "console"]


def public_url(host: str, port: int) -> str:
    """The address the page tells the browser to open its websocket on."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()  # a wildcard is no address a browser can reach
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _server_class() -> type:
    """textual-serve's Server, but Ctrl+C ends open sessions at once. Alone it leaves an open
    tab's console until the websocket heartbeat notices the closed server (24-25 s here,
    against 4-7 s this way): an operator would think it hung and press Ctrl+C again."""
    from textual_serve.server import Server

    class SessionServer(Server):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.sessions: set[asyncio.Task] = set()

        async def handle_websocket(self, request):  # type: ignore[no-untyped-def]
            task = asyncio.current_task()
            assert task is not None
            self.sessions.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                self.sessions.discard(task)

        async def on_shutdown(self, app) -> None:  # type: ignore[no-untyped-def]
            # A cancelled session tells its console to quit and waits for it to close.
            sessions = tuple(self.sessions)
            for task in sessions:
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)

    return SessionServer


def cmd_serve(args: argparse.Namespace) -> int:
    host, port = args.host, args.port
    if not 0 < port < 65536:
        print(f"wpfarm serve: --port {port} is not a TCP port; give 1-65535", file=sys.stderr)
        return ExitCode.FAILED
    if not is_loopback(host):
        if not args.public:
            print(f"wpfarm serve: --host {host!r} is not a loopback address: anyone who "
                  "reaches it would drive the console. Pass --public to serve it there anyway, "
                  "or keep the default 127.0.0.1 and open an SSH tunnel to it.",
                  file=sys.stderr)
            return ExitCode.FAILED
        print(f"WARNING: serving the console on {host}:{port}, not on loopback: anyone who "
              "reaches this address drives the console and every action it can run. "
              "There is no login in front of it.", file=sys.stderr)
    # A bad farm file is an error here, at start, not in every browser that opens the page.
    farm_file = farm_path_of(args).resolve()
    farm = with_read_only(load_farm(farm_file), args.read_only)
    read_only = farm.read_only

    command = shlex.join(console_command(farm_file, read_only, args.theme))
    url = args.public_url or public_url(host, port)
    server = _server_class()(command, host=host, port=port, public_url=url,
                             title=f"wpfarm — {farm.name}" + (" (read-only)" if read_only else ""))
    print(f"wpfarm serve: the console of {farm.name} on {url}"
          + (" (read-only)" if read_only else ""), flush=True)
    try:
        server.serve()
    except OSError as exc:
        print(f"wpfarm serve: cannot listen on {host}:{port}: {exc.strerror or exc}; "
              "pass another --port", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def register(verbs: argparse._SubParsersAction) -> None:
    serve = verbs.add_parser("serve", help="the console in a web page (loopback by default)")
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help=f"address to listen on (default {DEFAULT_HOST}); any other than "
                            "loopback needs --public")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"TCP port (default {DEFAULT_PORT})")
    serve.add_argument("--public", action="store_true",
                       help="allow a non-loopback --host: anyone who reaches it drives the "
                            "console")
    serve.add_argument("--public-url", metavar="URL",
                       help="the address browsers use, when it is not http://HOST:PORT "
                            "(a reverse proxy, a tunnel)")
    serve.set_defaults(func=cmd_serve)
