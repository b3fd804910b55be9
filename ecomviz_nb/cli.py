"""The ``ecomviz-nb`` command: ``sandbox``, ``batch``, ``report``, ``export`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main"]


class _Refused(Exception):
    """A command cannot start: the message says why (exit status 2)."""


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import SandboxNotInstalled, Settings, require_server_stack, serve

    try:
        require_server_stack()
    except SandboxNotInstalled as exc:
        raise _Refused(str(exc)) from None
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
        raise _Refused(
            f"{where}: set ECOMVIZ_API_TOKEN for the EcomViz API, or pass --base-url of a "
            "local sandbox"
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


def _report(args: argparse.Namespace) -> int:
    from .errors import EcomVizError
    from .report import report_from_ledger

    if args.limit < 0:
        raise _Refused(f"--limit {args.limit}: a number of jobs, 0 for all")
    try:
        with _client(args.base_url, args.token_from_env) as client:
            limit = args.limit or None
            report = report_from_ledger(
                client, title=args.title, limit=limit, all_servers=args.all_servers
            )
        path = report.save(args.out)
    except (EcomVizError, OSError) as exc:
        print(f"ecomviz-nb report: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def _export(args: argparse.Namespace) -> int:
    try:
        from .export import export_notebook, not_embedded
    except ImportError as exc:
        raise _Refused(str(exc)) from None
    try:
        page = export_notebook(args.notebook, args.out)
    except (FileNotFoundError, ValueError) as exc:
        raise _Refused(str(exc)) from None
    outside = not_embedded(page.read_text(encoding="utf-8"))
    for address in outside[:10]:
        print(f"ecomviz-nb export: the notebook itself points at {address}", file=sys.stderr)
    if outside:
        print(
            f"ecomviz-nb export: {len(outside)} address(es) above are not in the page: it "
            "shows them only where they can be reached",
            file=sys.stderr,
        )
    print(page)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import QUICKSTART, DemoFailed, run_headless, serve

    notebooks, out = Path(args.notebooks), Path(args.out)
    try:
        if args.headless:
            report = run_headless(notebooks, out, timeout=args.timeout)
            print(f"ecomviz-nb demo: all notebooks ran; open {report}")
            return 0
        start = notebooks / QUICKSTART
        if not start.exists():
            found = sorted(notebooks.glob("*.ipynb"))
            start = found[0] if found else start
        return serve(start, port=args.port, log_dir=out)
    except DemoFailed as exc:
        print(f"ecomviz-nb demo: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, RuntimeError) as exc:
        raise _Refused(str(exc)) from None


def _token_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--base-url", help="the server (default $ECOMVIZ_BASE_URL or the API)")
    command.add_argument(
        "--token-from-env",
        nargs="?",
        const="ECOMVIZ_API_TOKEN",
        metavar="VAR",
        help="require the token, in VAR (default ECOMVIZ_API_TOKEN)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``ecomviz-nb`` parser, one sub-command each (``--help`` lists them)."""
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
    _token_options(run)
    run.set_defaults(run=_batch)

    report = commands.add_parser(
        "report",
        help="an HTML report of the ledger's jobs",
        description="Write an HTML report of the job ledger's jobs, pictures embedded, and "
        "print its path. The token is $ECOMVIZ_API_TOKEN only, never an argument; without "
        "one, --base-url (or $ECOMVIZ_BASE_URL) names a local sandbox.",
    )
    report.add_argument("--out", default="build/report.html", help="the file to write")
    report.add_argument("--title", default="EcomViz jobs", help="the page's heading")
    report.add_argument("--limit", type=int, default=50, help="the newest N jobs (0: all)")
    report.add_argument("--all-servers", action="store_true", help="jobs of every server")
    _token_options(report)
    report.set_defaults(run=_report)

    export = commands.add_parser(
        "export",
        help="one self-contained HTML page of a saved notebook (executes nothing)",
        description="Write NOTEBOOK as one HTML page that needs no kernel, no JavaScript and "
        "no network: panels show their saved snapshots, other widgets their saved state, "
        "pictures are embedded. Nothing is executed: run the notebook first. Needs nbconvert "
        "(pip install 'ecomviz-nb[demo]').",
    )
    export.add_argument("notebook", help="the .ipynb file")
    export.add_argument("--out", help="the page to write (default: NOTEBOOK with .html)")
    export.set_defaults(run=_export)

    demo = commands.add_parser(
        "demo",
        help="JupyterLab on the quickstart, or --headless: run all notebooks and write "
        "build/demo-report.html",
        description="JupyterLab on the quickstart notebook with a local sandbox; with "
        "--headless, execute every notebook against one sandbox and write the run's report "
        "(each notebook's status, its page, and the run's products, runs and try-ons).",
    )
    demo.add_argument("--headless", action="store_true", help="execute, write HTML, no browser")
    demo.add_argument("--notebooks", default="notebooks", help="the notebooks' folder")
    demo.add_argument("--out", default="build", help="where the HTML (and logs) go")
    demo.add_argument("--port", type=int, default=8888, help="JupyterLab's port")
    demo.add_argument("--timeout", type=int, default=300, help="seconds one cell may take")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2: the command could not start)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.run(args))
    except _Refused as exc:
        print(f"ecomviz-nb {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
