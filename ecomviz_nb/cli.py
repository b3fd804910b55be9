"""The ``ecomviz-nb`` command: ``sandbox`` (a local EcomViz server), ``batch``, ``report``,
``demo``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def _client(base_url: str | None, variable: str | None) -> Any:
    """A client from the environment: the token only ever from a variable, never an argument.

    Without a token, a server named by ``--base-url`` or ``$ECOMVIZ_BASE_URL`` is taken to be
    a local sandbox (which accepts the sandbox token).
    """
    from .client import Client
    from .local import SANDBOX_TOKEN

    name = variable or "ECOMVIZ_API_TOKEN"
    token = os.environ.get(name, "").strip() or None
    server = base_url or os.environ.get("ECOMVIZ_BASE_URL") or None
    if token is None and (variable or not server):
        where = f"${name} is not set" if variable else "no API token"
        raise SystemExit(
            f"ecomviz-nb: {where}: set ECOMVIZ_API_TOKEN for the EcomViz API, or pass "
            "--base-url of a local sandbox"
        )
    return Client(token or SANDBOX_TOKEN, base_url=server)


def _batch(args: argparse.Namespace) -> int:
    from .errors import EcomVizError
    from .report import Report
    from .runs import batch, resume_batch

    request: Any = None
    if args.catalogue != "-":
        if not args.request:
            print("ecomviz-nb batch: --request is needed to start a batch", file=sys.stderr)
            return 2
        try:
            request = json.loads(Path(args.request).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"ecomviz-nb batch: --request {args.request}: {exc}", file=sys.stderr)
            return 2
    try:
        with _client(args.base_url, args.token_from_env) as client:
            options = {"concurrency": args.concurrency, "timeout": args.timeout}
            if args.catalogue == "-":
                result = resume_batch(client, args.name, **options)
            else:
                result = batch(client, args.catalogue, request, name=args.name, **options)
            if args.report:
                Report(f"Batch {result.name}").add(result).save(args.report)
            if args.csv:
                result.to_csv(args.csv)
    except EcomVizError as exc:
        print(f"ecomviz-nb batch: {exc}", file=sys.stderr)
        return 2
    for item in [*result.failed, *result.unknown]:
        print(f"  {item.label}: {item.state}: {item.error}", file=sys.stderr)
    return 0 if not (result.failed or result.unknown) else 1


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
    run = commands.add_parser(
        "batch",
        help="generate one request for every item of a CSV catalogue (resumable by --name)",
        description="Generate one request for every row of CATALOGUE.csv (columns product_id "
        "or image_urls split by |, optional label). Progress is kept in the job ledger under "
        "--name: running the same command again, or ev.resume_batch(client, NAME) in a "
        "notebook, continues it. The token is read from $ECOMVIZ_API_TOKEN only.",
    )
    run.add_argument("catalogue", help="the CSV file ('-' resumes --name from the ledger)")
    run.add_argument("--request", help="a JSON file: the generate request body (to start)")
    run.add_argument("--name", required=True, help="the batch's name in the ledger")
    run.add_argument("--report", help="write an HTML report here when done")
    run.add_argument("--csv", help="write one row per item here when done")
    run.add_argument("--concurrency", type=int, default=16)
    run.add_argument("--timeout", type=float, default=600, help="seconds per item's job")
    run.add_argument("--base-url", help="the server (default $ECOMVIZ_BASE_URL or the API)")
    run.add_argument(
        "--token-from-env",
        nargs="?",
        const="ECOMVIZ_API_TOKEN",
        metavar="VAR",
        help="require the token, in VAR (default ECOMVIZ_API_TOKEN)",
    )
    run.set_defaults(run=_batch)
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
