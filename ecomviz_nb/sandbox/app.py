"""The sandbox's HTTP application: ``create_app(settings)`` builds it, uvicorn serves it.

Routes are the provider reference's five, plus ``/files/…`` (generated images), ``/samples/…``
(bundled sample photos) and sandbox-only controls under ``/_sandbox/``. Every error is
``{"success": false, "message": "…"}``; bad input never produces a 500.
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._version import __version__
from . import render, samples
from .errors import SandboxError, error_response, validation_message
from .fetch import FetchError, ImageFetcher
from .middleware import RequestCounter, RequestStats, SandboxMiddleware
from .schemas import CreateProductBody, GenerateBody, TryOnBody
from .settings import HOSTILE_MARKUP, Faults, Settings
from .store import Store
from .webhooks import WebhookSender
from .worker import Worker, absolute_images, now_iso

__all__ = ["create_app"]

_PUBLIC_PRODUCT_FIELDS = (
    "_id",
    "productName",
    "generatedImages",
    "aiAnalysis",
    "colors",
    "createdAt",
)


class FaultsBody(BaseModel):
    """Fault injection switches; any subset may be sent."""

    model_config = ConfigDict(extra="forbid")
    error_rate: float | None = Field(None, ge=0, le=1)
    rate_limit_rate: float | None = Field(None, ge=0, le=1)
    retry_after: int | None = Field(None, ge=0, le=3600)
    drop_rate: float | None = Field(None, ge=0, le=1)
    drop_answer_rate: float | None = Field(None, ge=0, le=1)
    slow_rate: float | None = Field(None, ge=0, le=1)
    slow_seconds: float | None = Field(None, ge=0, le=60)
    fail_job_rate: float | None = Field(None, ge=0, le=1)
    job_seconds: float | None = Field(None, ge=0, le=600)
    hostile: bool | None = None
    seed: int | None = None


class ProductWebhook(BaseModel):
    """Sent to ``webhook.url`` when a product generation ends."""

    productId: str
    status: str
    generatedImages: list[dict[str, Any]]


class TryOnWebhook(BaseModel):
    """Sent to ``webhook.url`` when a try-on ends."""

    vtoId: str
    status: str
    generatedImages: list[dict[str, Any]]
    createdAt: str
    updatedAt: str


# Module level: FastAPI resolves the annotations of route functions in this module's globals.
_bearer = HTTPBearer(
    auto_error=False, description="Any non-empty token, unless the sandbox was started with --token"
)


def _new_id() -> str:
    return secrets.token_hex(12)  # the shape of the API's ids (24 hex digits)


def _ext(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\x89PNG"):
        return "png", "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", "image/webp"
    return "jpg", "image/jpeg"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build a sandbox application.

    Args:
        settings: start-up settings; defaults keep state in memory, 4 s per job.
    """
    settings = settings or Settings()
    store = Store(settings.data_dir)
    faults = Faults(job_seconds=None)
    webhooks = WebhookSender(settings)
    worker = Worker(store, settings, faults, webhooks)
    origins: set[str] = set()
    request_stats = RequestStats()

    def read_local(path: str) -> bytes | None:
        if path.startswith("/samples/"):
            try:
                return samples.sample_bytes(path[len("/samples/") :])
            except KeyError:
                return None
        if path.startswith("/files/"):
            found = store.get_file(path.lstrip("/"))
            return None if found is None else found[0]
        return None

    fetcher = ImageFetcher(settings, read_local, lambda: origins)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        worker.resume_unfinished()
        yield
        await worker.close()
        await fetcher.aclose()
        await webhooks.aclose()
        store.close()

    app = FastAPI(
        title="EcomViz sandbox",
        version=__version__,
        description="A local stand-in for the EcomViz API: same routes, images rendered "
        "locally with Pillow (not AI).",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        redoc_url=None,
    )
    app.state.settings, app.state.store, app.state.faults = settings, store, faults
    app.state.worker, app.state.webhooks, app.state.origins = worker, webhooks, origins
    app.add_middleware(
        SandboxMiddleware, faults=faults, max_body=settings.max_body_bytes, origins=origins
    )
    app.state.requests = request_stats
    app.add_middleware(RequestCounter, stats=request_stats, routes=app.router.routes)  # outermost

    @app.exception_handler(SandboxError)
    async def on_sandbox_error(request: Request, exc: SandboxError) -> Response:
        return error_response(exc.status_code, faults.spoil(exc.message), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        status, message = validation_message(exc.errors())
        return error_response(status, faults.spoil(message))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path[:200]}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path[:200]}"
        return error_response(exc.status_code, faults.spoil(message), dict(exc.headers or {}))

    async def require_token(request: Request, _: Annotated[Any, Depends(_bearer)]) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise SandboxError(401, "missing 'Authorization: Bearer <token>' header")
        scheme, _sep, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise SandboxError(401, "the Authorization header must be 'Bearer <token>'")
        if settings.token is not None and not secrets.compare_digest(
            token.encode(), settings.token.encode()
        ):
            raise SandboxError(401, "the token is not valid for this sandbox")

    api = [Depends(require_token)]

    async def fetch_decoded(url: str, field: str) -> tuple[bytes, Any]:
        try:
            data = await fetcher.fetch(url)
        except FetchError as exc:
            raise SandboxError(400, f"{field}: {exc}") from None
        try:
            image = await worker.run_in_pool(render.decode, data)
        except render.ImageRejected as exc:
            raise SandboxError(400, f"{field}: {url!r} is not a usable image: {exc}") from None
        return data, image

    def product_or_404(product_id: str) -> dict[str, Any]:
        doc = store.get_product(product_id)
        if doc is None:
            raise SandboxError(404, f"no product with id {product_id[:100]!r}")
        return doc

    @app.post("/api/products/url", dependencies=api, tags=["products"])
    async def create_product(body: CreateProductBody) -> dict[str, Any]:
        """Create a new product by providing image URLs for AI analysis."""
        urls = list(body.imageUrls)
        fetched = [await fetch_decoded(u, f"imageUrls[{i}]") for i, u in enumerate(urls)]
        analysis = await worker.run_in_pool(render.analyse, [img for _, img in fetched], urls)
        pid = _new_id()
        sources = []
        for i, (data, _img) in enumerate(fetched):
            ext, ctype = _ext(data)
            path = f"files/products/{pid}/source-{i}.{ext}"
            store.put_file(path, data, ctype)
            sources.append(path)
        digest = hashlib.sha256(b"".join(d for d, _ in fetched)).hexdigest()
        # Faults.hostile: markup in every string made up here (and in a key of the analysis).
        ai_analysis = faults.spoil(analysis.ai_analysis)
        if faults.hostile:
            ai_analysis[HOSTILE_MARKUP] = faults.spoil("a key")
        doc = {
            "_id": pid,
            "productName": faults.spoil(analysis.product_name),
            "aiAnalysis": ai_analysis,
            "colors": faults.spoil(list(analysis.colors)),
            "createdAt": now_iso(),
            "generatedImages": [],
            "_sandbox": {"sources": sources, "digest": digest, "imageUrls": urls},
        }
        store.put_product(doc)
        created = {k: doc[k] for k in ("_id", "productName", "aiAnalysis", "colors", "createdAt")}
        return {"success": True, "data": created}

    @app.get("/api/products/{productId}", dependencies=api, tags=["products"])
    async def get_product(productId: str) -> dict[str, Any]:
        """Retrieve product details including generated images and AI analysis."""
        doc = product_or_404(productId)
        return {"success": True, "data": {k: doc.get(k) for k in _PUBLIC_PRODUCT_FIELDS}}

    @app.post("/api/products/{productId}/generate", dependencies=api, tags=["products"])
    async def generate(productId: str, body: GenerateBody) -> dict[str, Any]:
        """Generate images for a product; asynchronous, results arrive on the product."""
        doc = product_or_404(productId)
        request = body.model_dump(exclude_none=False)
        first_color = (doc.get("colors") or [None])[0]
        plan: list[dict[str, Any]] = []
        for entry in request["imageType"]:
            if "vto" in entry and entry.get("vto") is not None:
                for i, color in enumerate(entry["vto"]):
                    plan.append(
                        {
                            "type": "vto",
                            "aspect": entry.get("aspectRatio"),
                            "color": color,
                            "index": i,
                        }
                    )
                continue
            kind = next(k for k in ("main", "detail", "facebook") if entry.get(k) is not None)
            for i in range(entry[kind]):
                plan.append(
                    {"type": kind, "aspect": entry["aspectRatio"], "color": first_color, "index": i}
                )
        worker.start(
            {
                "id": "gen_" + _new_id(),
                "kind": "generate",
                "target": productId,
                "state": "queued",
                "plan": plan,
                "done": 0,
                "request": request,
            }
        )
        message = faults.spoil("Image generation task started")
        return {"success": True, "message": message, "productId": productId}

    @app.post("/api/vto/generate-url", dependencies=api, tags=["vto"])
    async def try_on(body: TryOnBody, request: Request) -> dict[str, Any]:
        """Generate virtual try-on images by providing image URLs."""
        person_data, _ = await fetch_decoded(body.personImageUrl, "personImageUrl")
        clothing = [
            await fetch_decoded(c.url, f"clothingImageUrls[{i}].url")
            for i, c in enumerate(body.clothingImageUrls)
        ]
        vid = _new_id()
        stored = []
        for name, data in [("person", person_data)] + [
            (f"clothing-{i}", d) for i, (d, _) in enumerate(clothing)
        ]:
            ext, ctype = _ext(data)
            path = f"files/vto/{vid}/{name}.{ext}"
            store.put_file(path, data, ctype)
            stored.append(path)
        now = now_iso()
        clothing_urls = [c.url for c in body.clothingImageUrls]
        doc = {
            "_id": vid,
            "status": "queued",
            "personImage": {"filePath": body.personImageUrl},
            "clothingImages": [{"filePath": u} for u in clothing_urls],
            "generatedImages": [],
            "createdAt": now,
            "updatedAt": now,
            "_sandbox": {
                "person": stored[0],
                "clothing": [
                    [p, c.info] for p, c in zip(stored[1:], body.clothingImageUrls, strict=True)
                ],
                "digests": [
                    hashlib.sha256(d).hexdigest() for d in [person_data] + [d for d, _ in clothing]
                ],
                "base": str(request.base_url),
            },
        }
        if faults.hostile:  # the garments' info is echoed, with markup
            doc["clothingImages"] = [
                {"filePath": c.url, "info": faults.spoil(c.info or "garment")}
                for c in body.clothingImageUrls
            ]
        store.put_try_on(doc)
        worker.start(
            {
                "id": "vto_" + vid,
                "kind": "tryon",
                "target": vid,
                "state": "queued",
                "done": 0,
                "request": body.model_dump(),
            }
        )
        return {
            "success": True,
            "message": faults.spoil("VTO try-on image generation task has been submitted"),
            "vtoId": vid,
            "personImage": body.personImageUrl,
            "clothingImages": clothing_urls,
        }

    @app.get("/api/vto/{vtoId}", dependencies=api, tags=["vto"])
    async def get_try_on(vtoId: str, request: Request) -> dict[str, Any]:
        """Get VTO task result by task ID."""
        doc = store.get_try_on(vtoId)
        if doc is None:
            raise SandboxError(404, f"no try-on with id {vtoId[:100]!r}")
        data = {k: v for k, v in doc.items() if k != "_sandbox"}
        data["generatedImages"] = absolute_images(doc["generatedImages"], str(request.base_url))
        return {"success": True, "data": data}

    @app.webhooks.post("product-generation")
    def product_webhook(body: ProductWebhook) -> None:
        """POSTed to ``webhook.url`` when a generation ends (Authorization: Bearer <token>)."""

    @app.webhooks.post("vto-generation")
    def vto_webhook(body: TryOnWebhook) -> None:
        """POSTed to ``webhook.url`` when a try-on ends (Authorization: Bearer <token>)."""

    @app.get("/files/{path:path}", include_in_schema=False)
    async def get_file(path: str) -> Response:
        found = store.get_file("files/" + path)
        if found is None:
            raise SandboxError(404, f"no file {path[:200]!r}")
        return Response(
            found[0], media_type=found[1], headers={"Cache-Control": "public, max-age=86400"}
        )

    @app.get("/samples/{name:path}", include_in_schema=False)
    async def get_sample(name: str) -> Response:
        try:
            data = samples.sample_bytes(name)
        except KeyError:
            raise SandboxError(404, f"no sample {name[:200]!r}; see /_sandbox/samples") from None
        return Response(
            data,
            media_type=samples.sample_content_type(name),
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/_sandbox/samples", include_in_schema=False)
    async def list_samples(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {"samples": {name: f"{base}/samples/{name}" for name in samples.SAMPLE_NAMES}}

    @app.get("/_sandbox/health", include_in_schema=False)
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "sandbox": True,
            "version": __version__,
            "products": store.count_products(),
            "jobs_running": worker.busy,
        }

    @app.post("/_sandbox/reset", include_in_schema=False)
    async def reset() -> dict[str, Any]:
        store.reset()
        webhooks.log.clear()
        request_stats.reset()
        fresh = Faults(job_seconds=None)
        for name in Faults.names():
            setattr(faults, name, getattr(fresh, name))
        faults.rng.seed(faults.seed)
        return {"success": True}

    @app.get("/_sandbox/config", include_in_schema=False)
    async def get_config() -> dict[str, Any]:
        return {
            "faults": faults.public(),
            "job_seconds": settings.job_seconds,
            "offline": settings.offline,
            "strict_token": settings.token is not None,
        }

    @app.put("/_sandbox/config", include_in_schema=False)
    @app.post("/_sandbox/config", include_in_schema=False)
    async def set_config(body: FaultsBody) -> dict[str, Any]:
        for name, value in body.model_dump(exclude_unset=True).items():
            setattr(faults, name, value)
        if "seed" in body.model_fields_set:
            faults.rng.seed(faults.seed)
        return {"faults": faults.public()}

    @app.get("/_sandbox/requests", include_in_schema=False)
    async def request_counts() -> dict[str, Any]:
        """The /api/ requests answered since the start or the last reset."""
        return request_stats.snapshot()

    @app.delete("/_sandbox/requests", include_in_schema=False)
    async def reset_request_counts() -> dict[str, Any]:
        request_stats.reset()
        return {"success": True}

    @app.get("/_sandbox/deliveries", include_in_schema=False)
    async def deliveries() -> dict[str, Any]:
        return {"deliveries": list(webhooks.log)}

    @app.get("/_sandbox/jobs", include_in_schema=False)
    async def jobs() -> dict[str, Any]:
        listed = []
        for job in store.jobs():
            hook = job["request"].get("webhook")
            if isinstance(hook, dict) and hook.get("token"):
                job["request"]["webhook"] = {**hook, "token": "***"}
            listed.append(
                {k: job[k] for k in ("id", "kind", "target", "state", "done")}
                | {"total": len(job.get("plan", [])) or 1, "request": job["request"]}
            )
        return {"jobs": listed}

    return app
