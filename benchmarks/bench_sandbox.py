"""Latency of ``GET /api/products/{id}`` on a sandbox holding 1,000 products.

The sandbox runs as its own process (``ecomviz-nb sandbox --data-dir``), as a user would start
it, on a data folder pre-filled with 1,000 products of 7 generated images each (written through
the sandbox's own store, so no rendering is needed). One keep-alive ``httpx.Client`` then reads
random products one after another. ``GET /_sandbox/health`` on the same server, interleaved,
is the baseline: the cost of the HTTP stack itself.

Target: p99 < 20 ms. Render throughput is measured by ``bench_render.py``.

Run: ``python benchmarks/bench_sandbox.py [--quick]``
"""

from __future__ import annotations

import argparse
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ecomviz_nb.sandbox.store import Store

PRODUCTS = 1000
TARGET_P99_MS = 20.0


def fill(data_dir: Path, count: int) -> list[str]:
    """Write ``count`` products with 7 generated images each; returns their ids."""
    store = Store(data_dir)
    ids = []
    for n in range(count):
        pid = f"{n:024x}"
        images = [
            {
                "filePath": f"files/products/{pid}/gen-{i:02d}-main.jpg",
                "generatedAt": "2026-11-01T12:00:00.000Z",
                "generationParams": {
                    "platform": "general",
                    "region": "global",
                    "imageType": "main",
                    "color": "red",
                },
            }
            for i in range(7)
        ]
        store.put_product(
            {
                "_id": pid,
                "productName": f"Product {n}",
                "colors": ["red", "white"],
                "aiAnalysis": {"category_guess": "apparel", "image_count": 1},
                "createdAt": "2026-11-01T12:00:00.000Z",
                "generatedImages": images,
                "_sandbox": {"sources": [], "digest": "", "imageUrls": []},
            }
        )
        ids.append(pid)
    store.close()
    return ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 requests instead of 5,000")
    args = parser.parse_args()
    requests = 1000 if args.quick else 5000

    with tempfile.TemporaryDirectory() as tmp:
        ids = fill(Path(tmp), PRODUCTS)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ecomviz_nb.cli",
                "sandbox",
                "--port",
                str(port),
                "--data-dir",
                tmp,
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, headers={"Authorization": "Bearer bench"}) as http:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        http.get("/_sandbox/health").raise_for_status()
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
                rng = random.Random(1)
                product_ms: list[float] = []
                health_ms: list[float] = []
                for _ in range(200):  # warm-up
                    http.get(f"/api/products/{rng.choice(ids)}")
                for _ in range(requests):
                    for path, sink in (
                        (f"/api/products/{rng.choice(ids)}", product_ms),
                        ("/_sandbox/health", health_ms),
                    ):
                        started = time.perf_counter()
                        response = http.get(path)
                        sink.append((time.perf_counter() - started) * 1000)
                        assert response.status_code == 200, response.text
        finally:
            server.terminate()
            server.wait(10)

    print(
        f"python {platform.python_version()}, {PRODUCTS} products stored, "
        f"{requests} requests per route, interleaved, one keep-alive connection\n"
    )
    print("| route | p50 ms | p90 ms | p99 ms | max ms | target p99 < 20 ms |")
    print("|---|---:|---:|---:|---:|:---:|")
    for name, values in (
        ("GET /api/products/{id}", product_ms),
        ("GET /_sandbox/health (baseline)", health_ms),
    ):
        p99 = percentile(values, 99)
        verdict = ("PASS" if p99 < TARGET_P99_MS else "FAIL") if "products" in name else "-"
        print(
            f"| {name} | {statistics.median(values):.2f} | {percentile(values, 90):.2f} | "
            f"{p99:.2f} | {max(values):.2f} | {verdict} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
