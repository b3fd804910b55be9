"""Sandbox render throughput at 1024 px, with a render pool of one and of two threads.

Run ``python benchmarks/bench_render.py`` (``--quick`` for a short run). Sources are decoded
once up front, as the sandbox server caches decoded images; each task is one full render to
JPEG bytes. The target is 20 images/s overall with two workers.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from PIL import Image

from ecomviz_nb.sandbox import render, samples

TARGET = 20.0
SIZE = 1024
PRODUCTS = [name for name in samples.SAMPLE_NAMES if name.startswith("products/")]

Task = Callable[[], bytes]


def make_tasks(kind: str, count: int, sources: dict[str, Image.Image]) -> list[Task]:
    """`count` render calls of one kind, cycling through the sample images and seeds."""
    tasks: list[Task] = []
    for i in range(count):
        item = sources[PRODUCTS[i % len(PRODUCTS)]]
        if kind in render.PRODUCT_KINDS:
            tasks.append(
                partial(
                    render.render_product_image,
                    kind,
                    item,
                    aspect_ratio=("1:1", "4:3", "16:9", "9:16")[i % 4],
                    index=i,
                    seed=i,
                    product_name="Sample product",
                    colors=["red", "white"],
                    size=SIZE,
                )
            )
        elif kind == "vto":
            tasks.append(
                partial(
                    render.render_vto_color,
                    item,
                    color=("blue", "green", "black", "pink")[i % 4],
                    aspect_ratio=None,
                    seed=i,
                    size=SIZE,
                )
            )
        else:
            person = sources[("people/person-a.jpg", "people/person-b.jpg")[i % 2]]
            garment = sources[("garments/jacket-navy.png", "garments/dress-green.png")[i % 2]]
            tasks.append(
                partial(
                    render.render_try_on,
                    person,
                    [(garment, "price US9.9")],
                    aspect_ratio="2:3",
                    watermark=i % 2 == 0,
                    seed=i,
                    size=SIZE,
                )
            )
    return tasks


def throughput(tasks: list[Task], workers: int) -> float:
    """Images per second when `tasks` run on a pool of `workers` threads."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda task: task(), tasks[:workers]))  # warm up fonts and caches
        start = time.perf_counter()
        results = list(pool.map(lambda task: task(), tasks))
        elapsed = time.perf_counter() - start
    assert all(data[:2] == b"\xff\xd8" for data in results)
    return len(tasks) / elapsed


def main(argv: list[str] | None = None) -> int:
    """Print the throughput table; exit status 1 when the two-worker mix misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer renders per row")
    args = parser.parse_args(argv)
    per_kind = 8 if args.quick else 40
    sources = {name: render.decode(samples.sample_bytes(name)) for name in samples.SAMPLE_NAMES}
    kinds = ["main", "detail", "facebook", "vto", "try-on"]
    rows: list[tuple[str, float, float]] = []
    for kind in kinds:
        tasks = make_tasks(kind, per_kind, sources)
        rows.append((kind, throughput(tasks, 1), throughput(tasks, 2)))
    mix = [
        task
        for group in zip(*(make_tasks(k, per_kind, sources) for k in kinds), strict=True)
        for task in group
    ]
    rows.append(("mix (overall)", throughput(mix, 1), throughput(mix, 2)))

    print(f"render throughput at {SIZE} px, {os.cpu_count()} CPUs, {per_kind} images per kind")
    print(f"{'kind':<14} | {'images/s 1 worker':>17} | {'images/s 2 workers':>18} | target")
    print(f"{'-' * 14}-+-{'-' * 17}-+-{'-' * 18}-+-{'-' * 18}")
    for kind, one, two in rows:
        verdict = f">= {TARGET:.0f}: {'met' if two >= TARGET else 'MISSED'}"
        print(f"{kind:<14} | {one:>17.1f} | {two:>18.1f} | {verdict}")
    return 0 if rows[-1][2] >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
