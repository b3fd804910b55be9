"""Run one catalogue batch in a process of its own (for the SIGKILL test in test_batch.py).

Usage::

    ECOMVIZ_HOME=... python tests/batch_worker.py SPEC.json

``SPEC.json`` holds ``base_url``, ``name``, ``items`` (a list of dicts), ``request`` (the
generate request's wire JSON), ``concurrency`` and ``timeout``. The test kills this process
part-way and resumes the batch itself; when left alone it prints the result and exits 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ecomviz_nb as ev
from ecomviz_nb.runs import batch


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    client = ev.Client("sandbox-local", base_url=spec["base_url"])
    print("started", flush=True)
    result = batch(
        client,
        spec["items"],
        spec["request"],
        name=spec["name"],
        concurrency=spec["concurrency"],
        timeout=spec["timeout"],
        progress=False,
    )
    print(repr(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
