"""A run's request as a panel's form holds it, and what changed from one run to the next.

The parameters are a flat ordered dict with the panel's words as keys, the same for every run
of one kind, so two runs compare key by key:

- generate: ``main count`` / ``main ratio`` (and ``detail …``, ``facebook …``; None when the
  type is off), ``vto colours`` (a list, None when off), ``region``, ``platform``,
  ``language``, ``remove brand logo``, ``change portrait``;
- try-on: ``person`` (a URL; a picture on the run's own server as its ``/samples/…`` path,
  as a panel is given it), ``garments`` (``(url, info)`` pairs, as ``TryOnPanel(clothing=…)``
  takes them), ``height`` and ``weight`` (None when not sent), ``ratio``, ``watermark``.

A webhook is not a parameter: it says where to report, not what to make.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..models import GENERATE_IMAGE_TYPES, GenerateRequest, TryOnRequest

__all__ = [
    "change_text",
    "differs",
    "form_url",
    "param_text",
    "request_params",
    "summary_text",
]

_UNITS = {"height": "cm", "weight": "kg"}
_ARROW = " → "


class HasParams(Protocol):
    """Anything with a run's parameters (a :class:`~ecomviz_nb.runs.history.HistoryRun`)."""

    params: dict[str, Any]


def form_url(url: str, base_url: str) -> str:
    """``url`` as a panel's field holds it: a picture on the server ``base_url`` as its path."""
    base = base_url.rstrip("/")
    return url[len(base) :] if url.startswith(base + "/") else url


def request_params(request: GenerateRequest | TryOnRequest, *, base_url: str) -> dict[str, Any]:
    """The request as a panel's form holds it (the keys are listed in the module docstring).

    Args:
        base_url: the server the request went to: its own pictures are kept as paths.
    """
    if isinstance(request, TryOnRequest):
        return {
            "person": form_url(request.person_image_url, base_url),
            "garments": [(form_url(c.url, base_url), c.info or "") for c in request.clothing],
            "height": _whole(request.height),
            "weight": _whole(request.weight),
            "ratio": request.aspect_ratio,
            "watermark": request.watermark,
        }
    params: dict[str, Any] = {}
    for kind in GENERATE_IMAGE_TYPES:  # a type listed twice: the form holds the first entry
        spec = next((s for s in request.image_types if s.image_type == kind), None)
        params[f"{kind} count"] = spec.count if spec else None
        params[f"{kind} ratio"] = spec.aspect_ratio if spec else None
    vto = next((s for s in request.image_types if s.image_type == "vto"), None)
    params["vto colours"] = list(vto.colors or ()) if vto else None
    params["region"] = request.region
    params["platform"] = request.platform
    params["language"] = request.language
    params["remove brand logo"] = request.remove_brand_logo
    params["change portrait"] = request.change_portrait
    return params


def _whole(value: float | None) -> float | int | None:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _name(url: str) -> str:
    """A picture's file name: enough to tell two apart, and never a server's address."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or url


def param_text(key: str, value: Any) -> str:
    """One parameter's value in words (not yet escaped): ``off``, ``yes``, ``170 cm``…"""
    if value is None:
        return "not sent" if key in _UNITS else "off"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "person":
        return _name(str(value))
    if key == "garments":
        return ", ".join(_name(url) + (f" ({info})" if info else "") for url, info in value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "none"
    if key in _UNITS:
        return f"{value} {_UNITS[key]}"
    return str(value)


def differs(run: HasParams, previous: HasParams | None) -> dict[str, Any]:
    """The parameters of ``run`` whose value is not the one ``previous`` had, in form order.

    Returns:
        ``{key: value in run}``; empty when nothing differs or there is no previous run.
    """
    if previous is None:
        return {}
    keys = dict.fromkeys([*run.params, *previous.params])
    return {k: run.params.get(k) for k in keys if run.params.get(k) != previous.params.get(k)}


def _type_text(params: dict[str, Any], kind: str) -> str:
    count = params.get(f"{kind} count")
    return "off" if count is None else f"{count} x {params.get(f'{kind} ratio')}"


def _changes(run: HasParams, previous: HasParams) -> list[tuple[str, str, str]]:
    """``(label, before, after)`` per change; a type's count and ratio changed together read
    as one change of the type (``detail off → 2 x 4:3``)."""
    changed = differs(run, previous)
    found = []
    for key in changed:
        kind = key.rsplit(" ", 1)[0]
        pair = (f"{kind} count", f"{kind} ratio")
        if kind in GENERATE_IMAGE_TYPES and all(k in changed for k in pair):
            if key == pair[0]:
                found.append(
                    (kind, _type_text(previous.params, kind), _type_text(run.params, kind))
                )
            continue
        before = param_text(key, previous.params.get(key))
        found.append((key, before, param_text(key, run.params.get(key))))
    return found


def change_text(run: HasParams, previous: HasParams | None) -> str:
    """What changed since the run before, in words (not yet escaped).

    ``main ratio 1:1 → 4:3 · platform general → amazon``; the first run is summed up
    instead (``first run · main 2 x 1:1 · platform general · region global``).
    """
    if previous is None:
        return "first run · " + summary_text(run)
    changes = _changes(run, previous)
    if not changes:
        return "same settings as the run before"
    return " · ".join(f"{label} {before}{_ARROW}{after}" for label, before, after in changes)


def summary_text(run: HasParams) -> str:
    """The run's settings in a short line (not yet escaped); defaults and unset flags left out."""
    p = run.params
    if "person" in p:
        parts = [f"person {param_text('person', p['person'])}"]
        parts.append(f"garments {param_text('garments', p.get('garments', []))}")
        parts.append(f"ratio {p.get('ratio')}")
        parts += [f"{k} {param_text(k, p[k])}" for k in _UNITS if p.get(k) is not None]
        if p.get("watermark") is False:
            parts.append("no watermark")
        return " · ".join(parts)
    parts = [f"{k} {_type_text(p, k)}" for k in GENERATE_IMAGE_TYPES if p.get(f"{k} count")]
    if p.get("vto colours") is not None:
        parts.append(f"vto {param_text('vto colours', p['vto colours'])}")
    parts += [f"{k} {p.get(k)}" for k in ("platform", "region")]
    if p.get("language") not in (None, "org_text"):
        parts.append(f"language {p['language']}")
    parts += [k for k in ("remove brand logo", "change portrait") if p.get(k)]
    return " · ".join(parts)
