"""The sandbox's error envelope: readable messages for rejected requests, and their handlers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .settings import Faults

__all__ = ["SandboxError", "error_response", "install_error_handlers", "validation_message"]

_ENTRY_HELP = (
    "each imageType entry holds exactly one of main, detail or facebook (a count from 1 to 20, "
    "with an optional aspectRatio like '4:3') or vto (a list of 1 to 12 colour names)"
)


class SandboxError(Exception):
    """An error the API answers with ``{"success": false, "message": …}``."""

    def __init__(self, status_code: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The reference's error envelope."""
    return JSONResponse(
        {"success": False, "message": message}, status_code=status, headers=dict(headers or {})
    )


def _where(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if part in ("body", "path", "query"):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_message(errors: Sequence[Mapping[str, Any]]) -> tuple[int, str]:
    """Turn pydantic's errors into a status (400 bad JSON, 422 otherwise) and one sentence."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "the body is not valid JSON"
    parts: list[str] = []
    seen_entries: set[int] = set()
    for error in errors:
        loc = list(error.get("loc", ()))
        if len(loc) >= 4 and loc[:2] == ["body", "imageType"] and isinstance(loc[2], int):
            # One error per union member is noise: say once what an entry must look like.
            if loc[2] not in seen_entries:
                seen_entries.add(loc[2])
                parts.append(f"imageType[{loc[2]}]: {_ENTRY_HELP}")
            continue
        if loc == ["body"] and error.get("type") == "missing":
            parts.append("a JSON body is required")
            continue
        message = str(error.get("msg", "is not valid"))
        if error.get("type") == "extra_forbidden":
            message = "is not a field of this request"
        elif "input" in error and error.get("type") != "missing":
            message += f" (got {_shown(error['input'])})"
        parts.append(f"{_where(loc)}: {message}")
        if len(parts) >= 3:
            break
    return 422, "; ".join(parts) or "the request is not valid"


def install_error_handlers(app: FastAPI, faults: Faults) -> None:
    """Answer every error of `app` in the envelope, never with FastAPI's ``{"detail": …}``.

    Args:
        app: the sandbox application.
        faults: its fault switches (``hostile`` spoils the messages too).
    """

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
