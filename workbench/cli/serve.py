"""``workbench serve``: the Textual app in a web browser, through textual-serve.

textual-serve runs a small aiohttp server: its page holds a terminal
(xterm.js) connected by a websocket, and every browser session starts its own
``workbench`` process (``python -m workbench [--demo]``) driven through that
socket. So a session has what the terminal app has: your profiles and
secrets, or with ``--demo`` its own embedded simulator.

textual-serve has no authentication: anyone who can reach the port can use
the app with your profiles. That is why it listens on loopback unless told
otherwise, and says so loudly when told.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import socket
import sys

__all__ = ["DEFAULT_PORT", "add_serve_parser", "build_command", "main", "public_url_for", "run_serve"]

DEFAULT_PORT = 8000


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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def run_serve(args: argparse.Namespace) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        print("workbench serve: needs the textual-serve package (pip install textual-serve)", file=sys.stderr)
        return 1
    demo = bool(getattr(args, "serve_demo", False) or getattr(args, "demo", False))
    port = args.port
    if port == 0:
        # The page must know its own URL, so pick the port before starting.
        port = _free_port(args.host)
    public_url = (args.public_url or public_url_for(args.host, port)).rstrip("/")
    if not _is_loopback(args.host):
        print(f"workbench serve: WARNING: listening on {args.host}, not loopback. The server has no "
              "authentication: anyone who can reach it can use the app with your profiles and secrets.",
              file=sys.stderr)
    print(f"workbench serve: open {public_url}/ in a browser{' (demo)' if demo else ''}; Ctrl+C stops",
          flush=True)
    server = Server(build_command(demo), host=args.host, port=port, title=args.title, public_url=public_url)
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
