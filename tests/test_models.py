"""Wire models: exact request JSON, every input rule, warnings, defaults, tolerant readers.

The JSON bodies below are copied from the provider's API reference; the requests must produce
them key for key, in the same order.
"""

from __future__ import annotations

import json
import math
import re
import typing
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import ecomviz_nb as ev
from ecomviz_nb import models, wire_requests, wire_results, wire_rules

# ---------------------------------------------------------------- the reference's examples

REF_CREATE_PRODUCT_REQUEST = """
{
"imageUrls": [
"https://example.com/image1.jpg",
"https://example.com/image2.jpg"
]
}
"""

REF_CREATE_PRODUCT_RESPONSE = """
{
"success": true,
"data": {
"_id": "product_id",
"productName": "Product Name",
"aiAnalysis": { ... },
"colors": ["black", "white", "red"],
"createdAt": "2024-01-01T00:00:00.000Z"
}
}
"""

REF_GET_PRODUCT_RESPONSE = """
{
"success": true,
"data": {
"_id": "product_id",
"productName": "Product Name",
"generatedImages": [
{
"filePath": "path/to/image.jpg",
"generatedAt": "2024-01-01T00:00:00.000Z",
"generationParams": {
"platform": "general",
"region": "global",
"imageType": "main",
"color": "red"
}
}
],
"aiAnalysis": { ... },
"colors": ["black", "white", "red"]
}
}
"""

REF_GENERATE_REQUEST = """
{
"imageType": [
{ "main": 3, "aspectRatio": "1:1" },
{ "detail": 2, "aspectRatio": "4:3" },
{ "vto": ["red", "blue"] }
],
"region": "global",
"platform": "general",
"removeBrandLogo": false,
"changePortrait": false,
"language": "org_text",
"webhook": {
"url": "https://your-server.com/webhook",
"token": "optional-verification-token"
}
}
"""

REF_TRY_ON_REQUEST = """
{
"personImageUrl": "https://example.com/person.jpg",
"clothingImageUrls": [
{"url": "https://example.com/clothing1.jpg", "info": "price US9.9"},
{"url": "https://example.com/clothing2.jpg", "info": "price US7.9, only for kids"}
],
"height": 170, // Optional, range: [50, 250], unit: cm
"weight": 60, // Optional, range: [10, 300], unit: kg
"aspectRatio": "2:3", // Optional, default: "2:3", options: ["1:1", "3:2", "2:3", "16:9", "9:16", "21:9", "9:21"]
"watermark": true, // Optional, default: true, set to false to disable watermark
"webhook": { // Optional
"url": "https://your-server.com/webhook",
"token": "optional_secret_token"
}
}
"""  # noqa: E501

REF_GET_TRY_ON_RESPONSE = """
{
"success": true,
"data": {
"_id": "vto_id",
"status": "completed",
"personImage": { "filePath": "https://example.com/person.jpg" },
"clothingImages": [{ "filePath": "https://example.com/clothing1.jpg" }],
"generatedImages": [
{ "filePath": "https://example.com/generated1.jpg" }
],
"createdAt": "2024-01-01T00:00:00.000Z",
"updatedAt": "2024-01-01T00:05:00.000Z"
}
}
"""

BASE_URL = "https://ecomviz.cloud"
PERSON = "https://example.com/person.jpg"
GARMENT = "https://example.com/clothing1.jpg"
HOOK = "https://your-server.com/webhook"


def _load(text: str) -> Any:
    """Parse a reference example: drop `// ...` comments and stand `{ ... }` in as `{}`."""
    text = re.sub(r"[ \t]+//[^\n]*", "", text)
    return json.loads(text.replace("{ ... }", "{}"))


def _reference_generate_request() -> ev.GenerateRequest:
    return ev.GenerateRequest(
        image_types=[
            ev.ImageSpec("main", count=3, aspect_ratio="1:1"),
            ev.ImageSpec("detail", count=2, aspect_ratio="4:3"),
            ev.ImageSpec("vto", colors=["red", "blue"]),
        ],
        region="global",
        platform="general",
        remove_brand_logo=False,
        change_portrait=False,
        language="org_text",
        webhook=ev.Webhook(HOOK, token="optional-verification-token"),
    )


def _reference_try_on_request() -> ev.TryOnRequest:
    return ev.TryOnRequest(
        person_image_url=PERSON,
        clothing=[
            ev.Clothing(GARMENT, info="price US9.9"),
            ev.Clothing("https://example.com/clothing2.jpg", info="price US7.9, only for kids"),
        ],
        height=170,
        weight=60,
        aspect_ratio="2:3",
        watermark=True,
        webhook=ev.Webhook(HOOK, token="optional_secret_token"),
    )


def _try_on(**overrides: Any) -> ev.TryOnRequest:
    kwargs: dict[str, Any] = {"person_image_url": PERSON, "clothing": [ev.Clothing(GARMENT)]}
    kwargs.update(overrides)
    return ev.TryOnRequest(**kwargs)


def _generate(**overrides: Any) -> ev.GenerateRequest:
    kwargs: dict[str, Any] = {"image_types": [ev.ImageSpec("main")]}
    kwargs.update(overrides)
    return ev.GenerateRequest(**kwargs)


# ---------------------------------------------------------------- 1. exact wire JSON


def test_reference_loader_strips_comments_but_keeps_urls() -> None:
    body = _load(REF_TRY_ON_REQUEST)
    assert body["personImageUrl"] == PERSON
    assert body["webhook"] == {"url": HOOK, "token": "optional_secret_token"}
    assert body["height"] == 170


def test_wire_json_matches_reference_generate_example() -> None:
    reference = _load(REF_GENERATE_REQUEST)
    wire = _reference_generate_request().to_wire()
    assert wire == reference
    assert json.dumps(wire) == json.dumps(reference)


def test_wire_json_matches_reference_try_on_example() -> None:
    reference = _load(REF_TRY_ON_REQUEST)
    wire = _reference_try_on_request().to_wire()
    assert wire == reference
    assert json.dumps(wire) == json.dumps(reference)


def test_wire_json_matches_reference_create_product_example() -> None:
    reference = _load(REF_CREATE_PRODUCT_REQUEST)
    request = models.CreateProductRequest(
        ["https://example.com/image1.jpg", "https://example.com/image2.jpg"]
    )
    assert request.to_wire() == reference
    assert json.dumps(request.to_wire()) == json.dumps(reference)


def test_generate_request_round_trips_the_reference_body() -> None:
    reference = _load(REF_GENERATE_REQUEST)
    request = ev.GenerateRequest.from_wire(reference)
    assert request == _reference_generate_request()
    assert json.dumps(request.to_wire()) == json.dumps(reference)


def test_try_on_request_round_trips_the_reference_body() -> None:
    reference = _load(REF_TRY_ON_REQUEST)
    request = ev.TryOnRequest.from_wire(reference)
    assert request == _reference_try_on_request()
    assert json.dumps(request.to_wire()) == json.dumps(reference)


def test_wire_json_is_serialisable_and_has_no_python_only_types() -> None:
    for request in (_reference_generate_request(), _reference_try_on_request()):
        assert json.loads(json.dumps(request.to_wire())) == request.to_wire()


# ---------------------------------------------------------------- 2. bad inputs

URL_RULE = ("http", "https")

BAD_URLS = [
    pytest.param("", id="empty"),
    pytest.param(None, id="none"),
    pytest.param("example.com/a.jpg", id="no-scheme"),
    pytest.param("ftp://example.com/a.jpg", id="ftp"),
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("https://", id="no-host"),
    pytest.param("https:///a.jpg", id="empty-host"),
    pytest.param("   ", id="blank"),
    pytest.param("https://example.com/a b.jpg", id="inner-space"),
    pytest.param("https://example.com/a\nb.jpg", id="inner-newline"),
]

URL_FIELDS: list[Any] = [
    pytest.param(lambda url: models.CreateProductRequest([url]), "image_urls[0]", id="image_urls"),
    pytest.param(lambda url: _try_on(person_image_url=url), "person_image_url", id="person"),
    pytest.param(lambda url: ev.Clothing(url), "clothing.url", id="clothing"),
    # a bare item that is not a string is named by position only
    pytest.param(lambda url: _try_on(clothing=[url]), "clothing[0]", id="clothing-str"),
    pytest.param(
        lambda url: _try_on(clothing=[ev.Clothing(GARMENT), {"url": url}]),
        "clothing[1].url",
        id="clothing-dict",
    ),
    pytest.param(lambda url: ev.Webhook(url), "webhook.url", id="webhook"),
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize(("build", "field"), URL_FIELDS)
def test_bad_url_is_rejected_naming_the_field_and_the_rule(
    build: Callable[[Any], object], field: str, url: Any
) -> None:
    with pytest.raises(ev.ValidationError) as info:
        build(url)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ev.EcomVizError)
    assert field in message
    assert repr(url) in message
    assert "URL" in message
    if isinstance(url, str):
        for word in URL_RULE:
            assert word in message
    assert info.value.field.startswith(field)
    assert info.value.value == url


@pytest.mark.parametrize(
    "url", ["https://[::1/a.jpg", "http://[not-an-ip]/a.jpg"], ids=["unclosed", "bad-ip"]
)
@pytest.mark.parametrize(("build", "field"), URL_FIELDS)
def test_malformed_bracketed_host_is_a_validation_error_not_a_bare_value_error(
    build: Callable[[Any], object], field: str, url: str
) -> None:
    with pytest.raises(ev.ValidationError) as info:
        build(url)
    assert field in str(info.value)
    assert repr(url) in str(info.value)


def test_url_padded_with_whitespace_is_stripped_before_sending() -> None:
    request = models.CreateProductRequest([" https://example.com/image1.jpg\n"])
    assert request.to_wire() == {"imageUrls": ["https://example.com/image1.jpg"]}
    assert ev.Webhook("  https://your-server.com/webhook ").url == HOOK


VTO_RATIOS = ("1:1", "3:2", "2:3", "16:9", "9:16", "21:9", "9:21")
ENTRY_RULE = ("exactly one", "main", "vto", "aspectRatio")
GENERATE_KEYS = ("imageType", "region", "platform", "language", "webhook")
TRY_ON_KEYS = ("personImageUrl", "clothingImageUrls", "height", "weight", "aspectRatio")
ID_RULE = ("non-empty", "'/'", "spaces")
_GOOD_WIRE = {"imageType": [{"main": 1, "aspectRatio": "1:1"}]}
_GOOD_TRY_ON_WIRE = {"personImageUrl": PERSON, "clothingImageUrls": [GARMENT]}

BAD_INPUTS = [
    # empty lists, strings instead of lists
    pytest.param(
        lambda: models.CreateProductRequest([]), "image_urls", ("non-empty", "URL"), [],
        id="image_urls-empty",
    ),
    pytest.param(
        lambda: models.CreateProductRequest("https://example.com/image1.jpg"),
        "image_urls", ("list",), "https://example.com/image1.jpg",
        id="image_urls-string",
    ),
    pytest.param(
        lambda: _try_on(clothing=[]), "clothing", ("non-empty", "Clothing"), [],
        id="clothing-empty",
    ),
    pytest.param(
        lambda: _try_on(clothing=GARMENT), "clothing", ("list",), GARMENT, id="clothing-string",
    ),
    pytest.param(
        lambda: _try_on(clothing=[42]), "clothing[0]", ("Clothing",), 42, id="clothing-int",
    ),
    pytest.param(
        lambda: _try_on(clothing=[{"url": GARMENT, "price": 9}]), "clothing[0].price",
        ("url", "info"), 9, id="clothing-unknown-key",
    ),
    pytest.param(
        lambda: ev.Clothing(GARMENT, info=9.9), "clothing.info", ("string",), 9.9,
        id="clothing-info-number",
    ),
    pytest.param(
        lambda: ev.GenerateRequest([]), "image_types", ("non-empty", "ImageSpec"), [],
        id="image_types-empty",
    ),
    pytest.param(
        lambda: ev.GenerateRequest("main"), "image_types", ("list",), "main",
        id="image_types-string",
    ),
    pytest.param(
        lambda: ev.GenerateRequest([42]), "image_types[0]", ("ImageSpec",), 42,
        id="image_types-int",
    ),
    # counts
    pytest.param(
        lambda: ev.ImageSpec("main", count=0), "main.count", ("whole number", ">= 1"), 0,
        id="count-0",
    ),
    pytest.param(
        lambda: ev.ImageSpec("detail", count=-1), "detail.count", ("whole number", ">= 1"), -1,
        id="count-negative",
    ),
    pytest.param(
        lambda: ev.ImageSpec("main", count=1.5), "main.count", ("whole number", ">= 1"), 1.5,
        id="count-float",
    ),
    pytest.param(
        lambda: ev.ImageSpec("facebook", count=True), "facebook.count", ("whole number",), True,
        id="count-bool",
    ),
    pytest.param(
        lambda: ev.ImageSpec("main", count="3"), "main.count", ("whole number",), "3",
        id="count-string",
    ),
    # vto colours
    pytest.param(
        lambda: ev.ImageSpec("vto", colors=[]), "vto.colors", ("non-empty", "colour"), [],
        id="vto-colors-empty",
    ),
    pytest.param(
        lambda: ev.ImageSpec("vto", colors="red"), "vto.colors", ("list", "colour"), "red",
        id="vto-colors-string",
    ),
    pytest.param(
        lambda: ev.ImageSpec("vto"), "vto.colors", ("non-empty", "colour"), None,
        id="vto-colors-missing",
    ),
    pytest.param(
        lambda: ev.ImageSpec("vto", colors=["red", ""]), "vto.colors[1]", ("colour",), "",
        id="vto-colors-blank-item",
    ),
    pytest.param(
        lambda: ev.ImageSpec("vto", colors=[None]), "vto.colors[0]", ("colour",), None,
        id="vto-colors-none-item",
    ),
    pytest.param(
        lambda: ev.ImageSpec("vto", count=2, colors=["red"]), "vto.count", ("None", "colors"), 2,
        id="vto-with-count",
    ),
    pytest.param(
        lambda: ev.ImageSpec("main", colors=["red"]), "main.colors", ("vto",), ["red"],
        id="main-with-colors",
    ),
    pytest.param(
        lambda: ev.ImageSpec("banner"), "image_type", ("main", "detail", "facebook", "vto"),
        "banner", id="unknown-image-type",
    ),
    # wire entries
    pytest.param(
        lambda: ev.ImageSpec.from_wire({"main": 1, "detail": 2}), "imageType[0]", ENTRY_RULE,
        {"main": 1, "detail": 2}, id="entry-two-type-keys",
    ),
    pytest.param(
        lambda: ev.ImageSpec.from_wire({"aspectRatio": "1:1"}), "imageType[0]", ENTRY_RULE,
        {"aspectRatio": "1:1"}, id="entry-no-type-key",
    ),
    pytest.param(
        lambda: ev.GenerateRequest.from_wire({"imageType": [{"main": 1, "size": "big"}]}),
        "imageType[0].size", ENTRY_RULE, "big", id="entry-unknown-key",
    ),
    pytest.param(
        lambda: ev.GenerateRequest.from_wire(
            {"imageType": [{"main": 1}, {"detail": 1, "vto": ["red"]}]}
        ),
        "imageType[1]", ENTRY_RULE, {"detail": 1, "vto": ["red"]}, id="entry-position-named",
    ),
    pytest.param(
        lambda: ev.GenerateRequest.from_wire({"imageType": []}), "imageType", ("non-empty",), [],
        id="wire-imageType-empty",
    ),
    # generate aspect ratios
    pytest.param(
        lambda: ev.ImageSpec("main", aspect_ratio="square"), "main.aspect_ratio", ("1:1",),
        "square", id="ratio-word",
    ),
    pytest.param(
        lambda: ev.ImageSpec("main", aspect_ratio="1:0"), "main.aspect_ratio", ("1:1",), "1:0",
        id="ratio-zero-height",
    ),
    pytest.param(
        lambda: ev.ImageSpec("detail", aspect_ratio="0:1"), "detail.aspect_ratio", ("1:1",),
        "0:1", id="ratio-zero-width",
    ),
    pytest.param(
        lambda: ev.ImageSpec("main", aspect_ratio="1/1"), "main.aspect_ratio", ("1:1",), "1/1",
        id="ratio-slash",
    ),
    pytest.param(
        lambda: ev.ImageSpec("main", aspect_ratio=""), "main.aspect_ratio", ("1:1",), "",
        id="ratio-empty",
    ),
    pytest.param(
        lambda: ev.ImageSpec("vto", colors=["red"], aspect_ratio="wide"), "vto.aspect_ratio",
        ("1:1",), "wide", id="ratio-vto-word",
    ),
    # try-on aspect ratios
    pytest.param(
        lambda: _try_on(aspect_ratio="4:3"), "aspect_ratio", VTO_RATIOS, "4:3",
        id="try-on-ratio-4:3",
    ),
    pytest.param(
        lambda: _try_on(aspect_ratio="3:4"), "aspect_ratio", VTO_RATIOS, "3:4",
        id="try-on-ratio-3:4",
    ),
    pytest.param(
        lambda: _try_on(aspect_ratio=None), "aspect_ratio", VTO_RATIOS, None,
        id="try-on-ratio-none",
    ),
    # height / weight
    pytest.param(
        lambda: _try_on(height=49), "height", ("50", "250", "cm"), 49, id="height-49",
    ),
    pytest.param(
        lambda: _try_on(height=251), "height", ("50", "250", "cm"), 251, id="height-251",
    ),
    pytest.param(
        lambda: _try_on(height=-1), "height", ("50", "250"), -1, id="height-negative",
    ),
    pytest.param(
        lambda: _try_on(height=math.nan), "height", ("50", "250"), math.nan, id="height-nan",
    ),
    pytest.param(
        lambda: _try_on(height=math.inf), "height", ("50", "250"), math.inf, id="height-inf",
    ),
    pytest.param(
        lambda: _try_on(height="170"), "height", ("50", "250"), "170", id="height-string",
    ),
    pytest.param(
        lambda: _try_on(height=True), "height", ("50", "250"), True, id="height-bool",
    ),
    pytest.param(
        lambda: _try_on(weight=9), "weight", ("10", "300", "kg"), 9, id="weight-9",
    ),
    pytest.param(
        lambda: _try_on(weight=301), "weight", ("10", "300", "kg"), 301, id="weight-301",
    ),
    pytest.param(
        lambda: _try_on(weight=-math.inf), "weight", ("10", "300"), -math.inf,
        id="weight-minus-inf",
    ),
    # booleans
    pytest.param(
        lambda: _try_on(watermark="yes"), "watermark", ("True or False",), "yes",
        id="watermark-string",
    ),
    pytest.param(
        lambda: _try_on(watermark=None), "watermark", ("True or False",), None,
        id="watermark-none",
    ),
    pytest.param(
        lambda: _generate(remove_brand_logo="false"), "remove_brand_logo", ("True or False",),
        "false", id="remove_brand_logo-string",
    ),
    pytest.param(
        lambda: _generate(change_portrait=0), "change_portrait", ("True or False",), 0,
        id="change_portrait-int",
    ),
    # free-text fields
    pytest.param(
        lambda: _generate(region=""), "region", ("non-empty",), "", id="region-empty",
    ),
    pytest.param(
        lambda: _generate(platform="  "), "platform", ("non-empty",), "  ", id="platform-blank",
    ),
    pytest.param(
        lambda: _generate(language=""), "language", ("non-empty",), "", id="language-empty",
    ),
    pytest.param(
        lambda: _generate(region=None), "region", ("non-empty",), None, id="region-none",
    ),
    # webhooks
    pytest.param(
        lambda: _generate(webhook=HOOK), "webhook", ("Webhook",), HOOK,
        id="generate-webhook-string",
    ),
    pytest.param(
        lambda: _try_on(webhook={"url": HOOK}), "webhook", ("Webhook",), {"url": HOOK},
        id="try-on-webhook-dict",
    ),
    pytest.param(
        lambda: ev.Webhook(HOOK, token=""), "webhook.token", ("non-empty",), "",
        id="webhook-token-empty",
    ),
    pytest.param(
        lambda: ev.Webhook(HOOK, token=123), "webhook.token", ("non-empty",), 123,
        id="webhook-token-int",
    ),
    pytest.param(
        lambda: ev.Webhook.from_wire(HOOK), "webhook", ("url",), HOOK,
        id="webhook-wire-not-object",
    ),
    # unknown top-level keys
    pytest.param(
        lambda: ev.GenerateRequest.from_wire({**_GOOD_WIRE, "imageTypes": []}), "imageTypes",
        GENERATE_KEYS, [], id="generate-unknown-key",
    ),
    pytest.param(
        lambda: ev.GenerateRequest.from_wire({**_GOOD_WIRE, "removeLogo": True}), "removeLogo",
        GENERATE_KEYS, True, id="generate-misspelt-key",
    ),
    pytest.param(
        lambda: ev.TryOnRequest.from_wire({**_GOOD_TRY_ON_WIRE, "seed": 7}), "seed",
        TRY_ON_KEYS, 7, id="try-on-unknown-key",
    ),
    pytest.param(
        lambda: ev.GenerateRequest.from_wire([_GOOD_WIRE]), "body", ("object",), [_GOOD_WIRE],
        id="generate-body-not-object",
    ),
    # ids
    pytest.param(
        lambda: models.check_id("product_id", ""), "product_id", ID_RULE, "", id="id-empty",
    ),
    pytest.param(
        lambda: models.check_id("product_id", "a/b"), "product_id", ID_RULE, "a/b",
        id="id-slash",
    ),
    pytest.param(
        lambda: models.check_id("vto_id", ".."), "vto_id", ID_RULE, "..", id="id-dotdot",
    ),
    pytest.param(
        lambda: models.check_id("vto_id", "a b"), "vto_id", ID_RULE, "a b", id="id-space",
    ),
    pytest.param(
        lambda: models.check_id("product_id", "x?y"), "product_id", ID_RULE, "x?y",
        id="id-question-mark",
    ),
    pytest.param(
        lambda: models.check_id("product_id", None), "product_id", ID_RULE, None, id="id-none",
    ),
]


@pytest.mark.parametrize(("build", "field", "allowed", "value"), BAD_INPUTS)
def test_bad_input_is_rejected_naming_the_field_and_what_is_allowed(
    build: Callable[[], object], field: str, allowed: tuple[str, ...], value: Any
) -> None:
    with pytest.raises(ev.ValidationError) as info:
        build()
    exc = info.value
    message = str(exc)
    assert isinstance(exc, ValueError)
    assert field in message
    assert repr(value) in message
    for word in allowed:
        assert word in message, f"{word!r} missing from {message!r}"


def test_there_are_at_least_forty_bad_input_cases() -> None:
    assert len(BAD_INPUTS) + len(BAD_URLS) * len(URL_FIELDS) >= 40
    assert len(BAD_INPUTS) >= 40


def test_check_id_accepts_a_plain_id() -> None:
    assert models.check_id("product_id", "665f1c2ab3e4d5f6a7b8c9d0") == "665f1c2ab3e4d5f6a7b8c9d0"
    assert models.check_id("vto_id", "vto_id") == "vto_id"


def test_validation_error_keeps_field_value_and_rule_as_attributes() -> None:
    with pytest.raises(ev.ValidationError) as info:
        _try_on(height=251)
    assert info.value.field == "height"
    assert info.value.value == 251
    assert "250" in info.value.allowed


def test_requests_are_immutable() -> None:
    request = _reference_generate_request()
    with pytest.raises(AttributeError):
        request.region = "eu"  # type: ignore[misc]


# ---------------------------------------------------------------- 3. aspect-ratio warnings


def test_non_recommended_generate_ratio_warns_but_is_sent_as_given() -> None:
    with pytest.warns(ev.EcomVizWarning, match="2:1") as record:
        spec = ev.ImageSpec("main", count=2, aspect_ratio="2:1")
    assert spec.aspect_ratio == "2:1"
    assert spec.to_wire() == {"main": 2, "aspectRatio": "2:1"}
    assert record[0].filename == __file__
    request = ev.GenerateRequest([spec])
    assert request.to_wire()["imageType"] == [{"main": 2, "aspectRatio": "2:1"}]


def test_non_recommended_ratio_in_a_wire_body_warns_and_is_kept() -> None:
    with pytest.warns(ev.EcomVizWarning):
        request = ev.GenerateRequest.from_wire({"imageType": [{"detail": 1, "aspectRatio": "3:2"}]})
    assert request.to_wire()["imageType"] == [{"detail": 1, "aspectRatio": "3:2"}]


def test_non_recommended_vto_ratio_warns() -> None:
    with pytest.warns(ev.EcomVizWarning):
        spec = ev.ImageSpec("vto", colors=["red"], aspect_ratio="21:9")
    assert spec.to_wire() == {"vto": ["red"], "aspectRatio": "21:9"}


@pytest.mark.parametrize("ratio", ["1:1", "4:3", "3:4", "16:9", "9:16"])
@pytest.mark.parametrize("image_type", ["main", "detail", "facebook"])
def test_recommended_ratio_emits_no_warning(image_type: str, ratio: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = ev.ImageSpec(image_type, count=1, aspect_ratio=ratio)
    assert spec.aspect_ratio == ratio


def test_reference_requests_emit_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _reference_generate_request()
        _reference_try_on_request()
        ev.GenerateRequest.from_wire(_load(REF_GENERATE_REQUEST))
        ev.TryOnRequest.from_wire(_load(REF_TRY_ON_REQUEST))


@pytest.mark.parametrize("ratio", VTO_RATIOS)
def test_every_try_on_ratio_of_the_reference_is_accepted(ratio: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _try_on(aspect_ratio=ratio).to_wire()["aspectRatio"] == ratio


@pytest.mark.parametrize(
    ("height", "weight"), [(50, 10), (250, 300), (170.5, 60.2)], ids=["low", "high", "float"]
)
def test_height_and_weight_bounds_are_inclusive(height: float, weight: float) -> None:
    wire = _try_on(height=height, weight=weight).to_wire()
    assert wire["height"] == height
    assert wire["weight"] == weight


# ---------------------------------------------------------------- 4. defaults


def test_image_spec_defaults_to_one_square_image() -> None:
    spec = ev.ImageSpec("main")
    assert spec.count == 1
    assert spec.aspect_ratio == "1:1"
    assert spec.to_wire() == {"main": 1, "aspectRatio": "1:1"}


def test_vto_spec_has_no_count_and_no_ratio_by_default() -> None:
    spec = ev.ImageSpec("vto", colors=["red", "blue"])
    assert spec.count is None
    assert spec.aspect_ratio is None
    assert spec.colors == ("red", "blue")
    assert spec.to_wire() == {"vto": ["red", "blue"]}


def test_generate_request_defaults_match_the_reference_values() -> None:
    wire = ev.GenerateRequest([ev.ImageSpec("facebook")]).to_wire()
    assert wire == {
        "imageType": [{"facebook": 1, "aspectRatio": "1:1"}],
        "region": "global",
        "platform": "general",
        "removeBrandLogo": False,
        "changePortrait": False,
        "language": "org_text",
    }
    assert "webhook" not in wire


def test_generate_request_accepts_wire_entries_as_image_types() -> None:
    request = ev.GenerateRequest([{"main": 2, "aspectRatio": "4:3"}, {"vto": ["red"]}])
    assert request.image_types == (
        ev.ImageSpec("main", count=2, aspect_ratio="4:3"),
        ev.ImageSpec("vto", colors=["red"]),
    )


def test_try_on_defaults_ratio_2_3_watermark_on_and_leaves_out_unset_fields() -> None:
    request = _try_on()
    assert request.aspect_ratio == "2:3"
    assert request.watermark is True
    wire = request.to_wire()
    assert wire == {
        "personImageUrl": PERSON,
        "clothingImageUrls": [{"url": GARMENT}],
        "aspectRatio": "2:3",
        "watermark": True,
    }
    assert "height" not in wire
    assert "weight" not in wire
    assert "webhook" not in wire


def test_try_on_from_wire_with_only_required_fields_uses_defaults() -> None:
    request = ev.TryOnRequest.from_wire(_GOOD_TRY_ON_WIRE)
    assert request.aspect_ratio == "2:3"
    assert request.watermark is True
    assert request.height is None
    assert request.weight is None


def test_watermark_false_is_sent() -> None:
    assert _try_on(watermark=False).to_wire()["watermark"] is False


def test_clothing_without_info_has_no_info_key() -> None:
    assert ev.Clothing(GARMENT).to_wire() == {"url": GARMENT}
    assert ev.Clothing(GARMENT, info="price US9.9").to_wire() == {
        "url": GARMENT,
        "info": "price US9.9",
    }


def test_clothing_given_as_plain_urls_is_wrapped() -> None:
    other = "https://example.com/clothing2.jpg"
    request = _try_on(clothing=[GARMENT, other])
    assert request.clothing == (ev.Clothing(GARMENT), ev.Clothing(other))
    assert all(isinstance(item, ev.Clothing) for item in request.clothing)
    assert request.to_wire()["clothingImageUrls"] == [{"url": GARMENT}, {"url": other}]


def test_expected_images_is_sum_of_counts_plus_vto_colours() -> None:
    assert _reference_generate_request().expected_images == 3 + 2 + 2
    request = ev.GenerateRequest(
        [ev.ImageSpec("facebook", count=4), ev.ImageSpec("vto", colors=["a", "b", "c"])]
    )
    assert request.expected_images == 7
    assert ev.GenerateRequest([ev.ImageSpec("main")]).expected_images == 1


def test_try_on_expects_one_image() -> None:
    assert _reference_try_on_request().expected_images == 1
    assert _try_on(clothing=[GARMENT, "https://example.com/c2.jpg"]).expected_images == 1


def test_webhook_without_token_sends_only_the_url() -> None:
    assert ev.Webhook(HOOK).to_wire() == {"url": HOOK}


# ---------------------------------------------------------------- 5. secrets in repr

SECRET = "s3cr3t-webhook-token-value"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda hook: hook, id="webhook"),
        pytest.param(lambda hook: _generate(webhook=hook), id="generate"),
        pytest.param(lambda hook: _try_on(webhook=hook), id="try-on"),
    ],
)
def test_webhook_token_is_hidden_from_repr(make: Callable[[ev.Webhook], object]) -> None:
    obj = make(ev.Webhook(HOOK, token=SECRET))
    text = repr(obj)
    assert SECRET not in text
    assert "***" in text
    assert HOOK in text
    assert SECRET not in str(obj)


def test_webhook_token_is_still_sent_on_the_wire() -> None:
    assert _generate(webhook=ev.Webhook(HOOK, token=SECRET)).to_wire()["webhook"] == {
        "url": HOOK,
        "token": SECRET,
    }


def test_webhook_repr_without_token_shows_none() -> None:
    text = repr(ev.Webhook(HOOK))
    assert "***" not in text
    assert "None" in text


# ---------------------------------------------------------------- 6. reading responses


REF_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_product_reads_reference_create_response() -> None:
    data = _load(REF_CREATE_PRODUCT_RESPONSE)["data"]
    product = ev.Product.from_wire(data, base_url=BASE_URL)
    assert product.id == "product_id"
    assert product.name == "Product Name"
    assert product.colors == ["black", "white", "red"]
    assert product.ai_analysis == {}
    assert product.generated_images == []
    assert isinstance(product.created_at, datetime)
    assert product.created_at.tzinfo is not None
    assert product.created_at.utcoffset() == timedelta(0)
    assert product.created_at == REF_TIME
    assert product.raw == data


def test_product_reads_reference_get_response_with_its_images() -> None:
    data = _load(REF_GET_PRODUCT_RESPONSE)["data"]
    product = ev.Product.from_wire(data, base_url=BASE_URL)
    assert product.id == "product_id"
    assert product.name == "Product Name"
    assert product.colors == ["black", "white", "red"]
    assert product.created_at is None
    assert len(product.generated_images) == 1
    image = product.generated_images[0]
    assert isinstance(image, ev.GeneratedImage)
    assert image.file_path == "path/to/image.jpg"
    assert image.url == "https://ecomviz.cloud/path/to/image.jpg"
    assert image.image_type == "main"
    assert image.platform == "general"
    assert image.region == "global"
    assert image.color == "red"
    assert image.params == {
        "platform": "general",
        "region": "global",
        "imageType": "main",
        "color": "red",
    }
    assert image.generated_at == REF_TIME
    assert image.generated_at is not None and image.generated_at.tzinfo is not None
    assert image.raw == data["generatedImages"][0]


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://ecomviz.cloud", "https://ecomviz.cloud/path/to/image.jpg"),
        ("https://ecomviz.cloud/", "https://ecomviz.cloud/path/to/image.jpg"),
        ("https://example.com/ecomviz", "https://example.com/ecomviz/path/to/image.jpg"),
        ("https://example.com/ecomviz/", "https://example.com/ecomviz/path/to/image.jpg"),
        ("http://127.0.0.1:8765/a/b", "http://127.0.0.1:8765/a/b/path/to/image.jpg"),
    ],
    ids=["root", "root-slash", "prefix", "prefix-slash", "local-deep-prefix"],
)
def test_relative_file_path_is_resolved_against_the_base_url(base_url: str, expected: str) -> None:
    image = ev.GeneratedImage.from_wire({"filePath": "path/to/image.jpg"}, base_url=base_url)
    assert image.url == expected
    assert image.file_path == "path/to/image.jpg"


@pytest.mark.parametrize(
    "path",
    ["https://cdn.example.com/gen/1.jpg", "http://example.com/x.png?sig=abc"],
    ids=["https", "http-query"],
)
def test_absolute_file_path_is_kept(path: str) -> None:
    image = ev.GeneratedImage.from_wire({"filePath": path}, base_url=BASE_URL)
    assert image.url == path
    assert image.file_path == path


def test_leading_slash_file_path_resolves_to_the_host() -> None:
    image = ev.GeneratedImage.from_wire({"filePath": "/path/to/image.jpg"}, base_url=BASE_URL)
    assert image.url == "https://ecomviz.cloud/path/to/image.jpg"
    assert image.file_path == "/path/to/image.jpg"


def test_generated_image_given_as_a_bare_string() -> None:
    image = ev.GeneratedImage.from_wire("path/to/image.jpg", base_url=BASE_URL)
    assert image.url == "https://ecomviz.cloud/path/to/image.jpg"
    assert image.file_path == "path/to/image.jpg"
    assert image.image_type is None


def test_unknown_fields_are_tolerated_and_kept_in_raw() -> None:
    data = _load(REF_GET_PRODUCT_RESPONSE)["data"]
    data["brandNewField"] = {"nested": [1, 2]}
    data["generatedImages"][0]["thumbnail"] = "thumb.jpg"
    data["generatedImages"][0]["generationParams"]["seed"] = 42
    product = ev.Product.from_wire(data, base_url=BASE_URL)
    assert product.raw["brandNewField"] == {"nested": [1, 2]}
    image = product.generated_images[0]
    assert image.raw["thumbnail"] == "thumb.jpg"
    assert image.params["seed"] == 42
    assert image.image_type == "main"

    vto = _load(REF_GET_TRY_ON_RESPONSE)["data"]
    vto["progress"] = 0.5
    result = ev.TryOnResult.from_wire(vto, base_url=BASE_URL)
    assert result.raw["progress"] == 0.5
    assert result.is_completed


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"_id": "p1"}, id="only-id"),
        pytest.param({"_id": "p1", "colors": "red"}, id="colors-string"),
        pytest.param({"_id": "p1", "colors": None}, id="colors-null"),
        pytest.param({"_id": "p1", "generatedImages": None}, id="images-null"),
        pytest.param({"_id": "p1", "generatedImages": "nope"}, id="images-string"),
        pytest.param({"_id": "p1", "createdAt": "yesterday"}, id="created-garbage"),
        pytest.param({"_id": "p1", "createdAt": 1704067200000}, id="created-number"),
        pytest.param({"_id": "p1", "aiAnalysis": "n/a"}, id="analysis-string"),
        pytest.param({"_id": "p1", "productName": None}, id="name-null"),
    ],
)
def test_product_with_missing_or_odd_optionals_does_not_crash(data: dict[str, Any]) -> None:
    product = ev.Product.from_wire(data, base_url=BASE_URL)
    assert product.id == "p1"
    assert product.name is None
    assert product.colors == []
    assert product.ai_analysis == {}
    assert product.generated_images == []
    assert product.created_at is None
    assert product.raw == data


def test_product_colors_keep_only_strings() -> None:
    data = {"_id": "p", "colors": ["red", 3, None, "blue"]}
    product = ev.Product.from_wire(data, base_url=BASE_URL)
    assert product.colors == ["red", "blue"]


@pytest.mark.parametrize("data", [None, [], "oops", 42], ids=["none", "list", "string", "int"])
def test_product_from_non_object_gives_an_empty_product(data: Any) -> None:
    product = ev.Product.from_wire(data, base_url=BASE_URL)
    assert product.id == ""
    assert product.generated_images == []


def test_image_entry_without_params_has_no_type() -> None:
    image = ev.GeneratedImage.from_wire(
        {"filePath": "a.jpg", "generatedAt": "not a date"}, base_url=BASE_URL
    )
    assert image.url == "https://ecomviz.cloud/a.jpg"
    assert image.generated_at is None
    assert image.image_type is None
    assert image.platform is None
    assert image.region is None
    assert image.color is None
    assert image.params == {}


def test_reader_survives_a_malformed_file_path() -> None:
    data = {
        "_id": "p1",
        "generatedImages": [{"filePath": "http://[broken/x.jpg"}, {"filePath": "ok.jpg"}],
    }
    product = ev.Product.from_wire(data, base_url=BASE_URL)
    assert [image.file_path for image in product.generated_images] == [
        "http://[broken/x.jpg",
        "ok.jpg",
    ]
    assert product.generated_images[1].url == "https://ecomviz.cloud/ok.jpg"
    result = ev.TryOnResult.from_wire(
        {"_id": "v1", "status": "completed", "personImage": "http://[broken/p.jpg"},
        base_url=BASE_URL,
    )
    assert result.is_completed


def test_try_on_result_reads_reference_get_response() -> None:
    data = _load(REF_GET_TRY_ON_RESPONSE)["data"]
    result = ev.TryOnResult.from_wire(data, base_url=BASE_URL)
    assert result.id == "vto_id"
    assert result.status == "completed"
    assert result.is_completed
    assert not result.is_failed
    assert result.person_image == PERSON
    assert result.clothing_images == [GARMENT]
    assert [image.url for image in result.images] == ["https://example.com/generated1.jpg"]
    assert result.images[0].image_type == "tryon"
    assert result.created_at == REF_TIME
    assert result.updated_at == REF_TIME + timedelta(minutes=5)
    assert result.updated_at is not None and result.updated_at.tzinfo is not None
    assert result.raw == data


def test_try_on_result_reads_the_webhook_payload() -> None:
    payload = {
        "vtoId": "vto_id",
        "status": "completed",
        "generatedImages": [{"filePath": "https://example.com/generated1.jpg"}],
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": "2024-01-01T00:05:00.000Z",
    }
    result = ev.TryOnResult.from_wire(payload, base_url=BASE_URL)
    assert result.id == "vto_id"
    assert result.is_completed
    assert result.person_image is None
    assert result.clothing_images == []
    assert len(result.images) == 1


@pytest.mark.parametrize(
    ("status", "completed", "failed"),
    [
        ("completed", True, False),
        ("COMPLETED", True, False),
        ("failed", False, True),
        ("error", False, True),
        ("canceled", False, True),
        ("cancelled", False, True),
        ("queued", False, False),
        ("processing", False, False),
    ],
)
def test_try_on_status_flags(status: str, completed: bool, failed: bool) -> None:
    result = ev.TryOnResult.from_wire({"_id": "v", "status": status}, base_url=BASE_URL)
    assert result.status == status
    assert result.is_completed is completed
    assert result.is_failed is failed


@pytest.mark.parametrize(
    "data",
    [{"_id": "v"}, {"_id": "v", "status": None}, {"_id": "v", "status": ""}, {"status": 3}],
    ids=["missing", "null", "empty", "not-a-string"],
)
def test_try_on_without_status_is_unknown_and_not_terminal(data: dict[str, Any]) -> None:
    result = ev.TryOnResult.from_wire(data, base_url=BASE_URL)
    assert result.status == "unknown"
    assert not result.is_completed
    assert not result.is_failed
    assert result.images == []


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        (PERSON, PERSON),
        ({"filePath": PERSON}, PERSON),
        ("uploads/person.jpg", "https://ecomviz.cloud/uploads/person.jpg"),
        ({"filePath": "uploads/person.jpg"}, "https://ecomviz.cloud/uploads/person.jpg"),
        ({}, None),
        (None, None),
        ("", None),
    ],
    ids=["string", "object", "relative-string", "relative-object", "empty-object", "null", "blank"],
)
def test_try_on_person_image_as_string_or_object(person: Any, expected: str | None) -> None:
    result = ev.TryOnResult.from_wire(
        {"_id": "v", "status": "completed", "personImage": person}, base_url=BASE_URL
    )
    assert result.person_image == expected


@pytest.mark.parametrize(
    "clothing",
    [
        pytest.param([GARMENT, "uploads/c2.jpg"], id="strings"),
        pytest.param([{"filePath": GARMENT}, {"filePath": "uploads/c2.jpg"}], id="objects"),
        pytest.param([GARMENT, {"filePath": "uploads/c2.jpg"}, {}, None, ""], id="mixed"),
    ],
)
def test_try_on_clothing_images_as_strings_or_objects(clothing: list[Any]) -> None:
    result = ev.TryOnResult.from_wire(
        {"_id": "v", "status": "completed", "clothingImages": clothing}, base_url=BASE_URL
    )
    assert result.clothing_images == [GARMENT, "https://ecomviz.cloud/uploads/c2.jpg"]


def test_try_on_result_with_odd_shapes_does_not_crash() -> None:
    result = ev.TryOnResult.from_wire(
        {"_id": "v", "clothingImages": "x", "generatedImages": {"a": 1}, "createdAt": "?"},
        base_url=BASE_URL,
    )
    assert result.clothing_images == []
    assert result.images == []
    assert result.created_at is None
    empty = ev.TryOnResult.from_wire(None, base_url=BASE_URL)
    assert empty.id == ""
    assert empty.status == "unknown"


# ---------------------------------------------------------------- 7. short reprs, job kinds


def test_product_repr_is_short_and_names_id_name_and_image_count() -> None:
    product = ev.Product.from_wire(
        {
            "_id": "prod_123",
            "productName": "Shirt",
            "generatedImages": [{"filePath": f"gen/{i}.jpg?sig=abc"} for i in range(3)],
            "aiAnalysis": {"summary": "x" * 5000},
        },
        base_url=BASE_URL,
    )
    assert repr(product) == "<Product prod_123 'Shirt' 3 images>"
    assert repr(ev.Product(id="p1")) == "<Product p1 (no name) 0 images>"


def test_image_and_try_on_reprs_leave_out_urls_and_payloads() -> None:
    image = ev.GeneratedImage.from_wire(
        {
            "filePath": "uploads/prod/main-1.jpg?X-Signature=s3cr3t",
            "generationParams": {"imageType": "main", "color": "red", "platform": "amazon"},
        },
        base_url=BASE_URL,
    )
    assert repr(image) == "<GeneratedImage main red amazon main-1.jpg>"
    result = ev.TryOnResult.from_wire(
        {"_id": "vto_9", "status": "processing", "generatedImages": ["a.jpg"]}, base_url=BASE_URL
    )
    assert repr(result) == "<TryOnResult vto_9 processing 1 image>"
    for text in (repr(image), repr(result)):
        assert "s3cr3t" not in text and BASE_URL not in text


def test_reprs_quote_server_strings_so_control_codes_stay_text() -> None:
    product = ev.Product.from_wire(
        {"_id": "id with space", "productName": "<script>x</script>\x1b[2J\nfake line"},
        base_url=BASE_URL,
    )
    text = repr(product)
    assert "\x1b" not in text and "\n" not in text
    assert text.startswith("<Product 'id with space' '<script>x</script>\\x1b[2J\\nfake line'")
    long_name = ev.Product(id="p", name="n" * 500)
    assert len(repr(long_name)) < 80


def test_custom_reprs_keep_dataclass_equality() -> None:
    def make(name: str) -> ev.Product:
        return ev.Product.from_wire(
            {"_id": "p", "productName": name, "generatedImages": ["a.jpg"]}, base_url=BASE_URL
        )

    assert make("Mug") == make("Mug")
    assert make("Mug") != make("Cup")  # repr() of both starts alike; equality still compares all
    assert ev.GeneratedImage("u", "f", color="red") != ev.GeneratedImage("u", "f", color="blue")
    assert ev.TryOnResult("v", "completed") == ev.TryOnResult("v", "completed")


def test_job_kinds_are_the_ledgers_and_the_sandboxs() -> None:
    assert models.JOB_KINDS == ("generate", "tryon")
    assert typing.get_args(models.JobKind) == models.JOB_KINDS
    assert all(models.is_job_kind(kind) for kind in models.JOB_KINDS)
    assert not any(models.is_job_kind(k) for k in ("generation", "try-on", "Generate", None, 1))


# The names `from ecomviz_nb.models import X` reached before the module was split in three.
MODELS_NAMES = (
    "GENERATE_IMAGE_TYPES",
    "HEIGHT_RANGE_CM",
    "IMAGE_TYPES",
    "JOB_KINDS",
    "RECOMMENDED_ASPECT_RATIOS",
    "TERMINAL_FAILED_STATUSES",
    "VTO_ASPECT_RATIOS",
    "WEIGHT_RANGE_KG",
    "Clothing",
    "CreateProductRequest",
    "GenerateRequest",
    "GeneratedImage",
    "ImageSpec",
    "JobKind",
    "Product",
    "TryOnRequest",
    "TryOnResult",
    "Webhook",
    "check_id",
    "check_webhook_reachable",
    "is_job_kind",
    "parse_time",
    "resolve_url",
)


def test_the_models_import_path_still_reaches_every_name_it_did() -> None:
    missing = [name for name in MODELS_NAMES if not hasattr(models, name)]
    assert not missing
    assert sorted(models.__all__) == sorted(set(MODELS_NAMES) - {"parse_time", "resolve_url"})


def test_models_and_the_wire_modules_share_one_object_per_name() -> None:
    assert models.GenerateRequest is wire_requests.GenerateRequest is ev.GenerateRequest
    assert models.Webhook is wire_rules.Webhook is ev.Webhook
    assert models.Product is wire_results.Product is ev.Product
    assert models.resolve_url is wire_results.resolve_url
    assert models.check_webhook_reachable is wire_rules.check_webhook_reachable
    assert models.VTO_ASPECT_RATIOS is wire_rules.VTO_ASPECT_RATIOS
