"""The command line: ``workbench [--demo]`` opens the app; ``workbench COMMAND ...`` scripts it.

    workbench sim ...                       the embedded simulator
    workbench serve ...                     the app in a web browser (textual-serve)
    workbench profile list|show|add|edit|remove|test|import
    workbench images list|show|patch|create|put|delete
    workbench ops list|watch

Each command imports what it needs when it runs, so ``workbench --help`` and
the app's start stay fast. Results go to stdout (tables, or JSON with
``--json``); notes, warnings and errors go to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["build_parser", "main"]


def _add_sim_parser(subparsers) -> None:
    sim = subparsers.add_parser(
        "sim",
        help="run the embedded simulator of the four image APIs",
        description="Serve Kusto, Glance/IMS, Azure Batch and Yandex Compute (and their token "
        "endpoints) on one loopback port. Prints one JSON line with every base URL, the demo "
        "identifiers, credentials and ready-to-use tokens.",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    sim.add_argument("--port", type=int, default=8765, help="port (0: any free port; default 8765)")
    sim.add_argument("--seed-images", type=int, default=0, metavar="N",
                     help="create N extra images per provider (for scale tests)")
    sim.add_argument("--latency", type=int, default=0, metavar="MS", help="added latency per request")
    sim.add_argument("--fault-rate", type=float, default=0.0, metavar="P",
                     help="probability (0..1) of an injected fault per request")
    sim.add_argument("--fault-kinds", default=None, metavar="K,K",
                     help="faults to inject: latency,throttle,unavailable,drop,fail_operation")
    sim.add_argument("--operation-polls", type=int, default=None, metavar="N",
                     help="status polls before a long-running operation is done (default 2)")
    sim.add_argument("--endpoints-file", default=None, metavar="PATH",
                     help="also write the endpoints JSON to PATH")
    sim.set_defaults(func=_run_sim)


def _run_sim(args: argparse.Namespace) -> int:
    from workbench.sim.config import SimConfig
    from workbench.sim.server import serve_forever

    try:
        config = SimConfig.from_env(
            seed_images=args.seed_images,
            latency_ms=args.latency,
            fault_rate=args.fault_rate,
            fault_kinds=tuple(args.fault_kinds.split(",")) if args.fault_kinds else None,
            operation_polls=args.operation_polls,
        )
    except ValueError as exc:
        print(f"workbench sim: {exc}", file=sys.stderr)
        return 2
    try:
        serve_forever(config, args.host, args.port, args.endpoints_file)
    except KeyboardInterrupt:
        pass
    return 0


def _open_app(args: argparse.Namespace) -> int:
    from workbench.tui.app import run

    result = run(demo=args.demo)
    return result if isinstance(result, int) else 0


def build_parser() -> argparse.ArgumentParser:
    from workbench import __version__
    from workbench.cli import images, ops, profiles
    from workbench.cli.serve import add_serve_parser

    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Image Workbench: virtual-machine images on Kusto, Glance/IMS, Azure Batch and Yandex Compute. "
        "Without a command, opens the app.",
        epilog="Every command takes --json for scripts; commands that change something take --dry-run "
        "(print the request as curl, secrets masked, send nothing). Secrets come from the OS keyring, or "
        "from WORKBENCH_SECRET_<PROFILE>_<FIELD> environment variables.",
    )
    parser.add_argument("--demo", action="store_true",
                        help="use the embedded simulator with demo profiles (no keyring needed); "
                             "alone: open the app on it")
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_sim_parser(subparsers)
    add_serve_parser(subparsers)
    profiles.add_parser(subparsers)
    images.add_parser(subparsers)
    ops.add_parser(subparsers)
    return parser


def _tune_command_process() -> None:
    """Start-up settings for a process that is one command (``main()`` called
    with the real command line, not the app), measured by
    ``benchmarks/cli_vs_glance.py``:

    - httpx imports its own command-line tool (rich, click, pygments) whenever
      they are installed, as they are beside Textual: ~50 ms of every start
      for a tool never used here. Marking it absent makes httpx skip it.
    - pydantic scans every installed distribution's entry points for plugins
      when the first model is built; none are used here.
    - the cyclic GC ran full collections over the tens of thousands of
      objects imports create; a short-lived command runs it far less often.
    """
    import gc

    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
    gc.set_threshold(50_000, 20, 20)


def _leave_command_process(status: int) -> None:
    """End a finished command's process without the interpreter's teardown.

    Clearing some 400 modules and collecting what they hold (pydantic's
    schemas above all) cost ~50 ms of CPU after the work was done: an eighth
    of `images list` (measured by ``benchmarks/cli_vs_glance.py``). What the
    teardown does that matters still happens: exit handlers run (logging's
    flush, temporary directories), stdout and stderr are flushed. With any
    other thread alive, or a stream that cannot flush, this returns and the
    interpreter ends the usual way.
    """
    import atexit
    import threading

    if threading.active_count() > 1:
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    command_process = argv is None  # the console script (tests pass their own argv)
    argv = sys.argv[1:] if argv is None else argv
    if argv in ([], ["--demo"]):
        # Straight to the app: building the full parser imports every command
        # module, which costs the app's first frame time for nothing.
        return _open_app(argparse.Namespace(demo=bool(argv)))
    if not command_process:
        return _run_command(argv)
    _tune_command_process()
    status = _run_command(argv)
    _leave_command_process(status)
    return status


def _run_command(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return _open_app(args)
    if getattr(args, "func", None) is not None:
        return args.func(args)  # `sim` and `serve`: they print their own errors
    from workbench.cli.output import Output
    from workbench.cli.session import EXIT_ERROR, EXIT_INTERRUPTED, CommandError, error_document, error_message
    from workbench.cli.session import is_expected

    output = Output(json_mode=getattr(args, "json", False) or getattr(args, "jsonl", False))
    try:
        return args.run(args, output)
    except KeyboardInterrupt:
        output.note("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`workbench images list | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - typed failures become one message; others are bugs
        if not is_expected(exc):
            raise
        if output.json:
            import json

            output.err.write(json.dumps(error_document(exc), ensure_ascii=False, default=str) + "\n")
        else:
            output.note(f"error: {error_message(exc)}")
        return exc.status if isinstance(exc, CommandError) else EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
