"""``ev.Client`` and ``ev.AsyncClient``: one request builder and parser, two ways to send.

Everything that does no I/O (building requests, deciding retries, mapping errors, writing the
ledger) lives in :class:`~ecomviz_nb.client_base.BaseClient` and :mod:`ecomviz_nb.api_call`;
the two clients repeat only the sending loop.

Retries: a GET is retried on connection errors, timeouts, 408, 429 and 5xx with capped
exponential backoff and jitter, honouring ``Retry-After``. A POST starts paid work, so it is
retried only when the request certainly never started it (connection refused, connect or pool
timeout, or a 429 refusal); after a read timeout, a dropped connection or a 5xx it is *not*
resent and the ledger marks the job ``unknown``; the raised error then carries that job as ``.job``.

Turns: ``generate()`` first waits until no run on the product that its images could be mixed
up with is in flight (:mod:`ecomviz_nb.scheduler`); ``try_generate()`` submits only if it is
the run's turn now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import httpx

from . import config
from .api_call import ApiCall, parse_retry_after, retry_delay
from .client_base import DEFAULT_TIMEOUT, BaseClient
from .errors import APIConnectionError, APIError
from .jobs import AsyncGenerationJob, AsyncJobs, AsyncTryOnJob, GenerationJob, Jobs, TryOnJob
from .ledger import JobRecord
from .models import GenerateRequest, Product, TryOnRequest, TryOnResult

__all__ = ["DEFAULT_TIMEOUT", "AsyncClient", "Client", "retry_delay"]


class Client(BaseClient):
    """A synchronous EcomViz client on ``httpx.Client``.

    Args:
        token: the API token; default ``$ECOMVIZ_API_TOKEN``. Never shown in reprs or logs.
        base_url: default ``$ECOMVIZ_BASE_URL`` or ``https://ecomviz.cloud``.
        timeout: seconds or an ``httpx.Timeout`` (default: connect 10 s, read 60 s).
        max_retries: retries for GETs (and for POSTs that never reached the server).
        http_client: an ``httpx.Client`` to send with (proxies, tests); you keep closing it.
        home: folder of the job ledger; default ``$ECOMVIZ_HOME`` or ``~/.ecomviz``.
        sleep: what waits between retries, for a product's turn and in the jobs this client
            returns; default ``time.sleep``. Tests and simulations pass a recorder, as they can
            to a job.
        rand: the jitter source in [0, 1) for those waits; default ``random.random``.

    Raises:
        ValidationError: ``max_retries`` is not a whole number >= 0, or ``sleep`` / ``rand``
            is not callable.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        home: str | None = None,
        sleep: Callable[[float], Any] | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            home=home,
            sleep=sleep,
            rand=rand,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=self.timeout, headers=self._headers())
        self._sleep: Callable[[float], Any] = time.sleep if sleep is None else sleep
        self.jobs = Jobs(self.ledger, self, self.base_url)
        """The job ledger's jobs for this server: ``client.jobs.list()``, ``.get(job_id)``."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections (an injected ``http_client`` is left open) and forget the
        token, unless another live client still uses it."""
        if self._owns_http:
            self._http.close()
        if not getattr(self, "_released", False):  # a second close gives nothing back twice
            self._released = True
            config.release_api(self.base_url, self._token)

    def _send(self, call: ApiCall) -> dict[str, Any]:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = self._http.send(self._build(self._http, call))
            except httpx.HTTPError as exc:
                self._log(call, type(exc).__name__, started, attempt)
                delay = self._retry_after_error(call, exc, attempt)
                if delay is None:
                    raise self._connection_error(call, exc) from None
            else:
                self._log(call, str(response.status_code), started, attempt)
                delay = self._retry_after_response(call, response, attempt)
                if delay is None:
                    return self._parse(call, response)
            self._sleep(delay)
            attempt += 1

    def create_product(self, image_urls: Sequence[str]) -> Product:
        """Create a product from image URLs; the server analyses it (name, colours).

        Raises:
            ValidationError: a URL is empty or not http(s); nothing was sent.
        """
        return self._product(self._send(self._create_product_call(image_urls)))

    def get_product(self, product_id: str) -> Product:
        """Fetch a product with its generated images so far."""
        return self._product(self._send(self._get_product_call(product_id)))

    def generate(
        self,
        product_id: str,
        request: GenerateRequest | Mapping[str, Any],
        *,
        queue_timeout: float | None = 600,
    ) -> GenerationJob:
        """Start image generation; returns a job to ``wait()`` on.

        If a run on this product whose images could not be told apart from this one's is in
        flight (same platform, region and a shared type or VTO colour), this first waits for it
        to finish (:mod:`ecomviz_nb.attribution`). The job is in the ledger before the request
        is sent.

        Args:
            queue_timeout: seconds to wait for that turn at most (None: no limit).

        Raises:
            ValidationError: the request breaks a rule; nothing was sent.
            QueueTimeoutError: the turn did not come in time; nothing was sent.
            APIError: the server refused it. APIConnectionError: see ``maybe_sent``; when the
                request may have started the job, ``error.job`` is its ledger job.
        """
        call, req = self._generate_call(product_id, request)
        started = time.monotonic()
        while True:
            job = self._try_generate(self.get_product(product_id), call, req)
            if isinstance(job, GenerationJob):
                return job
            self._sleep(self._turn_pause(job, started, queue_timeout))

    def try_generate(
        self, product: Product, request: GenerateRequest | Mapping[str, Any]
    ) -> GenerationJob | None:
        """Submit now if it is the run's turn on ``product``; else None and nothing is sent.

        Args:
            product: the product as read just now: its images are the run's baseline.
        """
        call, req = self._generate_call(product.id, request)
        job = self._try_generate(product, call, req)
        return job if isinstance(job, GenerationJob) else None

    def _try_generate(
        self, product: Product, call: ApiCall, req: GenerateRequest
    ) -> GenerationJob | list[JobRecord]:
        assert call.body is not None
        record, blockers = self.turns.reserve(product, req, call.body)
        if record is None:
            return blockers
        try:
            payload = self._send(call)
        except (APIError, APIConnectionError) as exc:
            self._mark_failed(record, exc)
            raise
        self._mark_submitted(record, payload)
        return GenerationJob(record, self, **self._job_options())

    def try_on(self, request: TryOnRequest | Mapping[str, Any]) -> TryOnJob:
        """Start a virtual try-on; returns a job to ``wait()`` on."""
        call, req = self._try_on_call(request)
        record = self._record_submission(call, "tryon", req.expected_images, None)
        try:
            payload = self._send(call)
        except (APIError, APIConnectionError) as exc:
            self._mark_failed(record, exc)
            raise
        self._mark_submitted(record, payload)
        return TryOnJob(record, self, **self._job_options())

    def get_try_on(self, vto_id: str) -> TryOnResult:
        """Fetch a try-on task's status and images."""
        return self._try_on_result(self._send(self._get_try_on_call(vto_id)))

    def to_async(self) -> AsyncClient:
        """An ``AsyncClient`` for the same server, token and ledger (widgets use one)."""
        return AsyncClient(self._token, **self._twin_options())


class Limiter(Protocol):
    """Paces an :class:`AsyncClient` (a batch's :class:`~ecomviz_nb.runs.AdaptiveLimiter`)."""

    def slot(self) -> AbstractAsyncContextManager[None]: ...

    def penalize(self, retry_after: float | None) -> None: ...

    def reward(self) -> None: ...


class AsyncClient(BaseClient):
    """The asyncio twin of :class:`Client` on ``httpx.AsyncClient``; every method is awaitable.

    Takes the same arguments as :class:`Client`; ``http_client`` is an ``httpx.AsyncClient``
    and ``sleep`` a coroutine function (default ``asyncio.sleep``).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
        home: str | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            home=home,
            sleep=sleep,
            rand=rand,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self.timeout, headers=self._headers())
        self._sleep: Callable[[float], Any] = asyncio.sleep if sleep is None else sleep
        self.limiter: Limiter | None = None
        """When set, every request takes one of its slots and reports 429s to it."""
        self.jobs = AsyncJobs(self.ledger, self, self.base_url)
        """The job ledger's jobs for this server, as async jobs."""

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (an injected ``http_client`` is left open) and forget the
        token, unless another live client still uses it."""
        if self._owns_http:
            await self._http.aclose()
        if not getattr(self, "_released", False):  # a second close gives nothing back twice
            self._released = True
            config.release_api(self.base_url, self._token)

    async def _send(self, call: ApiCall) -> dict[str, Any]:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = await self._send_once(call)
            except httpx.HTTPError as exc:
                self._log(call, type(exc).__name__, started, attempt)
                delay = self._retry_after_error(call, exc, attempt)
                if delay is None:
                    raise self._connection_error(call, exc) from None
            else:
                self._log(call, str(response.status_code), started, attempt)
                delay = self._retry_after_response(call, response, attempt)
                if delay is None:
                    return self._parse(call, response)
            await self._sleep(delay)
            attempt += 1

    async def _send_once(self, call: ApiCall) -> httpx.Response:
        if self.limiter is None:
            return await self._http.send(self._build(self._http, call))
        async with self.limiter.slot():
            response = await self._http.send(self._build(self._http, call))
        if response.status_code == 429:
            self.limiter.penalize(parse_retry_after(response.headers.get("Retry-After")))
        else:
            self.limiter.reward()
        return response

    async def create_product(self, image_urls: Sequence[str]) -> Product:
        """See :meth:`Client.create_product`."""
        return self._product(await self._send(self._create_product_call(image_urls)))

    async def get_product(self, product_id: str) -> Product:
        """See :meth:`Client.get_product`."""
        return self._product(await self._send(self._get_product_call(product_id)))

    async def generate(
        self,
        product_id: str,
        request: GenerateRequest | Mapping[str, Any],
        *,
        queue_timeout: float | None = 600,
    ) -> AsyncGenerationJob:
        """See :meth:`Client.generate`."""
        call, req = self._generate_call(product_id, request)
        started = time.monotonic()
        while True:
            job = await self._try_generate(await self.get_product(product_id), call, req)
            if isinstance(job, AsyncGenerationJob):
                return job
            await self._sleep(self._turn_pause(job, started, queue_timeout))

    async def try_generate(
        self, product: Product, request: GenerateRequest | Mapping[str, Any]
    ) -> AsyncGenerationJob | None:
        """See :meth:`Client.try_generate`."""
        call, req = self._generate_call(product.id, request)
        job = await self._try_generate(product, call, req)
        return job if isinstance(job, AsyncGenerationJob) else None

    async def _try_generate(
        self, product: Product, call: ApiCall, req: GenerateRequest
    ) -> AsyncGenerationJob | list[JobRecord]:
        assert call.body is not None
        record, blockers = self.turns.reserve(product, req, call.body)
        if record is None:
            return blockers
        try:
            payload = await self._send(call)
        except (APIError, APIConnectionError) as exc:
            self._mark_failed(record, exc)
            raise
        self._mark_submitted(record, payload)
        return AsyncGenerationJob(record, self, **self._job_options())

    async def try_on(self, request: TryOnRequest | Mapping[str, Any]) -> AsyncTryOnJob:
        """See :meth:`Client.try_on`."""
        call, req = self._try_on_call(request)
        record = self._record_submission(call, "tryon", req.expected_images, None)
        try:
            payload = await self._send(call)
        except (APIError, APIConnectionError) as exc:
            self._mark_failed(record, exc)
            raise
        self._mark_submitted(record, payload)
        return AsyncTryOnJob(record, self, **self._job_options())

    async def get_try_on(self, vto_id: str) -> TryOnResult:
        """See :meth:`Client.get_try_on`."""
        return self._try_on_result(await self._send(self._get_try_on_call(vto_id)))

    def to_async(self) -> AsyncClient:
        """A new ``AsyncClient`` like this one (its own connections)."""
        return AsyncClient(self._token, **self._twin_options())
