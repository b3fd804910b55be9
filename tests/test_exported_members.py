"""The package's public names: complete, sorted, and each documented."""

from __future__ import annotations

import inspect

import ecomviz_nb as ev


def test_all_is_sorted_and_complete() -> None:
    public = {name for name in dir(ev) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(ev, name))}
    assert ev.__all__ == sorted(ev.__all__)
    assert set(ev.__all__) - {"__version__"} == public - modules


def test_every_public_name_has_a_docstring() -> None:
    for name in ev.__all__:
        obj = getattr(ev, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"ev.{name} has no docstring"


def test_architecture_names_exist() -> None:
    for name in ("Client", "AsyncClient", "GenerateRequest", "ImageSpec", "Webhook",
                 "TryOnRequest", "Clothing", "Product", "GeneratedImage", "TryOnResult",
                 "GenerationJob", "TryOnJob", "EcomVizError", "ValidationError", "APIError",
                 "AuthenticationError", "NotFoundError", "RateLimitError", "ServerError",
                 "APIConnectionError", "JobTimeoutError", "JobFailedError"):
        assert hasattr(ev, name), name
    assert issubclass(ev.ValidationError, ValueError)
    assert issubclass(ev.JobTimeoutError, TimeoutError)
    for cls in (ev.AuthenticationError, ev.NotFoundError, ev.RateLimitError, ev.ServerError):
        assert issubclass(cls, ev.APIError)
