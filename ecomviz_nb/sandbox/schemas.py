"""Request bodies the sandbox accepts, as strict pydantic models (they also draw /openapi.json).

The rules are the provider reference's; limits marked "sandbox limit" are ours, so a runaway
loop cannot make the local server render thousands of images.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..models import VTO_ASPECT_RATIOS

__all__ = [
    "ClothingItem",
    "CreateProductBody",
    "DetailEntry",
    "FacebookEntry",
    "GenerateBody",
    "MainEntry",
    "TryOnBody",
    "VtoEntry",
    "WebhookBody",
]

Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+[^\s]*$", max_length=2048)]
Ratio = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,2}:[1-9][0-9]{0,2}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Count = Annotated[int, Field(ge=1, le=20, description="1 to 20 (sandbox limit)")]
VtoRatio = Literal["1:1", "3:2", "2:3", "16:9", "9:16", "21:9", "9:21"]
assert set(VTO_ASPECT_RATIOS) == set(get_args(VtoRatio))  # one list of ratios for all of us


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class WebhookBody(_Strict):
    url: Url
    token: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None


class CreateProductBody(_Strict):
    imageUrls: Annotated[list[Url], Field(min_length=1, max_length=10)]


class MainEntry(_Strict):
    main: Count
    aspectRatio: Ratio = "1:1"


class DetailEntry(_Strict):
    detail: Count
    aspectRatio: Ratio = "1:1"


class FacebookEntry(_Strict):
    facebook: Count
    aspectRatio: Ratio = "1:1"


class VtoEntry(_Strict):
    vto: Annotated[list[Text], Field(min_length=1, max_length=12)]
    aspectRatio: Ratio | None = None


ImageTypeEntry = MainEntry | DetailEntry | FacebookEntry | VtoEntry


class GenerateBody(_Strict):
    imageType: Annotated[list[ImageTypeEntry], Field(min_length=1, max_length=10)]
    region: Text = "global"
    platform: Text = "general"
    removeBrandLogo: bool = False
    changePortrait: bool = False
    language: Text = "org_text"
    webhook: WebhookBody | None = None


class ClothingItem(_Strict):
    url: Url
    info: Annotated[str, StringConstraints(max_length=300)] | None = None


class TryOnBody(_Strict):
    personImageUrl: Url
    clothingImageUrls: Annotated[list[ClothingItem], Field(min_length=1, max_length=5)]
    height: Annotated[float, Field(ge=50, le=250)] | None = None
    weight: Annotated[float, Field(ge=10, le=300)] | None = None
    aspectRatio: VtoRatio = "2:3"
    watermark: bool = True
    webhook: WebhookBody | None = None
