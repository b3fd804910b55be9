"""Notebook output and render time of an image grid: ipyplot's default path vs ``ev.show_images``.

Both render the same 100 distinct 1024 px JPEG files (gradients, shapes and noise drawn with
Pillow, about 120 KB each; their 256 px thumbnails are about 4 KB) in one run:

- ipyplot default: ``ipyplot.plot_images(paths, max_images=n, force_b64=True)``, the way files
  are shown when the notebook must work without the files beside it (arrays take the same
  path: a full-size PNG per image, and the markup emitted twice);
- ``ev.show_images(paths)`` cold (a new, empty cache folder), warm (the same call again: the
  thumbnails are in memory) and warm from disk (a new store on the same folder);
- for reference, ``engine="ipyplot"``: ipyplot fed our thumbnails and escaped captions.

Output is counted as a notebook stores it: each ``display_data`` (its mime bundle and
metadata) JSON-encoded, captured from a real ``InteractiveShell``. Time is wall time of the call
that displays the grid. Peak memory is measured in a child process that renders 1,000 distinct
1024 px images (written to disk one by one beforehand, never all in memory): tracemalloc's peak
and the process's peak RSS.

Targets: <= 8 KB of output per image; >= 50x less output and >= 20x faster than ipyplot's
default (cold cache); peak RSS < 300 MB while rendering 1,000 images.

Run: ``python benchmarks/bench_display.py [--quick]`` (2 to 3 minutes; ``--quick`` about 20 s
with 20 and 200 images).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

SIZE = 1024
KB = 1024
TARGET_KB, TARGET_LESS, TARGET_FASTER, TARGET_RSS_MB = 8.0, 50.0, 20.0, 300.0


def draw(seed: int, size: int = SIZE) -> Image.Image:
    """A product-photo-like picture: a two-colour gradient, a few shapes, sensor-like noise."""
    rng = random.Random(seed)

    def color() -> tuple[int, int, int]:
        return (rng.randrange(256), rng.randrange(256), rng.randrange(256))

    ramp = Image.linear_gradient("L").resize((size, size))
    if seed % 2:
        ramp = ramp.transpose(Image.Transpose.ROTATE_90)
    image = Image.composite(
        Image.new("RGB", ramp.size, color()), Image.new("RGB", ramp.size, color()), ramp
    )
    pen = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 7)):
        x, y, w, h = (
            rng.randrange(size),
            rng.randrange(size),
            rng.randint(80, 500),
            rng.randint(80, 500),
        )
        shape = rng.randrange(3)
        if shape == 0:
            pen.ellipse((x, y, x + w, y + h), fill=color(), outline=color(), width=6)
        elif shape == 1:
            pen.rounded_rectangle((x, y, x + w, y + h), radius=30, fill=color())
        else:
            points = [(rng.randrange(size), rng.randrange(size)) for _ in range(rng.randint(3, 6))]
            pen.polygon(points, fill=color())
    noise = Image.effect_noise((size, size), 16).convert("RGB")
    return Image.blend(image, noise, 0.12)


def write_images(folder: Path, count: int, first_seed: int = 0) -> list[str]:
    """``count`` distinct JPEG files, each written as soon as it is drawn (threads: Pillow
    releases the GIL while drawing and encoding)."""
    folder.mkdir(parents=True, exist_ok=True)

    def one(i: int) -> str:
        path = folder / f"img-{i:04d}.jpg"
        draw(first_seed + i).save(path, "JPEG", quality=90)
        return str(path)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(one, range(count)))


# ---------------------------------------------------------------- measuring notebook output


def make_shell() -> Any:
    """A real IPython shell (no terminal, no history file), so display() formats and publishes."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    return InteractiveShell.instance(config=config)


@contextmanager
def counted_output(shell: Any) -> Iterator[list[int]]:
    """Counts the bytes of each display_data as an .ipynb would store it, keeping none of it."""
    sizes: list[int] = []
    real = shell.display_pub.publish

    def publish(data: dict[str, Any], metadata: dict[str, Any] | None = None, **_: Any) -> None:
        output = {"output_type": "display_data", "data": data, "metadata": metadata or {}}
        sizes.append(len(json.dumps(output)))

    shell.display_pub.publish = publish
    try:
        yield sizes
    finally:
        shell.display_pub.publish = real


def measure(shell: Any, run: Callable[[], object]) -> tuple[float, float]:
    """(bytes of output, seconds) of one call that displays a grid."""
    with counted_output(shell) as sizes:
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
    return float(sum(sizes)), elapsed


# ---------------------------------------------------------------- peak memory (child process)


def rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process in MB, from /proc (Linux).

    ``ru_maxrss`` would not do: a child started by fork + exec keeps its parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / KB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KB  # not Linux: best effort


def child_memory(folder: str) -> None:
    """Render every image in ``folder`` with show_images; print peaks as JSON."""
    import ecomviz_nb  # noqa: F401  (imports are outside the measured window)
    from ecomviz_nb.display import show_images
    from ecomviz_nb.images import ImageStore

    paths = sorted(str(p) for p in Path(folder, "images").glob("*.jpg"))
    before = rss_mb("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    markup = show_images(paths, store=ImageStore(Path(folder, "cache")))
    elapsed = time.perf_counter() - start
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = rss_mb("VmHWM")
    print(
        json.dumps(
            {
                "images": len(paths),
                "seconds": elapsed,
                "html_bytes": len(markup),
                "rss_before_mb": before,
                "rss_peak_mb": peak,
                "traced_mb": traced / KB / KB,
            }
        )
    )


def peak_memory(root: Path, count: int) -> dict[str, float]:
    write_images(root / "images", count, first_seed=10_000)
    out = subprocess.run(
        [sys.executable, __file__, "--child-memory", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit status 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 grid images, 200 for memory")
    parser.add_argument("--child-memory", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_memory:
        child_memory(args.child_memory)
        return 0
    count, memory_count = (20, 200) if args.quick else (100, 1000)

    with tempfile.TemporaryDirectory(prefix="bench-display-") as tmp:
        root = Path(tmp)
        os.environ["IPYTHONDIR"] = str(root / "ipython")
        os.environ["ECOMVIZ_HOME"] = str(root / "home")
        paths = write_images(root / "grid", count)
        source_kb = sum(os.path.getsize(p) for p in paths) / count / KB

        import ipyplot
        from IPython.display import display

        import ecomviz_nb as ev
        from ecomviz_nb.display import show_images
        from ecomviz_nb.images import ImageStore, thumbnail_bytes

        thumb_kb = sum(len(thumbnail_bytes(Path(p).read_bytes())) for p in paths) / count / KB
        shell = make_shell()
        rows: dict[str, tuple[float, float]] = {}
        rows["ipyplot default (force_b64 paths)"] = measure(
            shell, lambda: ipyplot.plot_images(paths, max_images=count, force_b64=True)
        )
        store = ImageStore(root / "cache")
        rows["ev.show_images, cold cache"] = measure(
            shell, lambda: display(show_images(paths, store=store))
        )
        rows["ev.show_images, warm (memory)"] = measure(
            shell, lambda: display(show_images(paths, store=store))
        )
        rows["ev.show_images, warm (disk)"] = measure(
            shell, lambda: display(show_images(paths, store=ImageStore(root / "cache")))
        )
        rows['engine="ipyplot" (our thumbnails)'] = measure(
            shell, lambda: show_images(paths, store=store, engine="ipyplot")
        )
        memory = peak_memory(root / "memory", memory_count)

    base_bytes, base_seconds = rows["ipyplot default (force_b64 paths)"]
    print(
        f"display benchmark: {count} distinct {SIZE} px JPEGs (avg {source_kb:.0f} KB; bare 256 px"
        f" thumbnail avg {thumb_kb:.1f} KB), {os.cpu_count()} CPUs, ecomviz_nb {ev.__version__}"
    )
    print(f"{'path':<36} | {'KB/image':>9} | {'ms/image':>9} | {'less output':>11} | {'faster':>8}")
    print(f"{'-' * 36}-+-{'-' * 9}-+-{'-' * 9}-+-{'-' * 11}-+-{'-' * 8}")
    for name, (size, seconds) in rows.items():
        print(
            f"{name:<36} | {size / count / KB:>9.1f} | {seconds / count * 1000:>9.2f} | "
            f"{base_bytes / size:>10.0f}x | {base_seconds / seconds:>7.0f}x"
        )
    cold_bytes, cold_seconds = rows["ev.show_images, cold cache"]
    warm_seconds = rows["ev.show_images, warm (memory)"][1]
    checks = [
        (
            f"output per image <= {TARGET_KB:g} KB",
            cold_bytes / count / KB <= TARGET_KB,
            f"{cold_bytes / count / KB:.1f} KB",
        ),
        (
            f">= {TARGET_LESS:g}x less output than ipyplot",
            base_bytes / cold_bytes >= TARGET_LESS,
            f"{base_bytes / cold_bytes:.0f}x",
        ),
        (
            f">= {TARGET_FASTER:g}x faster than ipyplot (cold)",
            base_seconds / cold_seconds >= TARGET_FASTER,
            f"{base_seconds / cold_seconds:.0f}x cold, {base_seconds / warm_seconds:.0f}x warm",
        ),
        (
            f"peak RSS rendering {memory['images']:,.0f} images < {TARGET_RSS_MB:g} MB",
            memory["rss_peak_mb"] < TARGET_RSS_MB,
            f"{memory['rss_peak_mb']:.0f} MB (before render {memory['rss_before_mb']:.0f} MB; "
            f"tracemalloc peak {memory['traced_mb']:.0f} MB; {memory['seconds']:.1f} s; "
            f"HTML {memory['html_bytes'] / KB / KB:.1f} MB)",
        ),
    ]
    print()
    for label, ok, value in checks:
        print(f"{label:<46} {'PASS' if ok else 'FAIL':<5} {value}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
