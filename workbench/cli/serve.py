"""``workbench serve``: the Textual app in a web browser, through textual-serve.

textual-serve runs a small aiohttp server: its page holds a terminal
(xterm.js) connected by a websocket, and every browser session starts its own
``workbench`` process (``python -m workbench [--demo]``) driven through that
socket. So a session has what the terminal app has: your profiles and
secrets, or with ``--demo`` its own embedded simulator.

textual-serve has no authentication: anyone who can reach the port can use
the app with your profiles. That is why it listens on loopback unless told
otherwise, and says so loudly when told.

Loopback is not enough on its own: any web page open in the user's browser can
open a websocket to ``ws://127.0.0.1:8000/ws`` (browsers do not apply the
same-origin policy to websockets), and textual-serve does not check where the
page came from. ``WorkbenchServer`` does: a websocket is accepted only when its
``Origin`` header is the origin of the server's own public URL, the page it
served, or, when it listens on loopback, that page opened by another loopback
name (``localhost``, ``127.0.0.1`` or ``[::1]`` with the same port: a browser
counts each as its own origin). Anything else (another site, another port, a
missing or ``null`` origin) gets HTTP 403 before an app process is started.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import shlex
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

from workbench.core.hosts import is_loopback

__all__ = [
    "DEFAULT_PORT",
    "LOOPBACK_NAMES",
    "add_serve_parser",
    "build_command",
    "main",
    "make_server",
    "origin_of",
    "public_url_for",
    "run_serve",
    "websocket_origins",
]

log = logging.getLogger(__name__)

DEFAULT_PORT = 8000
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: The names a browser may open a loopback server by, as they appear in a URL.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def add_serve_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    serve = subparsers.add_parser(
        "serve",
        help="serve the app to a web browser (textual-serve)",
        description="Serve the workbench app to web browsers: open the printed URL. Each browser session runs "
        "its own app process. Listens on loopback by default; the server has no authentication, so anyone "
        "who can reach it can use your profiles.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, loopback)")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT,
                       help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    # Its own dest: the top-level `workbench --demo serve` sets `demo` and must not be reset here.
    serve.add_argument("--demo", action="store_true", dest="serve_demo",
                       help="each session opens the app on its own embedded simulator with demo profiles")
    serve.add_argument("--public-url", default=None, metavar="URL",
                       help="the URL browsers reach this server at, when it is not http://HOST:PORT "
                            "(behind a reverse proxy, or listening on 0.0.0.0)")
    serve.add_argument("--title", default="Image Workbench", help="the page title")
    serve.set_defaults(func=run_serve)
    return serve


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {value}")
    return value


def build_command(demo: bool) -> str:
    """The shell command textual-serve starts for each session: this Python, this package."""
    argv = [sys.executable, "-m", "workbench"]
    if demo:
        argv.append("--demo")
    return shlex.join(argv)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def public_url_for(host: str, port: int) -> str:
    """The URL a browser uses: the page builds its websocket URL from it."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def origin_of(url: str) -> str:
    """The web origin of ``url`` as a browser sends it in ``Origin``: ``scheme://host[:port]``,
    lower-cased, without a default port, path or trailing slash."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def websocket_origins(public_url: str, host: str, port: int) -> frozenset[str]:
    """The ``Origin`` values a server listening on ``host:port`` accepts websockets from:
    its public URL's origin and, when ``host`` is loopback, ``http://NAME:PORT`` for each
    loopback name that reaches it: a browser counts each name as its own origin, and a
    user given ``127.0.0.1`` may well type ``localhost``."""
    origins = {origin_of(public_url)}
    if is_loopback(host):
        origins.update(origin_of(f"http://{name}:{port}") for name in _names_reaching(host))
    return frozenset(origins)


def _names_reaching(host: str) -> tuple[str, ...]:
    """The loopback names a browser here can use to reach a server bound to loopback ``host``.

    The other address's literal is left out (an app bound to ``127.0.0.1`` does
    not take ``[::1]``): a page there is served by some other program.
    ``localhost`` is in, as people type it, although a browser may resolve it
    to the other address; any local program can reach the app directly anyway.
    """
    if host == "localhost":
        return LOOPBACK_NAMES
    address = ipaddress.ip_address(host)
    if address == ipaddress.ip_address("127.0.0.1"):
        return ("127.0.0.1", "localhost")
    if address == ipaddress.ip_address("::1"):
        return ("[::1]", "localhost")
    return (f"[{address}]" if address.version == 6 else str(address),)


def make_server(command: str, *, host: str, port: int, title: str, public_url: str) -> Any:
    """textual-serve's ``Server`` for ``command``, refusing websockets from other origins.

    Built here, so that importing this module does not import textual-serve (or aiohttp).
    """
    from aiohttp import web
    from textual_serve.server import Server

    class WorkbenchServer(Server):
        """textual-serve's server, with the ``Origin`` check its websocket lacks."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.public_origin = origin_of(self.public_url)
            self.allowed_origins = websocket_origins(self.public_url, self.host, self.port)

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            origin = request.headers.get("Origin")
            if origin is None or _normal_origin(origin) not in self.allowed_origins:
                log.warning("refused a websocket from origin %r (only %s may connect)", origin,
                            ", ".join(sorted(self.allowed_origins)))
                raise web.HTTPForbidden(
                    text=f"workbench serve: websocket refused: origin {origin!r} is not {self.public_origin}; "
                    f"open {self.public_url}/ in the browser\n"
                )
            return await super().handle_websocket(request)

    return WorkbenchServer(command, host=host, port=port, title=title, public_url=public_url)


def _normal_origin(origin: str) -> str | None:
    try:
        return origin_of(origin)
    except ValueError:
        return None  # "null" (a sandboxed page, a file:// page) or garbage: never ours


def run_serve(args: argparse.Namespace) -> int:
    try:
        import textual_serve.server  # noqa: F401 - present?
    except ImportError:
        print("workbench serve: needs the textual-serve package (pip install textual-serve)", file=sys.stderr)
        return 1
    demo = bool(getattr(args, "serve_demo", False) or getattr(args, "demo", False))
    port = args.port
    if port == 0:
        # The page must know its own URL, so pick the port before starting.
        port = _free_port(args.host)
    public_url = (args.public_url or public_url_for(args.host, port)).rstrip("/")
    try:
        origin_of(public_url)
    except ValueError as exc:
        print(f"workbench serve: --public-url: {exc}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(f"workbench serve: WARNING: listening on {args.host}, not loopback. The server has no "
              "authentication: anyone who can reach it can use the app with your profiles and secrets.",
              file=sys.stderr)
    print(f"workbench serve: open {public_url}/ in a browser{' (demo)' if demo else ''}; Ctrl+C stops",
          flush=True)
    server = make_server(build_command(demo), host=args.host, port=port, title=args.title, public_url=public_url)
    try:
        server.serve()
    except OSError as exc:
        print(f"workbench serve: cannot listen on {args.host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m workbench.cli.serve ...``: the same command on its own."""
    parser = argparse.ArgumentParser(prog="workbench")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(subparsers)
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
