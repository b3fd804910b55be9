"""What counts as a local server, ``client.is_sandbox``, and ``sample_images``: the sandbox's
pictures, or your own for the real API, by one name."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

import ecomviz_nb as ev
from ecomviz_nb import config
from ecomviz_nb.samples import SAMPLE_NAMES, SampleImages, sample_images
from ecomviz_nb.sandbox import samples as sandbox_samples

REAL = "https://ecomviz.cloud"
LOCAL = "http://127.0.0.1:8787"
TSHIRT = "products/tshirt-red.jpg"
PERSON = "people/person-a.jpg"


# ---------------------------------------------------------------- config.is_local_server


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost",
        "http://LOCALHOST.:8787/api",
        "http://shop.localhost:3000",
        "http://127.0.0.1:8787",
        "http://127.45.6.7",
        "http://127.1",  # the short and numeric forms resolvers accept for 127.0.0.1
        "http://2130706433",
        "http://0x7f.0.0.1",
        "http://[::1]:8787",
        "http://[::ffff:127.0.0.1]:8787",
        "http://0.0.0.0:8787",
        "http://[::]:8787",
        "https://user:pw@localhost/x?y=1",
    ],
)
def test_loopback_and_localhost_are_local(url: str) -> None:
    assert config.is_local_server(url) is True


@pytest.mark.parametrize(
    "url",
    [
        REAL,
        "http://10.0.0.5:8787",  # a LAN machine may be the real API behind a gateway
        "http://192.168.1.20",
        "http://172.16.0.1",
        "http://169.254.169.254",
        "http://sandbox:8787",  # a one-word name: another container, not this machine
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://128.0.0.1",
        "http://[fe80::1%25eth0]",
        "http://[2001:db8::1]",
    ],
)
def test_other_hosts_are_not_local(url: str) -> None:
    assert config.is_local_server(url) is False


@pytest.mark.parametrize("bad", [None, 8787, "", "localhost:8787", "/samples/a.jpg", "http://[::1"])
def test_is_local_server_names_the_field_for_a_non_url(bad: object) -> None:
    with pytest.raises(ev.ValidationError) as caught:
        config.is_local_server(bad)  # type: ignore[arg-type]
    assert caught.value.field == "url"
    assert caught.value.value == bad
    assert "URL with a host" in caught.value.allowed


# ---------------------------------------------------------------- client.is_sandbox


@pytest.mark.parametrize(("base_url", "expected"), [(LOCAL, True), (REAL, False)])
def test_client_is_sandbox_reads_the_base_url(base_url: str, expected: bool) -> None:
    with ev.Client("tok-123456", base_url=base_url) as client:
        assert client.is_sandbox is expected
    aclient = ev.AsyncClient("tok-123456", base_url=base_url)
    assert aclient.is_sandbox is expected


def test_a_running_sandbox_client_is_a_sandbox(sandbox: ev.Sandbox) -> None:
    with sandbox.client() as client:
        assert client.is_sandbox


# ---------------------------------------------------------------- sample_images


def test_names_match_what_the_sandbox_serves() -> None:
    assert SAMPLE_NAMES == sandbox_samples.SAMPLE_NAMES


def test_importing_samples_loads_no_server_stack() -> None:
    code = (
        "import sys, ecomviz_nb.samples; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'ecomviz_nb.sandbox') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_on_a_sandbox_names_are_its_samples() -> None:
    samples = sample_images(LOCAL + "/", mine={TSHIRT: "https://example.com/shirt.jpg"})
    assert samples.sandbox
    assert samples.url(TSHIRT) == f"{LOCAL}/samples/{TSHIRT}"  # the sample, not the placeholder
    assert samples.path(PERSON) == f"/samples/{PERSON}"
    assert list(samples) == list(SAMPLE_NAMES)
    assert LOCAL + samples.path(PERSON) == samples.url(PERSON)  # as a panel joins them


def test_on_a_sandbox_own_names_work_too() -> None:
    samples = sample_images(LOCAL, mine={"my-shirt": "https://cdn.shop.com/s.jpg"})
    assert samples.url("my-shirt") == "https://cdn.shop.com/s.jpg"
    assert samples.path("my-shirt") == samples.url("my-shirt")
    assert "my-shirt" in samples and len(samples) == len(SAMPLE_NAMES) + 1


def test_an_unknown_name_on_a_sandbox_lists_the_samples() -> None:
    with pytest.raises(ev.ValidationError) as caught:
        sample_images(LOCAL).url("products/tshirt-blue.jpg")
    assert caught.value.field == "name"
    assert caught.value.value == "products/tshirt-blue.jpg"
    assert TSHIRT in caught.value.allowed and "mine" in caught.value.allowed


def test_against_the_real_api_names_come_from_mine() -> None:
    own = "https://cdn.shop.com/img/shirt.jpg?sig=abc"
    samples = sample_images(REAL, mine={TSHIRT: f"  {own} "})
    assert not samples.sandbox
    assert samples.url(TSHIRT) == own
    assert samples.path(TSHIRT) == own
    assert list(samples) == [TSHIRT]


def test_against_the_real_api_a_missing_name_says_to_fill_in_mine() -> None:
    with pytest.raises(ev.ValidationError) as caught:
        sample_images(REAL, mine={}).url(PERSON)
    assert caught.value.field == f"mine[{PERSON!r}]"
    assert "mine={" in caught.value.allowed


@pytest.mark.parametrize(
    "url",
    ["https://example.com/your-product.jpg", "http://img.example.org/a.png", "https://x.invalid/a"],
)
def test_against_the_real_api_a_placeholder_is_refused_when_used(url: str) -> None:
    samples = sample_images(REAL, mine={TSHIRT: url})  # fine until used
    assert "still placeholders: " + TSHIRT in str(samples)
    with pytest.raises(ev.ValidationError) as caught:
        samples.url(TSHIRT)
    assert (caught.value.field, caught.value.value) == (f"mine[{TSHIRT!r}]", url)
    assert "placeholder" in caught.value.allowed


def test_against_the_real_api_a_local_picture_is_refused() -> None:
    samples = sample_images(REAL, mine={TSHIRT: "http://127.0.0.1:8000/shirt.jpg"})
    with pytest.raises(ev.ValidationError, match="can download"):
        samples.path(TSHIRT)


@pytest.mark.parametrize(
    ("mine", "field"),
    [
        (["https://cdn.shop.com/a.jpg"], "mine"),
        ({"": "https://cdn.shop.com/a.jpg"}, "mine"),
        ({3: "https://cdn.shop.com/a.jpg"}, "mine"),
        ({TSHIRT: "cdn.shop.com/a.jpg"}, f"mine[{TSHIRT!r}]"),
        ({TSHIRT: "ftp://cdn.shop.com/a.jpg"}, f"mine[{TSHIRT!r}]"),
        ({TSHIRT: None}, f"mine[{TSHIRT!r}]"),
        ({TSHIRT: "https://[::1/a.jpg"}, f"mine[{TSHIRT!r}]"),
    ],
)
def test_a_bad_mine_is_refused_at_once(mine: object, field: str) -> None:
    with pytest.raises(ev.ValidationError) as caught:
        sample_images(REAL, mine=mine)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_sandbox_can_be_forced_for_a_sandbox_on_another_host() -> None:
    lan = "http://192.168.1.20:8787"
    assert not sample_images(lan).sandbox
    forced = sample_images(lan, sandbox=True)
    assert forced.url(TSHIRT) == f"{lan}/samples/{TSHIRT}"
    assert not sample_images(LOCAL, sandbox=False).sandbox
    with pytest.raises(ev.ValidationError) as caught:
        sample_images(lan, sandbox="yes")  # type: ignore[arg-type]
    assert caught.value.field == "sandbox"


def test_a_client_without_a_base_url_is_refused() -> None:
    with pytest.raises(ev.ValidationError) as caught:
        sample_images(object())  # type: ignore[arg-type]
    assert caught.value.field == "client"


def test_what_it_prints_names_no_address_and_no_url() -> None:
    secret_url = "https://cdn.shop.com/a.jpg?sig=s3cr3t"
    for samples in (
        sample_images(LOCAL, mine={"mine": secret_url}),
        sample_images(REAL, mine={TSHIRT: secret_url}),
    ):
        for text in (str(samples), repr(samples)):
            assert "127.0.0.1" not in text and "s3cr3t" not in text
    assert str(sample_images(LOCAL)).startswith("sample images from the sandbox")
    assert str(sample_images(REAL)).startswith("sample images from mine")
    assert isinstance(sample_images(REAL), SampleImages)


def test_every_sample_url_is_a_picture_the_sandbox_serves(sandbox: ev.Sandbox) -> None:
    with sandbox.client() as client:
        samples = sample_images(client)
        assert samples.sandbox
        with httpx.Client(trust_env=False) as http:
            for name in samples:
                response = http.get(samples.url(name))
                assert response.status_code == 200, name
                assert response.headers["content-type"].startswith("image/")
        product = client.create_product([samples.url(TSHIRT)])
        assert product.id
