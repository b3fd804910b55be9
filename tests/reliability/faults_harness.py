"""The engine of the faults suite (``test_faults.py``) and of ``make soak`` (benchmarks/soak.py).

**Faulty run** (:func:`run_faults`): N intended calls, half ``generate`` and half ``try_on``,
through one ``ev.AsyncClient`` with bounded concurrency, against a sandbox that injects faults
into its ``/api/`` routes (500s, 429 with ``Retry-After``, dropped connections, slow answers;
see :class:`FaultMix`) and fails a share of its jobs. Each call is made unique in its request,
so the server's jobs (``GET /_sandbox/jobs``) can be counted per intended call:

- a generate call runs on a product of its own, created before the faults are switched on
  (the server job's ``target`` is the product id);
- a try-on call names its garment with a unique ``info`` string (the server job keeps the
  request).

Only one fault lets the work start: a connection dropped *after* the request ran
(``drop_answer_rate``; the sandbox's other faults, and a client that gives up on a slow answer,
stop the request before its handler runs). A ``POST`` that meets it has started a job whose
answer was lost: the case where resending would pay twice, and where the server's job count
per intended call shows whether the client resent it.

Each call ends ``completed`` or ``failed`` with its reason. A submission whose answer was lost
(ledger state ``unknown``, ``err.job`` set) is followed with ``err.job.wait()`` and counts as
*recovered* if that completes. Afterwards :class:`FaultReport` compares three views: the calls'
outcomes, the server's jobs and the client's ledger; :meth:`FaultReport.problems` lists every
broken property (duplicates, lost jobs, stray jobs, calls without a ledger row, outcomes that
contradict the server).

**Outage** (:func:`run_outage`): one generation job of ``job_seconds`` with an outage (every
``/api/`` request answered 500: ``error_rate=1.0``) of ``outage_seconds`` in its middle,
switched on and off by a background task; it must end with the job's images and no exception.
Its timeline is every poll's HTTP attempts with the progress status the job reported.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from support import FAULTS_OFF, sandbox_get, sandbox_jobs, set_faults

import ecomviz_nb as ev
from ecomviz_nb.client import DEFAULT_TIMEOUT
from ecomviz_nb.ledger import JobRecord

PRODUCTS = ("tshirt-red", "sneaker-white", "handbag-black", "mug-blue")
PERSON = "/samples/people/person-a.jpg"
GARMENT = "/samples/garments/dress-green.png"
GENERATE = ev.GenerateRequest([ev.ImageSpec("main", count=2, aspect_ratio="1:1")])
"""Two images per run: a failed server job makes one of them, then stops."""


@dataclass(frozen=True)
class FaultMix:
    """The sandbox's fault switches for a run (``PUT /_sandbox/config``).

    Five request faults at 4.5 % each make about 20 % of ``/api/`` requests faulty: 500s, 429s
    with ``Retry-After``, connections dropped before the request ran (``drop_rate``) or after
    it ran (``drop_answer_rate``: the job started, its answer was lost), slow answers; and 5 %
    of jobs fail.
    """

    error_rate: float = 0.045
    rate_limit_rate: float = 0.045
    retry_after: int = 1
    drop_rate: float = 0.045
    drop_answer_rate: float = 0.045
    slow_rate: float = 0.045
    slow_seconds: float = 1.0
    fail_job_rate: float = 0.05
    job_seconds: float = 0.6
    seed: int = 0

    def switches(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- sandbox helpers


def request_counts(sb: ev.Sandbox) -> dict[str, Any]:
    """The ``/api/`` requests the sandbox answered, by route and status."""
    counts: dict[str, Any] = sandbox_get(sb, "/_sandbox/requests")
    return counts


def clear_request_counts(sb: ev.Sandbox) -> None:
    """Count the sandbox's ``/api/`` requests from zero."""
    httpx.delete(f"{sb.url}/_sandbox/requests", timeout=10).raise_for_status()


# ---------------------------------------------------------------- what the client sent


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt as the client's transport saw it."""

    t: float
    """Seconds since the recorder's origin, when the attempt started."""
    method: str
    path: str
    outcome: str
    """The status code, or the exception's name (``ReadTimeout``); a body cut short is
    ``200+RemoteProtocolError``."""
    seconds: float
    """Until the answer's headers came (or the error)."""
    key: str | None = None
    """For a generate or try-on ``POST``: the intended call's key (see :class:`Call`)."""


def _post_key(request: httpx.Request) -> str | None:
    """The intended call a generate or try-on ``POST`` is for (its product id or its info)."""
    if request.method != "POST":
        return None
    parts = request.url.path.split("/")
    if request.url.path.endswith("/generate") and len(parts) == 5:
        return parts[3]
    if request.url.path == "/api/vto/generate-url":
        try:
            body = json.loads(request.content)
        except ValueError:
            return None
        return _info(body) if isinstance(body, dict) else None
    return None


RESENDABLE_AFTER = frozenset({"429", "ConnectError", "ConnectTimeout", "PoolTimeout"})
"""Attempt outcomes after which a POST may be sent again: the work certainly did not start."""


class _WatchedStream(httpx.AsyncByteStream):
    """A response body that reports an error while it is read (an injected drop)."""

    def __init__(self, inner: httpx.AsyncByteStream, on_error: Callable[[str], None]) -> None:
        self._inner = inner
        self._on_error = on_error

    async def __aiter__(self) -> Any:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.HTTPError as exc:
            self._on_error(type(exc).__name__)
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()


class RecordingTransport(httpx.AsyncBaseTransport):
    """Records every attempt (``attempts``); a body cut short is recorded as its error."""

    def __init__(self, origin: float | None = None) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.origin = time.monotonic() if origin is None else origin
        self.attempts: list[Attempt] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t = time.monotonic() - self.origin
        method, path = request.method, request.url.path
        key = _post_key(request)
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.HTTPError as exc:
            took = time.monotonic() - self.origin - t
            self.attempts.append(Attempt(t, method, path, type(exc).__name__, took, key))
            raise
        took = time.monotonic() - self.origin - t
        index = len(self.attempts)
        self.attempts.append(Attempt(t, method, path, str(response.status_code), took, key))

        def on_error(name: str) -> None:
            outcome = f"{response.status_code}+{name}"
            self.attempts[index] = Attempt(t, method, path, outcome, took, key)

        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_WatchedStream(response.stream, on_error),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def recording_client(
    sb: ev.Sandbox, timeout: httpx.Timeout, home: str | None = None
) -> tuple[ev.AsyncClient, httpx.AsyncClient, RecordingTransport]:
    """An ``ev.AsyncClient`` on the sandbox whose every attempt is recorded."""
    transport = RecordingTransport()
    http = httpx.AsyncClient(transport=transport, timeout=timeout)
    client = sb.async_client(timeout=timeout, http_client=http, home=home)
    return client, http, transport


# ---------------------------------------------------------------- the faulty run


@dataclass
class Call:
    """One intended call and how it ended."""

    index: int
    kind: str
    """``generate`` or ``tryon``."""
    key: str
    """What makes it unique: its product id (generate) or its garment's ``info`` (try-on)."""
    outcome: str = "pending"
    """``completed`` or ``failed``."""
    reason: str | None = None
    """For a failed call: every error it met, ``Type: message``, joined by `` -> ``."""
    errors: list[BaseException] = field(default_factory=list, repr=False)
    unknown: bool = False
    """The submission's answer was lost: the ledger holds the job as ``unknown``."""
    recovered: bool = False
    """...and ``err.job.wait()`` completed it."""
    job: Any = field(default=None, repr=False)
    """The job object, once there is one."""
    images: list[ev.GeneratedImage] = field(default_factory=list, repr=False)
    seconds: float = 0.0

    def fail(self, exc: BaseException) -> None:
        self.errors.append(exc)
        text = f"{type(exc).__name__}: {exc}"
        self.reason = text if self.reason is None else f"{self.reason} -> {text}"
        self.outcome = "failed"


def tryon_request(sb: ev.Sandbox, tag: str) -> ev.TryOnRequest:
    return ev.TryOnRequest(
        person_image_url=sb.url + PERSON,
        clothing=[ev.Clothing(sb.url + GARMENT, info=tag)],
        aspect_ratio="2:3",
    )


def _info(request: dict[str, Any]) -> str | None:
    clothing = request.get("clothingImageUrls")
    if isinstance(clothing, list) and clothing and isinstance(clothing[0], dict):
        info = clothing[0].get("info")
        return info if isinstance(info, str) else None
    return None


async def _run_call(
    client: ev.AsyncClient, sb: ev.Sandbox, call: Call, wait_timeout: float
) -> None:
    started = time.monotonic()
    try:
        if call.kind == "generate":
            submit: Awaitable[Any] = client.generate(call.key, GENERATE, queue_timeout=5)
        else:
            submit = client.try_on(tryon_request(sb, call.key))
        try:
            call.job = await submit
        except (ev.APIError, ev.APIConnectionError) as exc:
            call.fail(exc)
            if exc.job is None:  # refused, or never sent
                return
            call.unknown, call.job = True, exc.job
        try:
            result = await call.job.wait(timeout=wait_timeout)
        except ev.EcomVizError as exc:
            call.fail(exc)
            return
        call.images = list(call.job.images)
        if call.kind == "tryon":
            assert isinstance(result, ev.TryOnResult)
        call.outcome, call.recovered = "completed", call.unknown
        if call.recovered:
            call.reason = None
    except Exception as exc:  # anything else is a bug: keep it, the checks name it
        call.fail(exc)
    finally:
        call.seconds = time.monotonic() - started


async def _create_products(sb: ev.Sandbox, count: int, concurrency: int) -> list[str]:
    """``count`` products, made before any fault is switched on."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str:
        async with gate:
            url = f"{sb.url}/samples/products/{PRODUCTS[i % len(PRODUCTS)]}.jpg"
            return (await setup.create_product([url])).id

    async with sb.async_client() as setup:
        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _settle(sb: ev.Sandbox, limit: float = 30.0) -> None:
    """Wait until the sandbox runs no job (a job whose answer was lost may still be running)."""
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient(base_url=sb.url, timeout=10) as control:
        while time.monotonic() < deadline:
            if (await control.get("/_sandbox/health")).json()["jobs_running"] == 0:
                return
            await asyncio.sleep(0.2)


async def run_faults(
    sb: ev.Sandbox,
    *,
    jobs: int,
    mix: FaultMix,
    concurrency: int = 16,
    wait_timeout: float = 10.0,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    tag: str = "faults",
    home: str | None = None,
) -> FaultReport:
    """Run ``jobs`` intended calls (generate and try-on alternating) under ``mix``.

    Args:
        wait_timeout: each ``job.wait()``; a failed generation (which never completes: the API
            has no status for it) ends by this timeout.
        timeout: the client's (its default: read 60 s, so slow answers are waited for).
        home: the ledger's folder (default ``$ECOMVIZ_HOME``).
    """
    n_generate = (jobs + 1) // 2
    set_faults(sb, **FAULTS_OFF)
    products = await _create_products(sb, n_generate, concurrency)
    calls: list[Call] = []
    for i in range(jobs):
        if i % 2 == 0:
            calls.append(Call(i, "generate", products[i // 2]))
        else:
            calls.append(Call(i, "tryon", f"{tag}-tryon-{i:04d}"))

    client, http, transport = recording_client(sb, timeout, home)
    gate = asyncio.Semaphore(concurrency)

    async def one(call: Call) -> None:
        async with gate:
            await _run_call(client, sb, call, wait_timeout)

    clear_request_counts(sb)
    set_faults(sb, **mix.switches())
    started = time.monotonic()
    try:
        await asyncio.gather(*(one(call) for call in calls))
    finally:
        set_faults(sb, **FAULTS_OFF)
        wall = time.monotonic() - started
        await client.aclose()
        await http.aclose()
    await _settle(sb)
    return FaultReport(
        calls=calls,
        server_jobs=sandbox_jobs(sb),
        ledger=client.ledger.list(base_url=client.base_url, limit=None),
        requests=request_counts(sb),
        attempts=transport.attempts,
        mix=mix,
        wall_seconds=wall,
    )


# ---------------------------------------------------------------- what the three views say


def _route(attempt: Attempt) -> str:
    return attempt.path.replace("/" + str(attempt.key) + "/", "/{id}/")


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class FaultReport:
    """The calls' outcomes, the server's jobs, the ledger's rows and the request counts."""

    calls: list[Call]
    server_jobs: list[dict[str, Any]]
    ledger: list[JobRecord]
    requests: dict[str, Any]
    attempts: list[Attempt]
    mix: FaultMix
    wall_seconds: float

    # ---- indexes

    def call_key(self, job: dict[str, Any]) -> str | None:
        """The intended call a server job belongs to."""
        if job["kind"] == "generate":
            return str(job["target"])
        return _info(job["request"])

    def jobs_of(self, call: Call) -> list[dict[str, Any]]:
        return [
            j for j in self.server_jobs if j["kind"] == call.kind and self.call_key(j) == call.key
        ]

    def rows_of(self, call: Call) -> list[JobRecord]:
        if call.kind == "generate":
            return [r for r in self.ledger if r.kind == "generate" and r.remote_id == call.key]
        return [r for r in self.ledger if r.kind == "tryon" and _info(r.request) == call.key]

    # ---- the properties

    @property
    def duplicates(self) -> dict[str, int]:
        """Intended calls the server ran more than once: key -> server jobs."""
        per = Counter(
            (j["kind"], self.call_key(j)) for j in self.server_jobs if self.call_key(j) is not None
        )
        return {str(key): n for (_, key), n in per.items() if n > 1}

    @property
    def strays(self) -> list[dict[str, Any]]:
        """Server jobs that belong to no intended call."""
        keys = {(c.kind, c.key) for c in self.calls}
        return [j for j in self.server_jobs if (j["kind"], self.call_key(j)) not in keys]

    def _linked(self, job: dict[str, Any]) -> JobRecord | None:
        """The ledger row that names this server job by its id (not a refused one)."""
        for r in self.ledger:
            if r.kind == job["kind"] and r.remote_id == job["target"] and r.state != "rejected":
                return r
        return None

    @property
    def unlinked(self) -> list[dict[str, Any]]:
        """Try-on jobs whose vtoId the client never learnt (the answer to its POST was lost):
        their ledger row is there, ``unknown``, with the request but without the id."""
        out = []
        for job in self.server_jobs:
            if job["kind"] != "tryon" or self._linked(job) is not None:
                continue
            rows = [
                r
                for r in self.ledger
                if r.kind == "tryon" and _info(r.request) == _info(job["request"])
            ]
            if rows and all(r.state == "unknown" and r.remote_id is None for r in rows):
                out.append(job)
        return out

    @property
    def lost(self) -> list[dict[str, Any]]:
        """Server jobs the ledger does not hold: neither by id nor (try-on, answer lost) by its
        request in an ``unknown`` row."""
        unlinked = {j["id"] for j in self.unlinked}
        return [j for j in self.server_jobs if self._linked(j) is None and j["id"] not in unlinked]

    def problems(self) -> list[str]:
        """Every broken property, in words; empty when the run is sound."""
        out: list[str] = []
        # The server's request log against the client's attempts: every POST that got an
        # answer's start was counted; one that met a bare connection error may not have arrived.
        counted = {
            route.split(" ", 1)[1]: n
            for route, n in self.requests.get("by_route", {}).items()
            if route.startswith("POST ") and route != "POST /api/products/url"
        }
        for route in set(counted) | {_route(a) for a in self.posts()}:
            mine = [a for a in self.posts() if _route(a) == route]
            answered = sum(1 for a in mine if a.outcome[:1].isdigit())
            if not answered <= counted.get(route, 0) <= len(mine):
                out.append(
                    f"POST {route}: the server counted {counted.get(route, 0)}, the client sent "
                    f"{len(mine)} ({answered} answered)"
                )
        for key, n in self.duplicates.items():
            out.append(f"duplicate: the server ran {key} {n} times")
        for job in self.strays:
            out.append(f"stray: server job {job['id']} belongs to no intended call")
        for job in self.lost:
            out.append(f"lost: server job {job['id']} ({job['target']}) is not in the ledger")
        for call in self.calls:
            out += [f"call {call.index} ({call.kind} {call.key}): {p}" for p in self._check(call)]
        return out

    def posts(self, call: Call | None = None) -> list[Attempt]:
        """The generate / try-on POST attempts the client made (for one call), in order."""
        return [
            a
            for a in self.attempts
            if a.method == "POST" and a.key is not None and (call is None or a.key == call.key)
        ]

    def _check(self, call: Call) -> list[str]:
        out: list[str] = []
        jobs, rows = self.jobs_of(call), self.rows_of(call)
        posts = self.posts(call)
        for before, again in itertools.pairwise(posts):
            if before.outcome not in RESENDABLE_AFTER:
                out.append(f"POST sent again at {again.t:.1f} s after {before.outcome}")
        if call.outcome not in ("completed", "failed"):
            out.append(f"ended {call.outcome!r}")
        if call.outcome == "failed" and not (call.reason and call.reason.strip()):
            out.append("failed without a reason")
        for exc in call.errors:
            if not isinstance(exc, ev.EcomVizError):
                out.append(f"raised {type(exc).__name__}: {_short(str(exc))}")
        sent = bool(rows)
        if not sent:
            # Only a generate whose product read (before the ledger row) failed sends nothing.
            first = call.errors[0] if call.errors else None
            if not (call.kind == "generate" and getattr(first, "method", "") == "GET"):
                out.append("no ledger row")
            if jobs:
                out.append("a server job but no ledger row")
            return out
        if len(rows) > 1:
            out.append(f"{len(rows)} ledger rows")
        row = rows[-1]
        if row.state == "rejected" and jobs:
            out.append("the ledger says refused, yet the server ran it")
        server = jobs[0]["state"] if jobs else None
        if call.outcome == "completed":
            if server != "completed":
                out.append(f"completed, but the server job is {server!r}")
            if row.state != "completed":
                out.append(f"completed, but the ledger row is {row.state!r}")
            out += self._check_images(call)
        elif (
            server == "completed"
            and not call.unknown
            and not isinstance(call.errors[-1], ev.JobTimeoutError)
        ):
            # A job the server finished and the client knew of may only fail by its deadline.
            out.append(f"the server completed it, yet: {_short(call.reason or '')}")
        if server == "failed" and call.outcome != "failed":
            out.append("the server failed it, yet it is reported completed")
        if call.unknown and row.state not in ("unknown", "completed"):
            out.append(f"an unknown submission's row is {row.state!r}")
        return out

    def _check_images(self, call: Call) -> list[str]:
        if call.kind == "generate":
            own = [i for i in call.images if f"/products/{call.key}/" in i.file_path]
            if len(call.images) != GENERATE.expected_images or len(own) != len(call.images):
                return [f"images {[i.file_path for i in call.images]}"]
            return []
        if len(call.images) != 1:
            return [f"{len(call.images)} try-on images"]
        return []

    # ---- the numbers

    @property
    def completed(self) -> list[Call]:
        return [c for c in self.calls if c.outcome == "completed"]

    @property
    def failed(self) -> list[Call]:
        return [c for c in self.calls if c.outcome == "failed"]

    @property
    def unknowns(self) -> list[Call]:
        return [c for c in self.calls if c.unknown]

    @property
    def recovered(self) -> list[Call]:
        return [c for c in self.calls if c.recovered]

    def faults(self) -> dict[str, int]:
        """Faults injected, by kind: 500s, 429s and drops (before or after the request ran) as
        the sandbox counted its answers; slow answers as the client timed them (the sandbox
        does not count those)."""
        status = self.requests.get("by_status", {})
        slow = self.mix.slow_seconds
        return {
            "500": int(status.get("5xx", 0)),
            "429": int(status.get("4xx", 0)),
            "dropped": int(status.get("dropped", 0)),
            "slow": sum(1 for a in self.attempts if a.seconds >= slow),
            "failed jobs": sum(1 for j in self.server_jobs if j["state"] == "failed"),
        }

    def reason_group(self, call: Call) -> str:
        """A failure's reason without ids: the errors in turn, the ledger's and the server's
        word on the job (``generate: ServerError 500 on POST -> JobTimeoutError [ledger:
        unknown] (server: no job)``)."""
        parts = []
        for exc in call.errors:
            name = type(exc).__name__
            if isinstance(exc, ev.APIError):
                name += f" {exc.status_code}"
            if isinstance(exc, ev.JobFailedError):
                name += " (no vtoId)" if "no vtoId" in str(exc) else f" (status {exc.status!r})"
            if isinstance(exc, ev.JobTimeoutError) and exc.last_error is not None:
                name += f" (last poll: {type(exc.last_error).__name__})"
            method = getattr(exc, "method", "")
            parts.append(f"{name} on {method}" if method else name)
        rows, jobs = self.rows_of(call), self.jobs_of(call)
        ledger = rows[-1].state if rows else "no row"
        server = jobs[0]["state"] if jobs else "no job"
        return f"{call.kind}: {' -> '.join(parts)} [ledger: {ledger}] (server: {server})"

    def failure_groups(self) -> list[tuple[str, int, str]]:
        """(reason group, calls, one full example message), most frequent first."""
        groups: dict[str, list[Call]] = {}
        for call in self.failed:
            groups.setdefault(self.reason_group(call), []).append(call)
        return sorted(
            ((k, len(v), v[0].reason or "") for k, v in groups.items()), key=lambda g: -g[1]
        )

    def table(self) -> str:
        """The run's summary as a markdown table, then the failures grouped by reason."""
        n_gen = sum(1 for c in self.calls if c.kind == "generate")
        faults = self.faults()
        total = int(self.requests.get("total", 0))
        injected = faults["500"] + faults["429"] + faults["dropped"] + faults["slow"]
        share = injected / total if total else 0.0
        rows = [
            ("jobs", f"{len(self.calls)} ({n_gen} generate, {len(self.calls) - n_gen} try-on)"),
            ("API requests (server)", str(total)),
            (
                "faults injected",
                f"{injected} of {total} requests ({share:.0%}): "
                f"500 x{faults['500']}, 429 x{faults['429']}, dropped x{faults['dropped']}, "
                f"slow x{faults['slow']}; failed jobs x{faults['failed jobs']} "
                f"of {len(self.server_jobs)}",
            ),
            ("completed", f"{len(self.completed)} (of which {len(self.recovered)} recovered)"),
            ("failed with reason", str(len(self.failed))),
            (
                "recovered unknowns",
                f"{len(self.recovered)} of {len(self.unknowns)} submissions whose answer was lost",
            ),
            ("duplicates", str(len(self.duplicates))),
            ("lost", str(len(self.lost))),
            (
                "unlinked (try-on ran, vtoId never received; row 'unknown')",
                str(len(self.unlinked)),
            ),
            ("problems", str(len(self.problems()))),
            ("wall time", f"{self.wall_seconds:.1f} s"),
        ]
        lines = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
        groups = self.failure_groups()
        if groups:
            lines += ["", "| failed with reason | calls | example |", "|---|---:|---|"]
            lines += [f"| {k} | {n} | {_short(ex, 140)} |" for k, n, ex in groups]
        return "\n".join(lines)


# ---------------------------------------------------------------- the outage


@dataclass
class OutageReport:
    """One job ridden through an outage: its timeline and how it ended."""

    job_seconds: float
    outage: tuple[float, float]
    """When the outage started and ended, seconds after submission."""
    events: list[tuple[float, str, int, int]]
    """Progress events: (t, status, done, expected)."""
    attempts: list[Attempt]
    marks: list[tuple[float, str]]
    """When the outage was switched on and off."""
    ended: float
    """Seconds after submission when ``wait()`` returned (or raised)."""
    images: list[ev.GeneratedImage]
    product_id: str
    error: BaseException | None

    def timeline(self) -> str:
        """Each poll: t, its HTTP attempts, the status the job reported, done/expected."""
        lines = [
            f"job of {self.job_seconds:g} s; outage {self.outage[0]:g} s -> {self.outage[1]:g} s "
            "(every /api/ request answered 500)",
            "",
            "| t (s) | poll: HTTP attempts | progress status | images |",
            "|---:|---|---|---|",
        ]
        polls = [a for a in self.attempts if a.method == "GET"]
        rows: list[tuple[float, str]] = [
            (t, f"| {t:6.1f} | *{what}* | | |") for t, what in self.marks
        ]
        taken = 0
        for t, status, done, expected in self.events:
            mine = [a for a in polls[taken:] if a.t <= t]
            taken += len(mine)
            start = mine[0].t if mine else t
            tried = ", ".join(f"{a.outcome} at {a.t:.1f}" for a in mine) if len(mine) > 1 else ""
            tried = tried or (mine[0].outcome if mine else "-")
            rows.append((start, f"| {start:6.1f} | GET {tried} | {status} | {done}/{expected} |"))
        rows.sort(key=lambda r: r[0])
        lines += [text for _, text in rows]
        end = "no exception" if self.error is None else f"{type(self.error).__name__}: {self.error}"
        lines += ["", f"ended at {self.ended:.1f} s with {len(self.images)} images, {end}"]
        return "\n".join(lines)


async def run_outage(
    sb: ev.Sandbox,
    *,
    job_seconds: float,
    outage_seconds: float,
    images: int = 4,
    home: str | None = None,
) -> OutageReport:
    """One generation of ``job_seconds`` with an outage of ``outage_seconds`` in its middle."""
    set_faults(sb, **FAULTS_OFF)
    async with sb.async_client() as setup:
        product = await setup.create_product([f"{sb.url}/samples/products/{PRODUCTS[0]}.jpg"])
    set_faults(sb, job_seconds=job_seconds)
    request = ev.GenerateRequest([ev.ImageSpec("main", count=images, aspect_ratio="1:1")])
    client, http, transport = recording_client(sb, DEFAULT_TIMEOUT, home)
    start = max(0.0, (job_seconds - outage_seconds) / 2)
    window = (start, start + outage_seconds)
    marks: list[tuple[float, str]] = []
    events: list[tuple[float, str, int, int]] = []
    error: BaseException | None = None
    job: ev.AsyncGenerationJob | None = None

    async def outage(origin: float) -> None:
        async with httpx.AsyncClient(base_url=sb.url, timeout=10) as control:
            await asyncio.sleep(max(0.0, origin + window[0] - time.monotonic()))
            (await control.put("/_sandbox/config", json={"error_rate": 1.0})).raise_for_status()
            marks.append((time.monotonic() - origin, "outage starts: error_rate=1.0"))
            await asyncio.sleep(max(0.0, origin + window[1] - time.monotonic()))
            (await control.put("/_sandbox/config", json={"error_rate": 0.0})).raise_for_status()
            marks.append((time.monotonic() - origin, "outage ends: error_rate=0"))

    try:
        job = await client.generate(product.id, request)
        origin = time.monotonic()
        transport.origin = origin
        transport.attempts.clear()  # the timeline is the job's polls
        switch = asyncio.create_task(outage(origin))

        def on_progress(event: ev.ProgressEvent) -> None:
            events.append((time.monotonic() - origin, event.status, event.done, event.expected))

        try:
            await job.wait(timeout=job_seconds * 3 + 60, on_progress=on_progress)
        except ev.EcomVizError as exc:
            error = exc
        ended = time.monotonic() - origin
        await switch
    finally:
        set_faults(sb, **FAULTS_OFF, job_seconds=None)
        await client.aclose()
        await http.aclose()
    return OutageReport(
        job_seconds=job_seconds,
        outage=window,
        events=events,
        attempts=list(transport.attempts),
        marks=marks,
        ended=ended,
        images=list(job.images),
        product_id=product.id,
        error=error,
    )
