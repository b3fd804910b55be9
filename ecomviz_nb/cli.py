"""The ``ecomviz-nb`` command: ``sandbox`` (a local EcomViz server), ``report``, ``demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Settings, serve

    settings = Settings(
        token=args.token,
        job_seconds=args.job_seconds,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        offline=args.offline,
    )
    print(
        f"EcomViz sandbox on http://{args.host}:{args.port} (images are local renders, not AI); "
        f"set ECOMVIZ_BASE_URL=http://{args.host}:{args.port} to use it. Ctrl-C stops it.",
        flush=True,
    )
    serve(settings, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecomviz-nb", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox", help="serve a local EcomViz sandbox")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8787)
    sandbox.add_argument("--data-dir", help="keep state here (SQLite plus files) across restarts")
    sandbox.add_argument(
        "--job-seconds",
        type=float,
        default=4.0,
        help="how long one job takes (0: as fast as possible)",
    )
    sandbox.add_argument("--token", help="accept only this bearer token (default: any)")
    sandbox.add_argument(
        "--offline", action="store_true", help="never fetch images from other hosts"
    )
    sandbox.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    sandbox.set_defaults(run=_sandbox)
    # These two parse their own options (see ``ecomviz-nb report --help``).
    commands.add_parser("report", help="an HTML report of the ledger's jobs", add_help=False)
    commands.add_parser(
        "demo",
        help="JupyterLab on the quickstart, or --headless: run all "
        "notebooks and write build/demo-report.html",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["report"]:
        from .report import main_report

        return main_report(words[1:])
    if words[:1] == ["demo"]:
        from .demo import main_demo

        return main_demo(words[1:])
    args = build_parser().parse_args(words)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
