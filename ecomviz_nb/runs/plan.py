"""A sweep's plan: every combination of the varied values, validated before anything is sent."""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..attribution import RunKey
from ..errors import ValidationError
from ..models import Clothing, GenerateRequest, ImageSpec, TryOnRequest

__all__ = ["GENERATE_AXES", "TRY_ON_AXES", "SweepRun", "plan_generate", "plan_try_on"]

GENERATE_AXES = (
    "platform",
    "region",
    "aspect_ratio",
    "language",
    "image_type",
    "remove_brand_logo",
    "change_portrait",
)
"""What a generate sweep can vary."""
TRY_ON_AXES = ("height", "weight", "aspect_ratio", "clothing", "watermark", "person_image_url")
"""What a try-on sweep can vary."""

Request = GenerateRequest | TryOnRequest


@dataclass(eq=False)
class SweepRun:
    """One combination of a sweep: its varied values, its request, and how it went."""

    params: dict[str, Any]
    """The varied values only, e.g. ``{"platform": "amazon", "aspect_ratio": "4:3"}``."""
    request: Request
    """The whole request this run sends."""
    state: str = "planned"
    """``planned``, ``queued``, ``submitted``, ``running``, ``completed`` or ``failed``."""
    job: Any = None
    """The job, once submitted."""
    images: list[Any] = field(default_factory=list)
    """The run's own images so far (:class:`~ecomviz_nb.models.GeneratedImage`)."""
    error: str | None = None
    """Why it failed, in one sentence."""
    done: int = 0
    status: str = ""
    """The latest progress status (``2 of 3 images``, ``retrying after 503 (1st time)``…)."""

    @property
    def expected(self) -> int:
        """How many images the run makes."""
        return self.request.expected_images

    @property
    def label(self) -> str:
        """The varied values as one line: ``platform=amazon · aspect_ratio=4:3``."""
        return " · ".join(f"{k}={show_value(v)}" for k, v in self.params.items()) or "(base)"

    @property
    def finished(self) -> bool:
        return self.state in ("completed", "failed")

    def fresh(self) -> SweepRun:
        """A planned copy, to run again."""
        return SweepRun(dict(self.params), self.request)

    def __repr__(self) -> str:
        return (
            f"SweepRun({self.label}, state={self.state!r}, {len(self.images)} of "
            f"{self.expected} images{', error=' + repr(self.error) if self.error else ''})"
        )


def show_value(value: Any) -> str:
    """A varied value in words: an ImageSpec as ``main x2 4:3``, clothing by its URL's name."""
    if isinstance(value, ImageSpec):
        if value.image_type == "vto":
            return "vto " + "/".join(value.colors or ())
        return f"{value.image_type} x{value.count} {value.aspect_ratio}"
    if isinstance(value, Clothing):
        return value.url.rstrip("/").rsplit("/", 1)[-1] + (f" ({value.info})" if value.info else "")
    if isinstance(value, (list, tuple)):
        return " + ".join(show_value(v) for v in value)
    return str(value)


def _axes(vary: Mapping[str, Any], allowed: tuple[str, ...]) -> list[tuple[str, list[Any]]]:
    if not isinstance(vary, Mapping) or not vary:
        raise ValidationError("vary", vary, "a dict of field -> list of values, e.g. " + _example())
    axes = []
    for name, values in vary.items():
        if name not in allowed:
            raise ValidationError(f"vary[{name!r}]", values, "a key among " + ", ".join(allowed))
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
            values = [values]
        if not values:
            raise ValidationError(f"vary[{name!r}]", values, "at least one value")
        axes.append((name, list(values)))
    return axes


def _example() -> str:
    return '{"platform": ["amazon", "shopee"], "aspect_ratio": ["1:1", "4:3"]}'


def _image_types(base: GenerateRequest, value: Any, where: str) -> list[ImageSpec]:
    if isinstance(value, ImageSpec):
        return [value]
    if isinstance(value, str):
        template = next((s for s in base.image_types if s.image_type != "vto"), None)
        if value == "vto":
            colors = next((s.colors for s in base.image_types if s.image_type == "vto"), None)
            if not colors:
                raise ValidationError(where, value, 'an ImageSpec("vto", colors=[...])')
            return [ImageSpec("vto", colors=colors)]
        count = template.count if template else 1
        ratio = template.aspect_ratio if template else "1:1"
        try:
            return [ImageSpec(value, count=count, aspect_ratio=ratio)]
        except ValidationError as exc:
            raise ValidationError(where, value, exc.allowed) from None
    if isinstance(value, Sequence) and value and all(isinstance(v, ImageSpec) for v in value):
        return list(value)
    raise ValidationError(where, value, "a type name, an ImageSpec, or a list of ImageSpecs")


def _with_ratio(specs: Sequence[ImageSpec], ratio: Any) -> list[ImageSpec]:
    return [
        spec if spec.image_type == "vto" else dataclasses.replace(spec, aspect_ratio=ratio)
        for spec in specs
    ]


def _generate_request(base: GenerateRequest, combo: dict[str, Any]) -> GenerateRequest:
    changes: dict[str, Any] = {}
    specs = list(base.image_types)
    for name, value in combo.items():
        where = f"vary[{name!r}]={show_value(value)}"
        if name == "image_type":
            specs = _image_types(base, value, where)
        elif name != "aspect_ratio":
            changes[name] = value
    if "aspect_ratio" in combo:
        specs = _with_ratio(specs, combo["aspect_ratio"])
    return dataclasses.replace(base, image_types=specs, **changes)


def _try_on_request(base: TryOnRequest, combo: dict[str, Any]) -> TryOnRequest:
    changes = dict(combo)
    if "clothing" in changes:
        value = changes["clothing"]
        items = value if isinstance(value, (list, tuple)) else [value]
        changes["clothing"] = [c if isinstance(c, Clothing) else Clothing(c) for c in items]
    return dataclasses.replace(base, **changes)


def _combinations(axes: list[tuple[str, list[Any]]], build: Any, base: Any) -> list[SweepRun]:
    names = [name for name, _ in axes]
    runs = []
    with warnings.catch_warnings(record=True) as caught:  # one warning per message, not per run
        warnings.simplefilter("always")
        for values in itertools.product(*(vals for _, vals in axes)):
            combo = dict(zip(names, values, strict=True))
            try:
                request = build(base, combo)
            except ValidationError as exc:
                shown = ", ".join(f"{k}={show_value(v)}" for k, v in combo.items())
                where = f"vary ({shown}): {exc.field}"
                raise ValidationError(where, exc.value, exc.allowed) from None
            runs.append(SweepRun(combo, request))
    for message, category in dict.fromkeys((str(w.message), w.category) for w in caught):
        warnings.warn(message, category, stacklevel=4)
    return runs


def plan_generate(base: GenerateRequest, vary: Mapping[str, Any]) -> list[SweepRun]:
    """Every combination of ``vary`` applied to ``base``, each request validated.

    Raises:
        ValidationError: an unknown axis, an empty list, or a combination the API refuses
            (the message names the combination and the field); nothing was sent.
    """
    if not isinstance(base, GenerateRequest):
        raise ValidationError("base_request", base, "an ev.GenerateRequest")
    return _combinations(_axes(vary, GENERATE_AXES), _generate_request, base)


def plan_try_on(base: TryOnRequest, vary: Mapping[str, Any]) -> list[SweepRun]:
    """Every combination of ``vary`` applied to ``base``, each request validated."""
    if not isinstance(base, TryOnRequest):
        raise ValidationError("base_request", base, "an ev.TryOnRequest")
    return _combinations(_axes(vary, TRY_ON_AXES), _try_on_request, base)


def waves(runs: Sequence[SweepRun]) -> int:
    """How many runs at most must go one after another (the longest chain of overlaps).

    Runs whose images could mix take turns; the others go at once. Greedy colouring in plan
    order gives the number of rounds the scheduler will need when jobs take equal time.
    """
    rounds: list[list[RunKey]] = []
    for run in runs:
        if not isinstance(run.request, GenerateRequest):
            return 1 if runs else 0
        key = RunKey.of(run.request)
        for keys in rounds:
            if not any(key.overlaps(k) for k in keys):
                keys.append(key)
                break
        else:
            rounds.append([key])
    return len(rounds)
