"""The command line: ``workbench [--demo] | workbench sim ... | ...``.

Each command imports what it needs when it runs, so ``workbench --help`` and
the app's start stay fast.
"""

from __future__ import annotations

import argparse
import sys


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Image Workbench")
    parser.add_argument("--demo", action="store_true", help="open the app on the embedded simulator")
    subparsers = parser.add_subparsers(dest="command")
    _add_sim_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
