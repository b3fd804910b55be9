"""Per-request overhead of ``ev.Client`` / ``ev.AsyncClient`` against bare httpx.

Every request is ``GET /api/products/{id}`` answered with the reference's product envelope
(``{"success": true, "data": {...}}`` with colours and a few generated images). The baseline
does what a user of bare httpx would: ``http.get(url, headers=auth).json()``, returning the
parsed dict. The candidate is ``client.get_product(pid)``, returning an ``ev.Product``: building
the request, checking the response and parsing it into models are all part of the overhead.

Two transports:

- in process: a hand-written WSGI app through ``httpx.WSGITransport`` for the sync clients,
  the same app as a raw ASGI callable through ``httpx.ASGITransport`` for the async ones
  (no sockets: this shows the client's own cost most sharply);
- socket: a ``http.server.ThreadingHTTPServer`` (HTTP/1.1 keep-alive) on 127.0.0.1 in a
  background thread of this process; the clients use their default connection pools.

Sync: one request at a time. Async: rounds of 32 concurrent requests (``asyncio.gather``).
Baseline and candidate are measured in the same run, interleaved: each round alternates
slices of both, and the next round starts with the other side. The table shows the median
microseconds per request of each and the median of the per-round ratios (candidate /
baseline). Target: ratio <= 1.2.

Run: ``python benchmarks/bench_client.py [--quick]`` (about 2 minutes; ``--quick`` about 15 s).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

import ecomviz_nb as ev

TARGET_RATIO = 1.2
TOKEN = "bench-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PRODUCT_ID = "65a1f0c2e4b0a1b2c3d4e5f6"
PATH = f"/api/products/{PRODUCT_ID}"
IN_PROCESS_URL = "http://ecomviz.test"


def _product_body() -> bytes:
    images = []
    for i, (kind, color) in enumerate(
        [("main", "black"), ("main", "white"), ("detail", "black"), ("vto", "red")]
    ):
        images.append(
            {
                "filePath": f"uploads/generated/{PRODUCT_ID}/{kind}-{i}.jpg",
                "generatedAt": f"2026-11-01T12:0{i}:00.000Z",
                "generationParams": {
                    "platform": "general",
                    "region": "global",
                    "imageType": kind,
                    "color": color,
                },
            }
        )
    data = {
        "_id": PRODUCT_ID,
        "productName": "Classic Cotton T-Shirt",
        "colors": ["black", "white", "red"],
        "aiAnalysis": {},
        "generatedImages": images,
        "createdAt": "2026-11-01T11:58:00.000Z",
    }
    return json.dumps({"success": True, "data": data}).encode()


BODY = _product_body()
NOT_FOUND = b'{"success": false, "message": "not found"}'
UNAUTHORIZED = b'{"success": false, "message": "invalid token"}'


def route(method: str, path: str, authorization: str | None) -> tuple[int, bytes]:
    """The whole server: one product, behind a bearer token."""
    if authorization != AUTH["Authorization"]:
        return 401, UNAUTHORIZED
    if method == "GET" and path == PATH:
        return 200, BODY
    return 404, NOT_FOUND


# ---------------------------------------------------------------- servers


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    status, body = route(
        environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("HTTP_AUTHORIZATION")
    )
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


async def asgi_app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    authorization = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
    status, body = route(scope["method"], scope["path"], authorization)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        status, body = route("GET", self.path, self.headers.get("Authorization"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 32 clients may connect at once; the default backlog is 5


def start_server() -> tuple[Server, str]:
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="bench-server", daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}"


# ---------------------------------------------------------------- measuring


Runner = Callable[[int], float]
"""Runs n requests (sync) or n rounds of concurrent requests (async); returns seconds taken."""


@dataclass
class Result:
    transport: str
    mode: str
    per_round: int
    """Requests per timed round of each side."""
    base_us: list[float]
    cand_us: list[float]

    @property
    def ratios(self) -> list[float]:
        return [c / b for b, c in zip(self.base_us, self.cand_us, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def compare(
    transport: str,
    mode: str,
    base: Runner,
    cand: Runner,
    *,
    per_request: int,
    rounds: int,
    round_seconds: float,
    chunks: int = 8,
) -> Result:
    """Warm both up, size a round to ``round_seconds`` per side, then time alternating rounds.

    Each round is itself ``chunks`` alternating slices (base, cand, base, ... then the reverse
    order next round), so the two sides of a round see the same machine load.
    """
    for fn in (base, cand, base, cand):
        fn(max(1, 20 // per_request))
    probe = max(1, 200 // per_request)
    slowest = max(base(probe), cand(probe)) / probe
    m = max(1, round(round_seconds / slowest / chunks))
    base_us, cand_us = [], []
    for r in range(rounds):
        gc.collect()
        spent = {base: 0.0, cand: 0.0}
        for c in range(chunks):
            for fn in (base, cand) if (r + c) % 2 == 0 else (cand, base):
                spent[fn] += fn(m)
        n = m * chunks * per_request
        base_us.append(spent[base] / n * 1e6)
        cand_us.append(spent[cand] / n * 1e6)
    return Result(transport, mode, m * chunks * per_request, base_us, cand_us)


def sync_runners(http: httpx.Client, client: ev.Client, base_url: str) -> tuple[Runner, Runner]:
    url = base_url + PATH

    def base(n: int) -> float:
        get = http.get
        started = time.perf_counter()
        for _ in range(n):
            get(url, headers=AUTH).json()
        return time.perf_counter() - started

    def cand(n: int) -> float:
        get_product = client.get_product
        started = time.perf_counter()
        for _ in range(n):
            get_product(PRODUCT_ID)
        return time.perf_counter() - started

    data = http.get(url, headers=AUTH).json()
    product = client.get_product(PRODUCT_ID)
    assert data["data"]["_id"] == PRODUCT_ID, data
    assert isinstance(product, ev.Product) and product.id == PRODUCT_ID, product
    assert len(product.generated_images) == 4, product
    return base, cand


def async_runners(
    loop: asyncio.AbstractEventLoop,
    http: httpx.AsyncClient,
    client: ev.AsyncClient,
    base_url: str,
    concurrency: int,
) -> tuple[Runner, Runner]:
    url = base_url + PATH

    async def one_base() -> dict[str, Any]:
        response = await http.get(url, headers=AUTH)
        data: dict[str, Any] = response.json()
        return data

    async def base_rounds(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            await asyncio.gather(*(one_base() for _ in range(concurrency)))
        return time.perf_counter() - started

    async def cand_rounds(n: int) -> float:
        get_product = client.get_product
        started = time.perf_counter()
        for _ in range(n):
            await asyncio.gather(*(get_product(PRODUCT_ID) for _ in range(concurrency)))
        return time.perf_counter() - started

    async def check() -> None:
        data = await one_base()
        product = await client.get_product(PRODUCT_ID)
        assert data["data"]["_id"] == PRODUCT_ID, data
        assert isinstance(product, ev.Product) and product.id == PRODUCT_ID, product

    loop.run_until_complete(check())
    return (
        lambda n: loop.run_until_complete(base_rounds(n)),
        lambda n: loop.run_until_complete(cand_rounds(n)),
    )


def parse_cost_us(repeat: int = 2000) -> float:
    """Microseconds of ``ev.Product.from_wire`` alone on this payload (for the interpretation)."""
    data = json.loads(BODY)["data"]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            ev.Product.from_wire(data, base_url=IN_PROCESS_URL)
        best = min(best, time.perf_counter() - started)
    return best / repeat * 1e6


def print_table(results: Sequence[Result], concurrency: int) -> None:
    print(
        "| transport | mode | bare httpx µs/req | ecomviz_nb µs/req | ratio | "
        f"target ≤{TARGET_RATIO}x | pass/fail |"
    )
    print("|:---|:---|---:|---:|---:|:---:|:---:|")
    for r in results:
        verdict = "PASS" if r.ratio <= TARGET_RATIO else "FAIL"
        print(
            f"| {r.transport} | {r.mode} | {statistics.median(r.base_us):.1f} | "
            f"{statistics.median(r.cand_us):.1f} | {r.ratio:.2f}x | ≤{TARGET_RATIO}x | "
            f"{verdict} |"
        )
    print()
    for r in results:
        line = (
            f"- {r.transport}, {r.mode}: {len(r.ratios)} rounds of {r.per_round} requests per "
            f"side; per-round ratios {min(r.ratios):.2f}-{max(r.ratios):.2f}"
        )
        if r.mode.startswith("async"):
            base_rps = 1e6 / statistics.median(r.base_us)
            cand_rps = 1e6 / statistics.median(r.cand_us)
            line += (
                f"; throughput at {concurrency} concurrent: bare {base_rps:,.0f} req/s, "
                f"ecomviz_nb {cand_rps:,.0f} req/s"
            )
        print(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a ~15 s run (fewer, shorter rounds)")
    parser.add_argument("--rounds", type=int, help="timed rounds per side (default 9, quick 5)")
    parser.add_argument(
        "--round-seconds",
        type=float,
        help="target seconds of one side's round (default 1.2, quick 0.25)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="async requests per gather")
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 9)
    round_seconds = args.round_seconds or (0.25 if args.quick else 1.2)
    concurrency = args.concurrency

    # Keep any ledger out of the user's home and measure the default (quiet) logging.
    home = tempfile.TemporaryDirectory(prefix="ecomviz-bench-")
    os.environ["ECOMVIZ_HOME"] = home.name
    for name in ("ECOMVIZ_LOG", "ECOMVIZ_API_TOKEN", "ECOMVIZ_BASE_URL"):
        os.environ.pop(name, None)

    print(
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"httpx {httpx.__version__}, ecomviz_nb {ev.__version__}, {os.cpu_count()} CPUs"
    )
    print(
        f"payload: {len(BODY)} bytes; {rounds} alternating rounds per row, "
        f"~{round_seconds:g} s per side per round; medians\n"
    )
    started = time.perf_counter()
    results: list[Result] = []
    kw = {"rounds": rounds, "round_seconds": round_seconds}

    # (a) in process: WSGI for sync, ASGI for async.
    with (
        httpx.Client(transport=httpx.WSGITransport(app=wsgi_app)) as http,
        httpx.Client(transport=httpx.WSGITransport(app=wsgi_app)) as inner,
        ev.Client(TOKEN, base_url=IN_PROCESS_URL, http_client=inner) as client,
    ):
        base, cand = sync_runners(http, client, IN_PROCESS_URL)
        results.append(compare("in-process WSGITransport", "sync", base, cand, per_request=1, **kw))

    loop = asyncio.new_event_loop()
    try:
        http_a = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app))
        inner_a = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app))
        aclient = ev.AsyncClient(TOKEN, base_url=IN_PROCESS_URL, http_client=inner_a)
        base, cand = async_runners(loop, http_a, aclient, IN_PROCESS_URL, concurrency)
        results.append(
            compare(
                "in-process ASGITransport",
                f"async, {concurrency} concurrent",
                base,
                cand,
                per_request=concurrency,
                **kw,
            )
        )
        loop.run_until_complete(http_a.aclose())
        loop.run_until_complete(inner_a.aclose())

        # (b) a real socket server in a background thread; the clients build their own pools.
        server, url = start_server()
        try:
            with httpx.Client() as http, ev.Client(TOKEN, base_url=url) as client:
                base, cand = sync_runners(http, client, url)
                results.append(
                    compare("socket ThreadingHTTPServer", "sync", base, cand, per_request=1, **kw)
                )
            http_a = httpx.AsyncClient()
            aclient = ev.AsyncClient(TOKEN, base_url=url)
            base, cand = async_runners(loop, http_a, aclient, url, concurrency)
            results.append(
                compare(
                    "socket ThreadingHTTPServer",
                    f"async, {concurrency} concurrent",
                    base,
                    cand,
                    per_request=concurrency,
                    **kw,
                )
            )
            loop.run_until_complete(http_a.aclose())
            loop.run_until_complete(aclient.aclose())
        finally:
            server.shutdown()
            server.server_close()
    finally:
        loop.close()

    print_table(results, concurrency)
    print(
        f"- ev.Product.from_wire alone on this payload: {parse_cost_us():.1f} µs "
        "(part of the ecomviz_nb column)"
    )
    print(f"\n({time.perf_counter() - started:.0f} s)")
    home.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
